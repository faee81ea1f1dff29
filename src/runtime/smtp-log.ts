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
export function smtpLibraryLogger(
  logger: Logger,
  side: 'server' | 'client',
  secrets: () => Array<string | undefined> = () => [],
): LibraryLogger | undefined {
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
  const command = (id: string, line: string): void => {
    const verb = line.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
    if (/^[A-Z]{4,10}$/.test(verb)) logger.debug({ connection: id }, `SMTP ${side === 'server' ? 'client' : 'provider'} command ${verb}`);
  };
  const log: LibraryLog = (meta, message = '', ...args) => {
    const text = format(message, ...args);
    const id = String(meta.cid ?? 'connection');
    const trace = traceFor(id);
    // nodemailer marks its lines by `tnx`: client (what we send), server (what the provider says), message (the data).
    if (meta.tnx === 'message') {
      if (typeof meta.outByteCount === 'number') trace.data('C', meta.outByteCount);
      return;
    }
    if (meta.tnx === 'client') {
      trace.client(text);
      command(id, text);
      return;
    }
    if (meta.tnx === 'server') {
      trace.server(text);
      return;
    }
    // smtp-server writes "C: …" for its client's lines, "S: …" for its own.
    const protocolLine = /^(C|S):\s?([\s\S]*)$/.exec(text);
    if (protocolLine) {
      if (protocolLine[1] === 'S') trace.server(protocolLine[2]);
      else if (meta.tnx === 'data') trace.data('C', Number(meta.bytes ?? 0));
      else {
        trace.client(protocolLine[2]);
        command(id, protocolLine[2]);
      }
      return;
    }
    if (meta.tnx === 'close' || /closed/i.test(text)) traces.delete(id);
    const said = text.replace(/\s+/g, ' ').trim();
    logger.debug({ connection: id }, /^SMTP\b/i.test(said) ? said : `SMTP ${said}`);
  };
  return { trace: log, debug: log, info: log, warn: log, error: log, fatal: log };
}
