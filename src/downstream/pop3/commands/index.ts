/** The POP3 commands by keyword (RFC 1939 §7, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH). */
import type { Pop3Command } from '../command.js';
import { CAPA } from './capa.js';
import { APOP, AUTH, PASS, USER } from './login.js';
import { QUIT } from './quit.js';
import { STLS } from './stls.js';
import { DELE, LIST, NOOP, RETR, RSET, STAT, TOP, UIDL } from './transaction.js';

const COMMANDS: Record<string, Pop3Command> = { APOP, AUTH, CAPA, DELE, LIST, NOOP, PASS, QUIT, RETR, RSET, STAT, STLS, TOP, UIDL, USER };

export function findCommand(keyword: string): Pop3Command | undefined {
  return Object.hasOwn(COMMANDS, keyword) ? COMMANDS[keyword] : undefined;
}
