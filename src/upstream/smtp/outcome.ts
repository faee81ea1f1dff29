/**
 * What one relay attempt did to each recipient, read from nodemailer's answer. Per RFC 5321 §4.2.1 a
 * 5yz reply is permanent (bounce) and a 4yz reply transient (retry); recipients the provider accepted
 * are done for good and are never sent again. Errors that are not replies (connection, TLS, timeouts)
 * are transient. A refused login is neither: the message waits for working credentials.
 */
import type { OutboxFailure } from '../../store/records.js';

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
}

const sameAddress = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const addressOf = (value: string | { address: string }): string => (typeof value === 'string' ? value : value.address);

/** The reply text of an error: the server's own words when there are any. */
export function replyOf(err: SmtpErrorLike): string {
  return err.response ?? err.message;
}

/** 530 "authentication required" (Outlook: "5.7.57 Client not authenticated") is a login problem too. */
function isAuthReply(code: number | undefined): boolean {
  return code === 530 || code === 535 || code === 534 || code === 538;
}

/** A finished transaction: accepted recipients are delivered, the rest decided by their RCPT reply. */
export function reportFromInfo(recipients: readonly string[], info: SmtpInfoLike): RelayReport {
  const report: RelayReport = { delivered: [], failed: [], deferred: [] };
  const rejected = (info.rejected ?? []).map(addressOf);
  const errors = info.rejectedErrors ?? [];
  for (const recipient of recipients) {
    const error = errors.find((candidate) => candidate.recipient !== undefined && sameAddress(candidate.recipient, recipient));
    if (error) classifyRecipient(report, recipient, error);
    else if (rejected.some((address) => sameAddress(address, recipient))) report.deferred.push({ recipient, reply: 'rejected without a reply' });
    // The server took the message for everyone it did not reject at RCPT (RFC 5321 §3.3).
    else report.delivered.push(recipient);
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
    for (const recipient of recipients) {
      const error = err.rejectedErrors.find((candidate) => candidate.recipient !== undefined && sameAddress(candidate.recipient, recipient));
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
