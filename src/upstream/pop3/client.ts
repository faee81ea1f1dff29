/**
 * Our POP3 client (RFC 1939, with CAPA and PIPELINING from RFC 2449, STLS from RFC 2595, AUTH from RFC 5034).
 * Messages come back as Buffers holding exactly the bytes the server stored; every failure is a Pop3Error.
 *
 * Wire sketch of a session against Outlook.com:
 *   S: +OK The Microsoft Exchange POP3 service is ready.
 *   C: CAPA            S: +OK ... SASL PLAIN XOAUTH2 ... .
 *   C: AUTH XOAUTH2    S: +
 *   C: dXNlcj1...      S: +OK User successfully authenticated.
 *   C: UIDL            S: +OK ... .
 *   C: RETR 1          S: +OK ... .
 *   C: QUIT            S: +OK Microsoft Exchange Server POP3 server signing off.
 */
import type { Logger } from '../../runtime/logger.js';
import { Pop3Connection, type RequestOptions, type ResponseSink } from './connection.js';
import { Pop3Error, errorFromServerReply } from './errors.js';
import { commandLine, messageNumber } from './command-line.js';
import { CollectingSink, streamAnswers, type StreamContext, type StreamedMessage } from './message-stream.js';

export type { StreamedMessage } from './message-stream.js';
import type { Pop3Response, ResponseShape } from './reader.js';
import { DEFAULTS } from '../../config/defaults.js';
import { isLoopbackHost } from '../../config/loopback.js';

export { isLoopbackHost } from '../../config/loopback.js';
import { decodeXoauth2Challenge, plainInitialResponse, xoauth2InitialResponse } from './sasl.js';

export type Pop3Tls = 'implicit' | 'starttls' | 'none';

export interface Pop3ClientOptions {
  host: string;
  port: number;
  /** `none` is refused unless `host` is a loopback address: credentials never cross a network in the clear. */
  tls: Pop3Tls;
  /** An extra trusted CA certificate (PEM); Node's default roots stay trusted. Verification cannot be turned off. */
  ca?: Buffer | string;
  /** Deadline per command (and for connect and handshakes), while answers make progress. Default: the config's (60 s). */
  timeoutMs?: number;
  /**
   * Largest message RETR or TOP reads; past it the connection is cut and the command fails with code
   * `TOO-LARGE` (an endless answer is never read to its end). Default: the config's (100 MiB).
   */
  maxMessageBytes?: number;
  /** Most RETR commands outstanding at once in {@link Pop3Client.retrMany} when the server pipelines. Default 8. */
  pipelineWindow?: number;
  /** debug: a line per command; trace: the dialogue with secrets replaced (see runtime/protocol-trace.ts). */
  logger?: Logger;
}

export const DEFAULT_TIMEOUT_MS = DEFAULTS.upstreamTimeoutMs;
export const DEFAULT_MAX_MESSAGE_BYTES = DEFAULTS.pop3MaxMessageBytes;
export const DEFAULT_PIPELINE_WINDOW = 8;
/** Scan listings (LIST, UIDL, CAPA) are small: about 30 bytes per message, so this allows a million messages. */
const MAX_LISTING_BYTES = 64 * 1024 * 1024;

/** RFC 2449 §5: one capability per line, a tag and its space-separated arguments. */
function parseCapabilities(body: Buffer): Map<string, string[]> {
  const capabilities = new Map<string, string[]>();
  for (const line of body.toString('utf8').split(/\r?\n/)) {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((word) => word.length > 0);
    if (words.length === 0) continue;
    capabilities.set(words[0].toUpperCase(), words.slice(1));
  }
  return capabilities;
}

/** Scan listings (RFC 1939 §5 LIST, §7 UIDL): `msg value` per line. */
function parseListing(body: Buffer, command: string): Array<[number, string]> {
  const entries: Array<[number, string]> = [];
  for (const line of body.toString('latin1').split(/\r?\n/)) {
    if (line.trim().length === 0) continue;
    const match = /^\s*(\d+)\s+(\S+)/.exec(line);
    if (!match) throw new Pop3Error('protocol', `unexpected line in the ${command} listing: ${JSON.stringify(line)}`);
    entries.push([Number(match[1]), match[2]]);
  }
  return entries;
}

function nonNegativeInteger(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new Pop3Error('protocol', `the POP3 server sent a ${what} that is not a number`);
  return Number(text);
}

type SessionState = 'authorization' | 'transaction' | 'closed';

/** A POP3 session with one server. Create it with {@link Pop3Client.connect}. */
export class Pop3Client {
  private state: SessionState = 'authorization';
  private caps: Map<string, string[]>;

  private constructor(
    private readonly connection: Pop3Connection,
    capabilities: Map<string, string[]>,
    private readonly maxMessageBytes: number,
    private readonly pipelineWindow: number,
  ) {
    this.caps = capabilities;
  }

  /**
   * Connects, reads the greeting, asks CAPA and, for `starttls`, upgrades with STLS and asks CAPA again
   * (RFC 2595 §4: what the server said before TLS cannot be trusted). Resolves in the AUTHORIZATION state.
   */
  static async connect(options: Pop3ClientOptions): Promise<Pop3Client> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new Pop3Error('io', `not a TCP port: ${options.port}`);
    }
    if (!(timeoutMs > 0)) throw new Pop3Error('io', `timeoutMs must be positive, not ${timeoutMs}`);
    if (options.tls === 'none' && !isLoopbackHost(options.host)) {
      throw new Pop3Error(
        'tls',
        `tls = "none" is only allowed for a loopback host (127.0.0.1, ::1, localhost), not ${options.host}: ` +
          'use "implicit" (port 995) or "starttls" (port 110)',
      );
    }
    const connection = await Pop3Connection.open({
      host: options.host.replace(/^\[(.*)\]$/, '$1'), // "[::1]" as written in configs -> "::1" for node:net
      port: options.port,
      implicitTls: options.tls === 'implicit',
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      timeoutMs,
    });
    try {
      const greeting = await connection.request('the greeting', null, 'single');
      if (greeting.status !== 'ok') throw errorFromServerReply('the connection', greeting.text, 'command');
      let capabilities = await readCapabilities(connection);
      if (options.tls === 'starttls') {
        // Without STLS in CAPA the server may still know it (CAPA is optional); a refusal ends the attempt.
        if (capabilities.size > 0 && !capabilities.has('STLS')) {
          throw new Pop3Error('tls', 'the POP3 server does not offer STLS; refusing to log in without TLS');
        }
        const reply = await connection.request('STLS', commandLine('STLS'), 'single');
        if (reply.status !== 'ok') {
          const refused = errorFromServerReply('STLS', reply.text, 'command');
          throw new Pop3Error('tls', `the POP3 server refused STLS: ${reply.text}`, {
            temporary: refused.temporary,
            serverText: reply.text,
          });
        }
        await connection.upgradeToTls();
        capabilities = await readCapabilities(connection);
      }
      return new Pop3Client(
        connection,
        capabilities,
        options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        options.pipelineWindow ?? DEFAULT_PIPELINE_WINDOW,
      );
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** The server's CAPA answer (RFC 2449 §5): tag (upper case) -> arguments. Refreshed after login. */
  get capabilities(): ReadonlyMap<string, string[]> {
    return this.caps;
  }

  /** Whether the connection is still usable (no QUIT, close, timeout or drop yet). */
  get isOpen(): boolean {
    return this.state !== 'closed' && this.connection.isOpen;
  }

  /** Whether commands may be pipelined (RFC 2449 §6.6). */
  get pipelining(): boolean {
    return this.caps.has('PIPELINING');
  }

  /** Logs in with AUTH PLAIN when the server offers SASL PLAIN (RFC 5034), else USER/PASS (RFC 1939 §7). */
  async loginPassword(user: string, password: string): Promise<void> {
    this.requireState('authorization', 'log in');
    if (/[\r\n\0]/.test(user)) throw new Pop3Error('auth', 'the user name contains CR, LF or NUL');
    if (this.saslMechanisms().includes('PLAIN')) {
      await this.saslExchange('AUTH PLAIN', plainInitialResponse(user, password));
    } else {
      if (/[\r\n\0]/.test(password)) {
        throw new Pop3Error('auth', 'the password contains CR, LF or NUL, which USER/PASS cannot carry');
      }
      await this.authStep('USER', commandLine(`USER ${user}`));
      await this.authStep('PASS', Buffer.from(`PASS ${password}\r\n`, 'utf8'));
    }
    await this.enterTransaction();
  }

  /**
   * Logs in with XOAUTH2 in Microsoft's two-step form: `AUTH XOAUTH2`, wait for `+`, then the payload (one line
   * with the payload fails at Microsoft). A `+ <base64 JSON>` reply is an error challenge (RFC 7628 §3.2.2):
   * we answer with an empty line and the server ends the exchange with `-ERR`.
   */
  async loginXoauth2(user: string, accessToken: string): Promise<void> {
    this.requireState('authorization', 'log in');
    await this.saslExchange('AUTH XOAUTH2', xoauth2InitialResponse(user, accessToken));
    await this.enterTransaction();
  }

  /** RFC 1939 §5 STAT: message count and total size in octets (messages marked deleted not counted). */
  async stat(): Promise<{ count: number; size: number }> {
    this.requireState('transaction', 'STAT');
    const reply = await this.command('STAT', 'STAT', 'single');
    const match = /^(\d+)\s+(\d+)/.exec(reply.text);
    if (!match) throw new Pop3Error('protocol', `unexpected STAT answer: ${JSON.stringify(reply.text)}`);
    return { count: Number(match[1]), size: Number(match[2]) };
  }

  /** RFC 1939 §5 LIST: every message's number and size in octets. */
  async list(): Promise<Array<{ msg: number; size: number }>> {
    this.requireState('transaction', 'LIST');
    const reply = await this.command('LIST', 'LIST', 'multi', { limit: MAX_LISTING_BYTES });
    return parseListing(reply.body ?? Buffer.alloc(0), 'LIST').map(([msg, size]) => ({
      msg,
      size: nonNegativeInteger(size, 'LIST size'),
    }));
  }

  /** RFC 1939 §7 UIDL: every message's number and unique id (stable across sessions). */
  async uidl(): Promise<Array<{ msg: number; uidl: string }>> {
    this.requireState('transaction', 'UIDL');
    const reply = await this.command('UIDL', 'UIDL', 'multi', { limit: MAX_LISTING_BYTES });
    return parseListing(reply.body ?? Buffer.alloc(0), 'UIDL').map(([msg, uidl]) => ({ msg, uidl }));
  }

  /** RFC 1939 §5 RETR: the message exactly as the server holds it (CRLF line ends, dot-stuffing undone). */
  async retr(msg: number): Promise<Buffer> {
    let raw: Buffer = Buffer.alloc(0);
    await this.retrMany([msg], (_, bytes) => {
      raw = bytes;
    });
    return raw;
  }

  /** {@link retrStream} with each message collected into one Buffer (for small messages and tests). */
  async retrMany(msgs: number[], onMessage: (msg: number, raw: Buffer) => Promise<void> | void): Promise<void> {
    // Sinks are asked for and answers come in the same order (a number may be asked for twice).
    const sinks: CollectingSink[] = [];
    await this.retrStream(
      msgs,
      () => {
        const sink = new CollectingSink();
        sinks.push(sink);
        return sink;
      },
      async ({ msg }) => onMessage(msg, sinks.shift()!.bytes()),
    );
  }

  /**
   * RETR for many messages, each streamed into the sink `sinkFor(msg)` gives (asked for just before its RETR is
   * sent), and `onMessage` called in the order asked, one at a time, once a message is complete: its end was
   * followed by a status line (see RequestOptions.verifyEnd). With `uidlOf`, each RETR is followed by
   * `UIDL n` (RFC 1939 §7), whose answer must name that message's UIDL: message content can look like a status
   * line, so a server that does not dot-stuff could otherwise cut a message at a lone "." and have its rest
   * taken for the next answer; a UIDL the content cannot know closes that door. Without it, a NOOP after the
   * last RETR gives the status line. With PIPELINING up to `pipelineWindow` commands are outstanding, so the
   * next messages stream in while `onMessage` stores the current one; without it, the next command goes out
   * when the previous answer ended. The first failure (of a RETR or of `onMessage`) rejects; the caller drops
   * the sinks of messages it did not get.
   */
  async retrStream(
    msgs: number[],
    sinkFor: (msg: number) => ResponseSink,
    onMessage: (message: StreamedMessage) => Promise<void> | void,
    uidlOf?: (msg: number) => string | undefined,
  ): Promise<void> {
    this.requireState('transaction', 'RETR');
    await streamAnswers(
      this.streamContext(),
      'RETR',
      msgs.map((msg) => [msg, `RETR ${messageNumber(msg)}`]),
      sinkFor,
      onMessage,
      uidlOf,
    );
  }

  /**
   * Whether the server answers `UIDL n` (RFC 1939 §7 with an argument) as it should: "+OK n uidl" for this
   * message. Ask before retrStream's `uidlOf`: on a server that refuses the argument form every RETR would
   * seem cut short.
   */
  async answersUidlOf(msg: number, uidl: string): Promise<boolean> {
    this.requireState('transaction', 'UIDL');
    const reply = await this.connection.request('UIDL', commandLine(`UIDL ${messageNumber(msg)}`), 'single');
    const words = reply.text.trim().split(/\s+/);
    return reply.status === 'ok' && words[0] === String(msg) && words[1] === uidl;
  }

  /** RFC 1939 §7 TOP: the header, the blank line, and the first `lines` lines of the body. */
  async top(msg: number, lines: number): Promise<Buffer> {
    let raw: Buffer = Buffer.alloc(0);
    await this.topMany([msg], lines, (_, bytes) => {
      raw = bytes;
    });
    return raw;
  }

  /** TOP for many messages, pipelined like {@link retrStream}, each answer collected into a Buffer. */
  async topMany(msgs: number[], lines: number, onMessage: (msg: number, raw: Buffer) => Promise<void> | void): Promise<void> {
    if (!Number.isSafeInteger(lines) || lines < 0) throw new Pop3Error('protocol', `not a line count: ${lines}`);
    this.requireState('transaction', 'TOP');
    const sinks: CollectingSink[] = [];
    await streamAnswers(
      this.streamContext(),
      'TOP',
      msgs.map((msg) => [msg, `TOP ${messageNumber(msg)} ${lines}`]),
      () => {
        const sink = new CollectingSink();
        sinks.push(sink);
        return sink;
      },
      async ({ msg }) => onMessage(msg, sinks.shift()!.bytes()),
    );
  }

  /** RFC 1939 §5 DELE: marks the message; it is removed only when QUIT enters the UPDATE state (§6). */
  async dele(msg: number): Promise<void> {
    this.requireState('transaction', 'DELE');
    await this.command('DELE', `DELE ${messageNumber(msg)}`, 'single');
  }

  /** RFC 1939 §5 RSET: unmarks every message marked by DELE in this session. */
  async rset(): Promise<void> {
    this.requireState('transaction', 'RSET');
    await this.command('RSET', 'RSET', 'single');
  }

  /** RFC 1939 §5 NOOP. */
  async noop(): Promise<void> {
    this.requireState('transaction', 'NOOP');
    await this.command('NOOP', 'NOOP', 'single');
  }

  /**
   * RFC 1939 §6 QUIT: in the TRANSACTION state the server enters UPDATE and removes the messages marked by
   * DELE; a `-ERR` there means some were not removed. The connection is closed either way.
   */
  async quit(): Promise<void> {
    if (this.state === 'closed') throw new Pop3Error('io', 'the POP3 session is already closed', { temporary: true });
    try {
      const reply = await this.connection.request('QUIT', commandLine('QUIT'), 'single');
      if (reply.status !== 'ok') throw errorFromServerReply('QUIT', reply.text, 'command');
    } finally {
      this.state = 'closed';
      this.connection.end();
    }
  }

  /**
   * Drops the connection without QUIT: the server stays out of UPDATE, so DELE marks of this session are
   * forgotten (RFC 1939 §6). Commands still waiting are rejected with kind `io`.
   */
  close(): void {
    this.state = 'closed';
    this.connection.close();
  }

  private requireState(state: SessionState, action: string): void {
    if (this.state === state && this.connection.isOpen) return;
    if (this.state === 'closed' || !this.connection.isOpen) {
      throw new Pop3Error('io', `cannot ${action}: the POP3 session is closed`, { temporary: true });
    }
    const need = state === 'transaction' ? 'after login' : 'before login';
    throw new Pop3Error('protocol', `cannot ${action} in the POP3 ${this.state} state: only ${need}`);
  }

  private saslMechanisms(): string[] {
    return (this.caps.get('SASL') ?? []).map((mechanism) => mechanism.toUpperCase());
  }

  /**
   * RFC 5034 §4 in two steps: `AUTH MECH`, the server's empty `+`, then the base64 initial response. A second
   * `+` is a challenge we cannot satisfy (for XOAUTH2 an error report): answer with an empty line, which the
   * server must refuse, and report the failure whatever it says.
   */
  private async saslExchange(command: string, initialResponse: string): Promise<void> {
    const first = await this.connection.request(command, commandLine(command), 'single');
    if (first.status === 'err') throw errorFromServerReply(command, first.text, 'auth');
    if (first.status === 'ok') {
      this.close();
      throw new Pop3Error('protocol', `the POP3 server answered ${command} with +OK before any credentials`);
    }
    const reply = await this.connection.request(`${command} (credentials)`, Buffer.from(`${initialResponse}\r\n`, 'ascii'), 'single');
    if (reply.status === 'ok') return;
    if (reply.status === 'err') throw errorFromServerReply(command, reply.text, 'auth');
    const challenge = decodeXoauth2Challenge(reply.text);
    const final = await this.connection.request(`${command} (error challenge)`, Buffer.from('\r\n'), 'single');
    if (final.status === 'err') {
      const refused = errorFromServerReply(command, final.text, 'auth');
      const serverText = challenge.length > 0 ? `${final.text} ${challenge}` : final.text;
      throw new Pop3Error(refused.kind, `${refused.message}${challenge ? ` (${challenge})` : ''}`, {
        temporary: refused.temporary,
        serverText,
        ...(refused.code !== undefined ? { code: refused.code } : {}),
      });
    }
    // A server that accepts after reporting an error, or challenges again, is not to be trusted with the session.
    this.close();
    const detail = challenge.length > 0 ? `: ${challenge}` : '';
    throw new Pop3Error('auth', `the POP3 server sent an error challenge for ${command}${detail}`, {
      serverText: challenge,
    });
  }

  /** One step of USER/PASS: `+OK` or an authentication error. */
  private async authStep(label: string, line: Buffer): Promise<void> {
    const reply = await this.connection.request(label, line, 'single');
    if (reply.status !== 'ok') throw errorFromServerReply(label, reply.text, 'auth');
  }

  /** RFC 2449 §5: capabilities may change after login (per-user EXPIRE, LOGIN-DELAY), so ask again. */
  private async enterTransaction(): Promise<void> {
    this.state = 'transaction';
    const refreshed = await readCapabilities(this.connection);
    if (refreshed.size > 0) this.caps = refreshed;
    // RFC 2449 §6.6: only a server that advertises PIPELINING may get commands before earlier answers.
    this.connection.setWindow(this.pipelining ? this.pipelineWindow : 1);
  }

  private streamContext(): StreamContext {
    return {
      connection: this.connection,
      window: this.pipelining ? this.pipelineWindow : 1,
      limit: this.maxMessageBytes,
      command: (label, line, options) => this.command(label, line, 'multi', options),
    };
  }

  /** Sends a TRANSACTION command and turns `-ERR` into a Pop3Error. */
  private async command(label: string, line: string, shape: ResponseShape, options?: RequestOptions): Promise<Pop3Response> {
    const reply = await this.connection.request(label, commandLine(line), shape, options);
    if (reply.status === 'err') throw errorFromServerReply(line, reply.text, 'command');
    if (reply.status === 'continue') {
      throw new Pop3Error('protocol', `the POP3 server answered ${label} with a continuation "+"`);
    }
    return reply;
  }
}

/** CAPA (RFC 2449 §5); an empty map when the server does not know the command. */
async function readCapabilities(connection: Pop3Connection): Promise<Map<string, string[]>> {
  const reply = await connection.request('CAPA', commandLine('CAPA'), 'multi', { limit: MAX_LISTING_BYTES });
  if (reply.status !== 'ok' || reply.body === undefined) return new Map();
  return parseCapabilities(reply.body);
}
