/**
 * LIST (RFC 3501 §6.3.8) with the extended forms of LIST-EXTENDED (RFC 5258): selection options
 * (SUBSCRIBED, SPECIAL-USE, RECURSIVEMATCH, REMOTE), several patterns, and return options (SUBSCRIBED,
 * CHILDREN, SPECIAL-USE, STATUS from LIST-STATUS, RFC 5819). Attributes: \Noselect for names that
 * exist only as parents, \HasChildren/\HasNoChildren (RFC 3348), the special-use attribute (RFC 6154).
 *
 *   C: A101 LIST "" ""
 *   S: * LIST (\Noselect) "/" ""
 *   S: A101 OK LIST completed
 *   C: A102 LIST "" "*"
 *   S: * LIST (\HasNoChildren) "/" "INBOX"
 *   S: * LIST (\HasNoChildren \Sent) "/" "Sent"
 *   S: A102 OK LIST completed
 *   C: A103 LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))
 */
import type { MailboxRecord } from '../../../store/index.js';
import { AUTHENTICATED, defineCommand, type CommandContext } from '../command.js';
import { ImapError } from '../errors.js';
import { ancestorsOf, DELIMITER, isUndecodable, listMatcher, quoteMailbox } from '../mailbox-names.js';
import type { ArgReader } from '../wire/args.js';
import { parseStatusItems, statusLine, type StatusItem } from './status.js';

interface ListArgs {
  reference: string;
  patterns: string[];
  select: { subscribed: boolean; specialUse: boolean; recursiveMatch: boolean };
  returns: { subscribed: boolean; children: boolean; specialUse: boolean; status?: StatusItem[] };
  extended: boolean;
}

function parseList(args: ArgReader): ListArgs {
  const select = { subscribed: false, specialUse: false, recursiveMatch: false };
  const returns: ListArgs['returns'] = { subscribed: false, children: true, specialUse: true };
  let extended = false;
  args.space();
  if (args.peek() === 0x28) {
    extended = true;
    for (const option of args.list(() => args.atom('a selection option').toUpperCase(), 'selection options')) {
      if (option === 'SUBSCRIBED') select.subscribed = true;
      else if (option === 'SPECIAL-USE') select.specialUse = true;
      else if (option === 'RECURSIVEMATCH') select.recursiveMatch = true;
      else if (option !== 'REMOTE') throw ImapError.bad(`Unknown LIST selection option ${option}`);
    }
    // RFC 5258 §3: RECURSIVEMATCH alone is an error.
    if (select.recursiveMatch && !select.subscribed && !select.specialUse)
      throw ImapError.bad('RECURSIVEMATCH needs another selection option');
    args.space();
  }
  const reference = args.mailbox();
  args.space();
  const patterns = args.peek() === 0x28 ? args.list(() => args.listPattern(), 'a list of patterns') : [args.listPattern()];
  if (args.acceptSpace()) {
    extended = true;
    if (!args.acceptWord('RETURN')) throw ImapError.bad('Expected RETURN options');
    args.space();
    args.list(() => {
      const option = args.atom('a return option').toUpperCase();
      if (option === 'SUBSCRIBED') returns.subscribed = true;
      else if (option === 'CHILDREN') returns.children = true;
      else if (option === 'SPECIAL-USE') returns.specialUse = true;
      else if (option === 'STATUS') {
        args.space();
        returns.status = parseStatusItems(args);
      } else throw ImapError.bad(`Unknown LIST return option ${option}`);
    }, 'return options');
  }
  args.end();
  if (select.subscribed) returns.subscribed = true;
  return { reference, patterns, select, returns, extended };
}

/** A name LIST can show: a real mailbox, or a parent that only exists because of its children. */
interface Entry {
  name: string;
  record?: MailboxRecord;
}

function sortNames(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Answers LIST: the matching names with their attributes (and STATUS lines for LIST-STATUS). */
export async function runList(ctx: CommandContext, args: ListArgs): Promise<void> {
  const account = ctx.session.requireAccount();
  const { store } = ctx.server;
  if (args.patterns.length === 1 && args.patterns[0] === '' && !args.extended) {
    // An empty pattern asks for the delimiter and the root of the reference (RFC 3501 §6.3.8).
    const reference = isUndecodable(args.reference) ? '' : args.reference;
    const cut = reference.indexOf(DELIMITER);
    const root = cut < 0 ? reference : reference.slice(0, cut + 1);
    ctx.out.untagged(`LIST (\\Noselect) "${DELIMITER}" ${quoteMailbox(root)}`);
    return;
  }
  const records = store.listMailboxes(account);
  const subscribed = new Set(args.returns.subscribed || args.select.subscribed ? await store.listSubscriptions(account) : []);
  const entries = new Map<string, Entry>();
  for (const record of records) entries.set(record.name, { name: record.name, record });
  for (const record of records) {
    for (const ancestor of ancestorsOf(record.name)) if (!entries.has(ancestor)) entries.set(ancestor, { name: ancestor });
  }
  if (args.select.subscribed) {
    for (const name of subscribed) if (!entries.has(name)) entries.set(name, { name });
  }
  const names = [...entries.keys()].sort(sortNames);
  const parents = new Set<string>();
  for (const name of names) {
    if (ctx.slice.due()) await ctx.slice.yield();
    for (const ancestor of ancestorsOf(name)) parents.add(ancestor);
  }
  const hasChildren = (name: string) => parents.has(name);
  const matchers = args.patterns.filter((pattern) => pattern !== '').map((pattern) => listMatcher(args.reference, pattern));
  const selected = (entry: Entry): boolean => {
    if (args.select.subscribed && !subscribed.has(entry.name)) return false;
    if (args.select.specialUse && !entry.record?.specialUse) return false;
    return true;
  };
  const matched = new Set<string>();
  for (const name of names) {
    if (ctx.slice.due()) await ctx.slice.yield();
    if (matchers.some((match) => match(name))) matched.add(name);
  }
  // RECURSIVEMATCH (RFC 5258 §3.5): a name that meets the selection criteria but matches no pattern is
  // announced through its nearest ancestor that does match, which is listed with CHILDINFO whether or not
  // it meets the criteria itself. A descendant the patterns match is listed on its own and gives none
  // (as Dovecot answers imaptest's listext group).
  const childInfo = new Set<string>();
  if (args.select.recursiveMatch) {
    for (const name of names) {
      if (ctx.slice.due()) await ctx.slice.yield();
      if (matched.has(name) || !selected(entries.get(name)!)) continue;
      const ancestors = ancestorsOf(name);
      for (let i = ancestors.length - 1; i >= 0; i--) {
        if (!matched.has(ancestors[i])) continue;
        childInfo.add(ancestors[i]);
        break;
      }
    }
  }
  for (const name of names) {
    if (!matched.has(name)) continue;
    if (ctx.out.shouldPause(ctx.slice)) await ctx.out.pause(ctx.slice);
    const entry = entries.get(name)!;
    if (!selected(entry) && !childInfo.has(name)) continue;
    const attributes: string[] = [];
    if (!entry.record)
      attributes.push(args.select.subscribed && subscribed.has(name) && !hasChildren(name) ? '\\NonExistent' : '\\Noselect');
    if (args.returns.children) attributes.push(hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren');
    if (args.returns.subscribed && subscribed.has(name)) attributes.push('\\Subscribed');
    if (args.returns.specialUse && entry.record?.specialUse) attributes.push(entry.record.specialUse);
    const extra = childInfo.has(name) ? ` ("CHILDINFO" ("${args.select.subscribed ? 'SUBSCRIBED' : 'SPECIAL-USE'}"))` : '';
    ctx.out.untagged(`LIST (${attributes.join(' ')}) "${DELIMITER}" ${quoteMailbox(name)}${extra}`);
    if (args.returns.status && entry.record) ctx.out.untagged(await statusLine(ctx.server, entry.record, args.returns.status));
  }
}

export default defineCommand({
  name: 'LIST',
  states: AUTHENTICATED,
  parse: parseList,
  run: runList,
});
