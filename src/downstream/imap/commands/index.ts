/** Every command the server knows, by name (one module per command). */
import type { Command } from '../command.js';
import append from './append.js';
import authenticate from './authenticate.js';
import capability from './capability.js';
import check from './check.js';
import close from './close.js';
import copy from './copy.js';
import create from './create.js';
import deleteCommand from './delete.js';
import enable from './enable.js';
import examine from './examine.js';
import expunge from './expunge.js';
import fetch from './fetch.js';
import id from './id.js';
import idle from './idle.js';
import list from './list.js';
import login from './login.js';
import logout from './logout.js';
import lsub from './lsub.js';
import move from './move.js';
import namespace from './namespace.js';
import noop from './noop.js';
import rename from './rename.js';
import search from './search.js';
import select from './select.js';
import starttls from './starttls.js';
import status from './status.js';
import store from './store.js';
import subscribe from './subscribe.js';
import { UID_COMMANDS } from './uid.js';
import unselect from './unselect.js';
import unsubscribe from './unsubscribe.js';

const ALL: Array<Command<unknown>> = [
  append,
  authenticate,
  capability,
  check,
  close,
  copy,
  create,
  deleteCommand,
  enable,
  examine,
  expunge,
  fetch,
  id,
  idle,
  list,
  login,
  logout,
  lsub,
  move,
  namespace,
  noop,
  rename,
  search,
  select,
  starttls,
  status,
  store,
  subscribe,
  unselect,
  unsubscribe,
];

const BY_NAME = new Map(ALL.map((command) => [command.name, command]));

/** The command module for a name (upper case); with `uid`, only the commands that have a UID form. */
export function findCommand(name: string, uid: boolean): Command<unknown> | undefined {
  const command = BY_NAME.get(name);
  if (!command) return undefined;
  if (uid && !(command.uidVariant && (UID_COMMANDS as readonly string[]).includes(name))) return undefined;
  return command;
}
