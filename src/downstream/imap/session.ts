/**
 * The state of one IMAP connection (RFC 3501 §3): who is logged in, which mailbox is selected (its
 * SessionView), which extensions the client enabled, and whether the transport is encrypted.
 */
import { ImapError } from './errors.js';
import type { SessionView } from './session-view.js';

/** The connection states of RFC 3501 §3. */
export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** Extensions a client can switch on with ENABLE (RFC 5161). */
export type EnabledExtension = 'CONDSTORE' | 'QRESYNC';

/** The state of one connection. */
export class ImapSession {
  state: SessionState = 'not-authenticated';
  /** The canonical account address once logged in. */
  account: string | undefined;
  view: SessionView | undefined;
  readonly enabled = new Set<EnabledExtension>();

  constructor(
    /** The client's IP (failed logins are slowed down per address). */
    readonly remoteAddress: string,
    /** Whether the client connected to a loopback address (plaintext login allowed). */
    readonly loopback: boolean,
    /** Whether TLS is active (set after STARTTLS). */
    public secure: boolean,
  ) {}

  /** Logs in: the connection moves to the authenticated state (RFC 3501 §3.2). */
  login(account: string): void {
    this.account = account;
    this.state = 'authenticated';
  }

  requireAccount(): string {
    if (!this.account) throw ImapError.bad('Not logged in');
    return this.account;
  }

  requireView(): SessionView {
    if (!this.view) throw ImapError.bad('No mailbox selected');
    return this.view;
  }

  /** Makes `view` the selected mailbox, closing the previous one. */
  select(view: SessionView): void {
    this.view?.close();
    this.view = view;
    this.state = 'selected';
  }

  /** Back to the authenticated state (CLOSE, UNSELECT, a failed SELECT). */
  deselect(): void {
    this.view?.close();
    this.view = undefined;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** Whether CONDSTORE behaviour is on (ENABLE CONDSTORE/QRESYNC, or a CONDSTORE-using command, RFC 7162 §3.1). */
  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }
}
