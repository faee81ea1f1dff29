/**
 * `--log-level trace`: the protocol dialogue of one POP3, SMTP or IMAP connection, line by line, with every
 * secret replaced before it reaches the logger: passwords (IMAP LOGIN, POP3 PASS), SASL initial responses
 * and every client line of an AUTH/AUTHENTICATE exchange (RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.2),
 * bearer tokens anywhere, and any secret the caller names. Message bodies are never traced, only their size.
 */
import type { Logger } from './logger.js';

export type TraceProtocol = 'IMAP' | 'SMTP' | 'POP3';

const REDACTED = '[redacted]';
const MAX_LINE = 300;

/** Hides what a client line carries in secret; `authenticating` is the exchange state before this line. */
export function redactClientLine(
  protocol: TraceProtocol,
  line: string,
  authenticating: boolean,
): { text: string; authenticating: boolean } {
  if (authenticating) {
    // A SASL exchange: every client line is a credential, except the "*" that cancels it.
    return { text: line.trim() === '*' ? '*' : REDACTED, authenticating: line.trim() !== '*' };
  }
  let text = line;
  let starts = false;
  if (protocol === 'IMAP') {
    const login = /^(\S+\s+LOGIN\s+(?:"(?:[^"\\]|\\.)*"|\{\d+\+?\}|\S+))\s+.*$/i.exec(text);
    if (login) text = `${login[1]} ${REDACTED}`;
    const auth = /^(\S+\s+AUTHENTICATE\s+\S+)(\s+\S+)?\s*$/i.exec(text);
    if (auth) {
      text = auth[2] ? `${auth[1]} ${REDACTED}` : auth[1];
      starts = true;
    }
  } else {
    const pass = /^(PASS)\s+.*$/i.exec(text);
    if (pass) text = `${pass[1]} ${REDACTED}`;
    const apop = /^(APOP\s+\S+)\s+\S+/i.exec(text);
    if (apop) text = `${apop[1]} ${REDACTED}`;
    const auth = /^(AUTH\s+\S+)(\s+\S+)?\s*$/i.exec(text);
    if (auth) {
      text = auth[2] ? `${auth[1]} ${REDACTED}` : auth[1];
      starts = true;
    }
  }
  text = text.replace(/\b(Bearer)\s+\S+/gi, `$1 ${REDACTED}`);
  return { text, authenticating: starts };
}

/** Whether a server line ends a SASL exchange (anything but a continuation: "+ …" in IMAP/POP3, "334 …" in SMTP). */
function endsExchange(protocol: TraceProtocol, line: string): boolean {
  return protocol === 'SMTP' ? !/^334[ -]/.test(line) : !/^\+( |$)/.test(line);
}

/** The dialogue of one connection, at trace level; does nothing (and costs nothing) below it. */
export class ProtocolTrace {
  readonly enabled: boolean;
  private authenticating = false;

  constructor(
    private readonly logger: Logger,
    private readonly protocol: TraceProtocol,
    private readonly secrets: () => Array<string | undefined> = () => [],
  ) {
    this.enabled = logger.isLevelEnabled('trace');
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets()) if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED);
    return out.length > MAX_LINE ? `${out.slice(0, MAX_LINE)}… (${out.length} characters)` : out;
  }

  /** A line the client sent (without CRLF). */
  client(line: string): void {
    if (!this.enabled) return;
    for (const one of line.split(/\r?\n/)) {
      if (one === '') continue;
      const { text, authenticating } = redactClientLine(this.protocol, one, this.authenticating);
      this.authenticating = authenticating;
      this.logger.trace(`${this.protocol} C: ${this.scrub(text)}`);
    }
  }

  /** Literal bytes still to pass over (IMAP `{N}`: message data, traced by size only). */
  private skip = 0;
  private partial = '';

  /** Text the server sent: whole lines (POP3, SMTP), or output as it is written (IMAP). */
  server(text: string): void {
    if (!this.enabled) return;
    // POP3 and SMTP callers hand over whole lines; IMAP hands over its output as it is written.
    if (this.protocol !== 'IMAP' && !text.endsWith('\n')) text += '\n';
    this.serverBinary(Buffer.from(text, 'utf8').toString('latin1'));
  }

  /**
   * Output as a binary string (one character per byte, as the IMAP writer keeps it), in whatever pieces it
   * was written: split into lines, with the content of IMAP literals (RFC 9051 §4.3, the `{N}` at a line's
   * end) left out and counted in bytes.
   */
  serverBinary(binary: string): void {
    if (!this.enabled) return;
    let rest = this.partial + binary;
    this.partial = '';
    for (;;) {
      if (this.skip > 0) {
        if (rest.length <= this.skip) {
          this.skip -= rest.length;
          return;
        }
        rest = rest.slice(this.skip);
        this.skip = 0;
      }
      const end = rest.indexOf('\n');
      if (end < 0) {
        this.partial = rest;
        return;
      }
      const line = Buffer.from(rest.slice(0, end), 'latin1').toString('utf8').replace(/\r$/, '').trimEnd();
      rest = rest.slice(end + 1);
      if (line === '') continue;
      // A tagged IMAP answer ends an AUTHENTICATE too; "+ " only continues it.
      if (this.authenticating && endsExchange(this.protocol, line)) this.authenticating = false;
      const literal = this.protocol === 'IMAP' ? /~?\{(\d+)\}$/.exec(line) : null;
      this.logger.trace(`${this.protocol} S: ${this.scrub(line)}${literal ? ` [${literal[1]} bytes of message data follow]` : ''}`);
      if (literal) this.skip = Number(literal[1]);
    }
  }

  /** Raw bytes the server wrote (an IMAP literal's content, handed over as a Buffer). */
  serverBytes(bytes: number): void {
    if (!this.enabled) return;
    if (this.skip > 0) this.skip = Math.max(0, this.skip - bytes);
    else this.logger.trace(`${this.protocol} S: [${bytes} bytes of message data]`);
  }

  /** Bytes that are message content: only their size is traced. */
  data(direction: 'C' | 'S', bytes: number): void {
    if (this.enabled) this.logger.trace(`${this.protocol} ${direction}: [${bytes} bytes of data]`);
  }
}
