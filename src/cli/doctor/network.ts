/**
 * Reaching a provider's server, one step at a time, so that the doctor can say which step fails: the name
 * (DNS), the port (TCP), then TLS with the certificate verified as the daemon verifies it (Node's roots plus
 * `ca_file`; never without verification). For STARTTLS ports the plain-text preamble is spoken first:
 * POP3 `STLS` (RFC 2595 §4) or SMTP `EHLO` + `STARTTLS` (RFC 3207 §4).
 */
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import type { TlsMode } from '../../config/presets.js';

export type Protocol = 'pop3' | 'smtp';

export class ProbeError extends Error {
  constructor(
    readonly step: 'dns' | 'tcp' | 'starttls' | 'tls' | 'greeting',
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

export async function resolveHost(host: string): Promise<string[]> {
  try {
    const found = await dns.promises.lookup(host, { all: true });
    return found.map((entry) => entry.address);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ProbeError(
      'dns',
      code === 'ENOTFOUND' ? `${host} is not a known host name` : `cannot look up ${host} (${code ?? 'error'})`,
      code,
    );
  }
}

export function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProbeError('tcp', `no answer from ${host}:${port} within ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const what =
        err.code === 'ECONNREFUSED'
          ? `nothing answers on ${host}:${port} (connection refused)`
          : err.code === 'ENETUNREACH' || err.code === 'EHOSTUNREACH'
            ? `${host} cannot be reached from this network (${err.code})`
            : `cannot connect to ${host}:${port} (${err.code ?? err.message})`;
      reject(new ProbeError('tcp', what, err.code));
    });
  });
}

/** Lines from a plain socket until `detach()`, for the few lines spoken before TLS. */
class LineReader {
  private buffer = '';
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private ended: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString('latin1');
    this.deliver();
  };
  private readonly onEnd = () => {
    this.ended = new ProbeError('greeting', 'the server closed the connection');
    this.deliver();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private deliver(): void {
    if (!this.waiting) return;
    const end = this.buffer.indexOf('\n');
    if (end >= 0) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve(line);
    } else if (this.ended) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(this.ended);
    }
  }

  line(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new ProbeError('greeting', `the server said nothing for ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT'));
      }, timeoutMs);
      this.waiting = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.deliver();
    });
  }

  /** An SMTP reply (RFC 5321 §4.2.1): lines `250-...` up to the last `250 ...`. */
  async smtpReply(timeoutMs: number): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      lines.push(line);
      const match = /^(\d{3})([ -]?)/.exec(line);
      if (!match) throw new ProbeError('greeting', `not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`);
      if (match[2] !== '-') return { code: Number(match[1]), lines };
    }
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
  }
}

/** An RFC 5322 date in a greeting (Exchange's SMTP banner ends with one); used for the clock check. */
export function dateInText(text: string): Date | undefined {
  const match =
    /\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|GMT|UT|UTC))/i.exec(
      text,
    );
  if (!match) return undefined;
  const date = new Date(match[1]);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export interface TlsProbe {
  protocol: string;
  /** The certificate's subject CN (or first SAN) and its issuer, for the report line. */
  subject: string;
  issuer: string;
  validTo: Date;
  /** A date the server stated in its greeting, and when we read it. */
  serverDate?: { date: Date; at: number };
}

export interface ProbeOptions {
  host: string;
  port: number;
  tls: TlsMode;
  protocol: Protocol;
  /** Extra trusted CA (PEM), added to Node's roots as the daemon does. */
  ca?: Buffer;
  timeoutMs: number;
}

function ehloName(socket: net.Socket): string {
  // RFC 5321 §4.1.4: without a host name, an address literal.
  const local = socket.localAddress ?? '127.0.0.1';
  return net.isIPv6(local) ? `[IPv6:${local}]` : `[${local}]`;
}

async function startTlsPreamble(reader: LineReader, socket: net.Socket, target: ProbeOptions): Promise<Date | undefined> {
  if (target.protocol === 'pop3') {
    const greeting = await reader.line(target.timeoutMs);
    if (!greeting.startsWith('+OK')) throw new ProbeError('greeting', `the server did not greet like POP3: ${greeting.slice(0, 100)}`);
    socket.write('STLS\r\n');
    const reply = await reader.line(target.timeoutMs);
    if (!reply.startsWith('+OK')) throw new ProbeError('starttls', `the POP3 server refused STLS: ${reply.slice(0, 100)}`);
    return dateInText(greeting);
  }
  const greeting = await reader.smtpReply(target.timeoutMs);
  if (greeting.code !== 220)
    throw new ProbeError('greeting', `the SMTP server did not greet with 220: ${greeting.lines.join(' ').slice(0, 120)}`);
  socket.write(`EHLO ${ehloName(socket)}\r\n`);
  const ehlo = await reader.smtpReply(target.timeoutMs);
  if (ehlo.code !== 250) throw new ProbeError('greeting', `the SMTP server refused EHLO: ${ehlo.lines.join(' ').slice(0, 120)}`);
  if (!ehlo.lines.some((line) => /^250[ -]STARTTLS\b/i.test(line)))
    throw new ProbeError('starttls', 'the SMTP server does not offer STARTTLS');
  socket.write('STARTTLS\r\n');
  const reply = await reader.smtpReply(target.timeoutMs);
  if (reply.code !== 220) throw new ProbeError('starttls', `the SMTP server refused STARTTLS: ${reply.lines.join(' ').slice(0, 120)}`);
  return dateInText(greeting.lines.join(' '));
}

function handshake(socket: net.Socket, target: ProbeOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = { socket, rejectUnauthorized: true, minVersion: 'TLSv1.2', host: target.host };
    // RFC 6066 §3: SNI carries names only; the certificate is checked against `host` either way.
    if (net.isIP(target.host) === 0) options.servername = target.host;
    if (target.ca) options.ca = [...tls.rootCertificates, target.ca];
    const secure = tls.connect(options);
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new ProbeError('tls', `the TLS handshake did not finish within ${Math.round(target.timeoutMs / 1000)} s`, 'ETIMEDOUT'));
    }, target.timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeAllListeners('error');
      secure.on('error', () => undefined);
      resolve(secure);
    });
    secure.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ProbeError('tls', err.message, err.code));
    });
  });
}

function describeName(fields: Record<string, unknown> | undefined): string {
  if (!fields) return 'unknown';
  const cn = fields.CN ?? fields.O;
  return Array.isArray(cn) ? String(cn[0]) : typeof cn === 'string' ? cn : 'unknown';
}

/**
 * Connects, speaks the STARTTLS preamble when needed, completes the TLS handshake with verification, reads
 * the greeting that follows implicit TLS, and says QUIT. Resolves with what the report shows; rejects
 * with a ProbeError naming the step that failed. `onConnected` is told as soon as TCP is up.
 */
export async function probeServer(
  target: ProbeOptions,
  onConnected: (socket: net.Socket) => void = () => undefined,
): Promise<TlsProbe | undefined> {
  const socket = await connectTcp(target.host, target.port, target.timeoutMs);
  onConnected(socket);
  let secure: tls.TLSSocket | undefined;
  try {
    if (target.tls === 'none') return undefined;
    let serverDate: TlsProbe['serverDate'];
    if (target.tls === 'starttls') {
      const reader = new LineReader(socket);
      try {
        const date = await startTlsPreamble(reader, socket, target);
        if (date) serverDate = { date, at: Date.now() };
      } finally {
        reader.detach();
      }
    }
    secure = await handshake(socket, target);
    const certificate = secure.getPeerCertificate();
    const probe: TlsProbe = {
      protocol: secure.getProtocol() ?? 'TLS',
      subject: describeName(certificate.subject as unknown as Record<string, unknown>),
      issuer: describeName(certificate.issuer as unknown as Record<string, unknown>),
      validTo: new Date(certificate.valid_to),
    };
    if (target.tls === 'implicit') {
      const reader = new LineReader(secure);
      try {
        const greeting =
          target.protocol === 'pop3' ? await reader.line(target.timeoutMs) : (await reader.smtpReply(target.timeoutMs)).lines.join(' ');
        const expected = target.protocol === 'pop3' ? greeting.startsWith('+OK') : greeting.startsWith('220');
        if (!expected)
          throw new ProbeError('greeting', `the server did not greet like ${target.protocol.toUpperCase()}: ${greeting.slice(0, 100)}`);
        const date = dateInText(greeting);
        if (date) serverDate = { date, at: Date.now() };
      } finally {
        reader.detach();
      }
    }
    if (serverDate) probe.serverDate = serverDate;
    secure.write('QUIT\r\n');
    return probe;
  } finally {
    (secure ?? socket).end();
    setTimeout(() => (secure ?? socket).destroy(), 200).unref();
  }
}

/** Certificate errors of OpenSSL/Node that mean "not signed by a CA we trust". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

export type TlsFailureKind = 'untrusted' | 'wrong-name' | 'expired' | 'not-yet-valid' | 'not-tls' | 'other';

export function classifyTlsError(code: string | undefined, message: string): TlsFailureKind {
  if (code && UNTRUSTED.has(code)) return 'untrusted';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'wrong-name';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  // A TLS client talking to a plain-text port reads "+OK ..." or "220 ..." as a broken TLS record.
  if (/wrong version number|packet length too long|unknown protocol|record layer failure/i.test(message)) return 'not-tls';
  return 'other';
}
