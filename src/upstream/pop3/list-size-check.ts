/**
 * Whether a message came in shorter than the server's LIST size said it is (RFC 1939 §5: "the size of the
 * message in octets"). Some servers count exactly (Dovecot); Exchange, and so Outlook.com, may report "an
 * approximation of the message size" (Microsoft KB Q191504, and [MS-STANOIMAP] §2.2.25: "the stored-message
 * size" when the RFC 2822 size is not known). So a short message is suspect only on a server whose sizes
 * have proven exact: every message it sent so far, and at least EXACT_AFTER of them, matched its LIST size
 * to the octet. Elsewhere the size says nothing, and the status line after the message is the only check.
 */

/** Messages whose size must match LIST exactly, with no miss, before a short one is suspect. */
export const EXACT_AFTER = 10;

export class ListSizeCheck {
  private matched = 0;
  private approximate = false;

  /** Whether this server's LIST sizes have proven exact. */
  get exact(): boolean {
    return !this.approximate && this.matched >= EXACT_AFTER;
  }

  /** Whether `received` octets fall short of `listed` on a server whose sizes have proven exact. */
  isShort(listed: number | undefined, received: number): boolean {
    return listed !== undefined && this.exact && received < listed;
  }

  /** Learns from a message that was accepted: did the server's size match? */
  record(listed: number | undefined, received: number): void {
    if (listed === undefined) return;
    if (listed === received) this.matched++;
    else this.approximate = true;
  }
}
