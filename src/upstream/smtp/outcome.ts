/**
 * What one relay attempt did to each recipient, read from nodemailer's answer. Per RFC 5321 §4.2.1 a
 * 5yz reply is permanent (bounce) and a 4yz reply transient (retry); recipients the provider accepted
 * are done for good and are never sent again. Errors that are not replies (connection, TLS, timeouts)
 * are transient. A refused login is neither: the message waits for working credentials.
 */
import { domainToASCII } from 'node:url';
import type { OutboxFailure } from '../../store/index.js';

export interface RelayProblem {
  /** `auth`: the provider refused our login; `temporary`: try again later. */
  kind: 'temporary' | 'auth';
  /** The provider's reply as received, or a description of what failed. */
  reply: string;
}

export interface RelayReport {
  /** Accepted by the provider in this attempt. */
  delivered: string[];
  /** Refused for good (5xx): these get a bounce. */
  failed: OutboxFailure[];
  /** Not decided this time (4xx, connection trouble): tried again later. */
  deferred: OutboxFailure[];
  /** Set when the attempt failed as a whole rather than per recipient. */
  problem?: RelayProblem;
  /** The extensions the provider named in its EHLO (upper-case keywords), when the attempt got that far. */
  providerExtensions?: string[];
}

/** The parts of nodemailer's SMTP error and per-recipient errors this module reads. */
export interface SmtpErrorLike {
  code?: string;
  message: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: SmtpErrorLike[];
}

export interface SmtpInfoLike {
  accepted?: Array<string | { address: string }>;
  rejected?: Array<string | { address: string }>;
  rejectedErrors?: SmtpErrorLike[];
  /** The provider's EHLO reply lines after the greeting line, as nodemailer keeps them. */
  ehlo?: string[];
}

const addressOf = (value: string | { address: string }): string => (typeof value === 'string' ? value : value.address);

/** `"…"` around a local part: RFC 5321 §4.1.2 Quoted-string, with backslash quoted-pairs inside. */
const QUOTED_LOCAL_PART = /^"((?:[^"\\]|\\[\s\S])*)"$/;
/** A domain literal (`@[192.0.2.1]`, RFC 5321 §4.1.3) may itself hold an `@`: it ends the address. */
const DOMAIN_LITERAL_TAIL = /@(\[[^[\]\\]*\])$/;

/**
 * One form for the two spellings of an address that name the same mailbox, so that nodemailer's answer
 * can be matched to what the client submitted. nodemailer rewrites the envelope before sending it: IDN
 * domains to their A-labels (`bücher.example` -> `xn--bcher-kva.example`), or back to U-labels when the
 * local part is not ASCII, and local parts that are not a dot-atom into a quoted-string; smtp-server in
 * turn hands us A-labels as Unicode. Domains are case-insensitive (RFC 5321 §2.4) and compared in their
 * ASCII form (RFC 5890 §2.3.2.1); the local part keeps its case, which only the receiving host may
 * interpret (RFC 5321 §2.4), and is compared by its content, with or without the quotes (§4.1.2).
 */
export function addressKey(address: string): string {
  const trimmed = address.trim();
  const literal = trimmed.endsWith(']') ? DOMAIN_LITERAL_TAIL.exec(trimmed) : null;
  const at = literal ? trimmed.length - literal[1].length - 1 : trimmed.lastIndexOf('@');
  const local = at < 0 ? trimmed : trimmed.slice(0, at);
  const quoted = QUOTED_LOCAL_PART.exec(local);
  const localKey = quoted ? quoted[1].replace(/\\([\s\S])/g, '$1') : local;
  if (at < 0) return localKey;
  const domain = trimmed.slice(at + 1);
  // domainToASCII answers '' for what is no valid domain (literals, stray characters): compare those as given.
  const domainKey = domain.startsWith('[') ? domain.toLowerCase() : domainToASCII(domain) || domain.toLowerCase();
  return `${localKey}@${domainKey}`;
}

/** The per-recipient errors by the recipient they name; the first one wins, as nodemailer sends each RCPT once. */
function errorsByRecipient(errors: readonly SmtpErrorLike[]): Map<string, SmtpErrorLike> {
  const byKey = new Map<string, SmtpErrorLike>();
  for (const error of errors) {
    if (error.recipient === undefined) continue;
    const key = addressKey(error.recipient);
    if (!byKey.has(key)) byKey.set(key, error);
  }
  return byKey;
}

/** The reply text of an error: the server's own words when there are any. */
export function replyOf(err: SmtpErrorLike): string {
  return err.response ?? err.message;
}

/** 530 "authentication required" (Outlook: "5.7.57 Client not authenticated") is a login problem too. */
function isAuthReply(code: number | undefined): boolean {
  return code === 530 || code === 535 || code === 534 || code === 538;
}

/**
 * A finished transaction. Only a recipient the server accepted (RCPT 250, RFC 5321 §3.3) is delivered;
 * one it refused is decided by its reply, and one the answer does not name at all is tried again: it
 * must never be taken as delivered, which would lose it without a bounce.
 */
export function reportFromInfo(recipients: readonly string[], info: SmtpInfoLike): RelayReport {
  const report: RelayReport = { delivered: [], failed: [], deferred: [] };
  if (info.ehlo)
    report.providerExtensions = info.ehlo.map((line) => line.split(/\s+/)[0].toUpperCase()).filter((keyword) => keyword !== '');
  const accepted = new Set((info.accepted ?? []).map((value) => addressKey(addressOf(value))));
  const rejected = new Set((info.rejected ?? []).map((value) => addressKey(addressOf(value))));
  const errors = errorsByRecipient(info.rejectedErrors ?? []);
  for (const recipient of recipients) {
    const key = addressKey(recipient);
    const error = errors.get(key);
    if (error) classifyRecipient(report, recipient, error);
    else if (accepted.has(key)) report.delivered.push(recipient);
    else if (rejected.has(key)) report.deferred.push({ recipient, reply: 'rejected without a reply' });
    else report.deferred.push({ recipient, reply: 'the provider did not answer for this recipient' });
  }
  return report;
}

/** A failed attempt: nothing was delivered; decide each recipient by what the error says. */
export function reportFromError(recipients: readonly string[], err: SmtpErrorLike): RelayReport {
  const report: RelayReport = { delivered: [], failed: [], deferred: [] };
  const reply = replyOf(err);
  const code = err.responseCode;
  const all = (into: OutboxFailure[]): void => {
    for (const recipient of recipients) into.push({ recipient, reply });
  };
  if (err.code === 'EAUTH') {
    // 454 "temporary authentication failure" (RFC 4954 §6) is the server's problem, not our login's.
    if (code !== undefined && code >= 400 && code < 500) {
      all(report.deferred);
      report.problem = { kind: 'temporary', reply };
    } else {
      all(report.deferred);
      report.problem = { kind: 'auth', reply };
    }
    return report;
  }
  if (isAuthReply(code)) {
    all(report.deferred);
    report.problem = { kind: 'auth', reply };
    return report;
  }
  if (err.code === 'EENVELOPE' && err.rejectedErrors && err.rejectedErrors.length > 0 && err.command === 'RCPT TO') {
    // Every recipient was refused at RCPT: each keeps its own reply, some may be 4xx.
    const errors = errorsByRecipient(err.rejectedErrors);
    for (const recipient of recipients) {
      const error = errors.get(addressKey(recipient));
      if (error) classifyRecipient(report, recipient, error);
      else report.deferred.push({ recipient, reply });
    }
    if (report.failed.length === 0 && report.deferred.length > 0) report.problem = { kind: 'temporary', reply: report.deferred[0].reply };
    return report;
  }
  if ((err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && code !== undefined) {
    // MAIL FROM, DATA or the end of data refused: the message as a whole, for every recipient.
    if (code >= 500) all(report.failed);
    else {
      all(report.deferred);
      report.problem = { kind: 'temporary', reply };
    }
    return report;
  }
  if ((err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && err.command !== undefined && err.command !== 'CONN') {
    // nodemailer refused before sending (invalid address, larger than the server's SIZE): it would
    // refuse the same next time.
    all(report.failed);
    return report;
  }
  // A failed TLS set-up is told by nodemailer's message ("Error upgrading connection with STARTTLS: 500 …"):
  // the server's bare reply alone would not say what went wrong.
  const problem = err.code === 'ETLS' ? err.message : reply;
  for (const recipient of recipients) report.deferred.push({ recipient, reply: problem });
  report.problem = { kind: 'temporary', reply: problem };
  return report;
}

function classifyRecipient(report: RelayReport, recipient: string, error: SmtpErrorLike): void {
  const reply = replyOf(error);
  if (error.responseCode !== undefined && error.responseCode >= 500) report.failed.push({ recipient, reply });
  else report.deferred.push({ recipient, reply });
}
