/**
 * One correction to smtp-server's enhanced status codes (RFC 3463): it pairs a plain 452 ("insufficient
 * system storage", RFC 5321 §4.2.2) with 4.2.2, "mailbox full", which is about one user's quota. Our 452
 * means the disk under the outbox is full: that is 4.3.1, "mail system full" (RFC 3463 §3.4). Replies that
 * carry their own context (452 "too many recipients") keep theirs. smtp-server offers no option for this,
 * so the one method that picks the code is wrapped; a test checks the reply on the wire.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

type PickCode = (this: unknown, code: number, context?: string | false) => string;

const prototype = SMTPConnection.prototype as unknown as { _getEnhancedStatusCode: PickCode };
const original = prototype._getEnhancedStatusCode;
if (typeof original === 'function') {
  prototype._getEnhancedStatusCode = function (this: unknown, code: number, context?: string | false): string {
    const picked = original.call(this, code, context);
    return code === 452 && context === undefined && picked !== '' ? '4.3.1' : picked;
  };
}
