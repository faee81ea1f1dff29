/**
 * The bunyan-style logger smtp-server and nodemailer accept, feeding ours: their protocol lines ("C: …",
 * "S: …") become the trace dialogue (through ProtocolTrace, which replaces every secret; both libraries
 * already hide AUTH payloads, this does it again for the lines they do not know are secret), each client
 * command becomes one debug line, and their connection notices become debug lines too. Nothing of theirs
 * is logged above debug: what matters to a person is logged by our own code, in our words.
 */
import { format } from 'node:util';
import type { Logger } from './logger.js';
import { ProtocolTrace } from './protocol-trace.js';

type LibraryLog = (meta: Record<string, unknown>, message?: string, ...args: unknown[]) => void;

export interface LibraryLogger {
  trace: LibraryLog;
  debug: LibraryLog;
  info: LibraryLog;
  warn: LibraryLog;
  error: LibraryLog;
  fatal: LibraryLog;
}

/** A logger for smtp-server (`side` server) or nodemailer (`side` client); undefined below debug (they then log nothing). */
export function smtpLibraryLogger(logger: Logger, side: 'server' | 'client', secrets: () => Array<string | undefined> = () => []): LibraryLogger | undefined {
  if (!logger.isLevelEnabled('debug')) return undefined;
  const traces = new Map<string, ProtocolTrace>();
  const traceFor = (id: string): ProtocolTrace => {
    let trace = traces.get(id);
    if (!trace) {
      trace = new ProtocolTrace(logger, 'SMTP', secrets);
      traces.set(id, trace);
    }
    return trace;
  };
  const log: LibraryLog = (meta, message = '', ...args) => {
    const text = format(message, ...args);
    const id = String(meta.cid ?? 'connection');
    const protocolLine = /^(C|S):\s?([\s\S]*)$/.exec(text);
    if (protocolLine) {
      // smtp-server: C is the client; nodemailer: C is nodemailer itself, the client of the provider.
      const fromClient = protocolLine[1] === 'C';
      const trace = traceFor(id);
      if (fromClient) {
        trace.client(protocolLine[2]);
        const verb = protocolLine[2].trim().split(/\s+/)[0]?.toUpperCase() ?? '';
        if (/^[A-Z]{4,10}$/.test(verb)) logger.debug({ connection: id }, `SMTP ${side === 'server' ? 'client' : 'provider'} command ${verb}`);
      } else {
        trace.server(protocolLine[2]);
      }
      return;
    }
    if (meta.tnx === 'close' || /closed/i.test(text)) traces.delete(id);
    logger.debug({ connection: id }, `SMTP ${text.replace(/\s+/g, ' ').trim()}`);
  };
  return { trace: log, debug: log, info: log, warn: log, error: log, fatal: log };
}
