/**
 * The TRANSACTION state's commands (RFC 1939 §5, §7): the maildrop as it was at login, numbered from 1.
 * A message marked by DELE is gone for this session (its number answers -ERR) until RSET; nothing
 * leaves the store before QUIT (see quit.ts).
 *
 *   C: STAT         S: +OK 2 320
 *   C: LIST         S: +OK 2 messages (320 octets) / 1 120 / 2 200 / .
 *   C: UIDL 1       S: +OK 1 0000000165F3A1B2
 *   C: RETR 1       S: +OK 120 octets / (the message, dot-stuffed) / .
 *   C: TOP 1 10     S: +OK / (header, empty line, 10 body lines) / .
 *   C: DELE 1       S: +OK Message 1 deleted
 *   C: RSET         S: +OK 2 messages
 */
import { messageNumber, type Pop3Command, type Pop3CommandContext } from '../command.js';
import { Pop3Error } from '../errors.js';
import type { SessionMessage } from '../session.js';
import { topEnd, transmissionPieces } from '../wire.js';

function noSuchMessage(text: string | undefined): Pop3Error {
  return new Pop3Error(`There is no message ${String(text ?? '').slice(0, 20)}`);
}

/** The live message named by the first argument, or -ERR (out of range, not a number, deleted). */
function argMessage(ctx: Pop3CommandContext): { n: number; message: SessionMessage } {
  const text = ctx.args[0];
  const n = messageNumber(text);
  if (n === undefined)
    throw new Pop3Error(text === undefined ? 'A message number is needed' : `Not a message number: ${text.slice(0, 20)}`);
  if (ctx.session.deleted.has(n)) throw new Pop3Error(`Message ${n} is deleted`);
  const message = ctx.session.live(n);
  if (!message) throw noSuchMessage(text);
  return { n, message };
}

function liveMessages(ctx: Pop3CommandContext): Array<{ n: number; message: SessionMessage }> {
  const out: Array<{ n: number; message: SessionMessage }> = [];
  ctx.session.messages.forEach((message, i) => {
    if (!ctx.session.deleted.has(i + 1)) out.push({ n: i + 1, message });
  });
  return out;
}

function noMoreArgs(ctx: Pop3CommandContext, count: number): void {
  if (ctx.args.length > count) throw new Pop3Error('Too many arguments');
}

/** Starts reading message n (when it is live) so that its RETR finds the bytes ready. */
function prefetch(ctx: Pop3CommandContext, n: number): void {
  const message = ctx.session.live(n);
  if (!message || ctx.session.prefetched?.n === n || ctx.session.gone.has(message.uid)) return;
  const bytes = ctx.server.maildrop.read(ctx.session.mailboxId, message);
  // A prefetch nobody takes must not end as an unhandled rejection.
  bytes.catch(() => undefined);
  ctx.session.prefetched = { n, bytes };
}

/** The stored bytes, or -ERR when an IMAP client expunged the message meanwhile. */
async function messageBytes(ctx: Pop3CommandContext, n: number, message: SessionMessage): Promise<Buffer> {
  const ready = ctx.session.prefetched?.n === n ? ctx.session.prefetched.bytes : undefined;
  if (ready) ctx.session.prefetched = undefined;
  // The prefetch may predate an expunge by another session: `gone` is checked after it too.
  const raw = ctx.session.gone.has(message.uid) ? undefined : await (ready ?? ctx.server.maildrop.read(ctx.session.mailboxId, message));
  if (!raw || ctx.session.gone.has(message.uid)) throw new Pop3Error(`Message ${n} was deleted by another session meanwhile`);
  return raw;
}

export const STAT: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 0);
    const live = liveMessages(ctx);
    ctx.out.line(`+OK ${live.length} ${live.reduce((sum, { message }) => sum + message.size, 0)}`);
  },
};

export const LIST: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 1);
    if (ctx.args.length === 1) {
      const { n, message } = argMessage(ctx);
      ctx.out.line(`+OK ${n} ${message.size}`);
      prefetch(ctx, n);
      return;
    }
    const live = liveMessages(ctx);
    const octets = live.reduce((sum, { message }) => sum + message.size, 0);
    ctx.out.lines(
      `+OK ${live.length} messages (${octets} octets)`,
      live.map(({ n, message }) => `${n} ${message.size}`),
    );
  },
};

export const UIDL: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 1);
    if (ctx.args.length === 1) {
      const { n, message } = argMessage(ctx);
      ctx.out.line(`+OK ${n} ${ctx.session.uidl(message)}`);
      return;
    }
    ctx.out.lines(
      '+OK Unique-ID listing follows',
      liveMessages(ctx).map(({ n, message }) => `${n} ${ctx.session.uidl(message)}`),
    );
  },
};

export const RETR: Pop3Command = {
  states: ['transaction'],
  async run(ctx) {
    noMoreArgs(ctx, 1);
    const { n, message } = argMessage(ctx);
    const raw = await messageBytes(ctx, n, message);
    ctx.out.line(`+OK ${message.size} octets`);
    prefetch(ctx, n + 1);
    await ctx.out.pieces(transmissionPieces(raw));
  },
};

export const TOP: Pop3Command = {
  states: ['transaction'],
  async run(ctx) {
    noMoreArgs(ctx, 2);
    const { n, message } = argMessage(ctx);
    const lines = messageNumber(ctx.args[1]);
    if (lines === undefined) throw new Pop3Error('TOP needs a message number and a number of lines');
    const raw = await messageBytes(ctx, n, message);
    ctx.out.line('+OK Top of message follows');
    await ctx.out.pieces(transmissionPieces(raw, topEnd(raw, lines)));
  },
};

export const DELE: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 1);
    const { n } = argMessage(ctx);
    ctx.session.deleted.add(n);
    ctx.out.line(`+OK Message ${n} deleted`);
  },
};

export const RSET: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 0);
    ctx.session.deleted.clear();
    const live = liveMessages(ctx);
    ctx.out.line(`+OK ${live.length} messages (${live.reduce((sum, { message }) => sum + message.size, 0)} octets)`);
  },
};

export const NOOP: Pop3Command = {
  states: ['transaction'],
  run(ctx) {
    noMoreArgs(ctx, 0);
    ctx.out.line('+OK');
  },
};
