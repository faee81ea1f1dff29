/**
 * The status board: every part of the daemon reports its state here (sync progress, last error, outbox,
 * listeners); `hotbridge status` reads a snapshot through the status endpoint. Values are plain JSON and
 * must never hold a secret.
 */

export type StatusValue = Record<string, unknown>;

export class StatusBoard {
  private readonly sections = new Map<string, Map<string, StatusValue>>();
  readonly startedAt = Date.now();

  /** Replaces the state of `key` (an account address, a listener name) in `section` (pop3, smtp, imap…). */
  set(section: string, key: string, value: StatusValue): void {
    let entries = this.sections.get(section);
    if (!entries) {
      entries = new Map();
      this.sections.set(section, entries);
    }
    entries.set(key, value);
  }

  /** Merges fields into the state of `key`. */
  update(section: string, key: string, patch: StatusValue): void {
    this.set(section, key, { ...(this.sections.get(section)?.get(key) ?? {}), ...patch });
  }

  get(section: string, key: string): StatusValue | undefined {
    return this.sections.get(section)?.get(key);
  }

  delete(section: string, key: string): void {
    this.sections.get(section)?.delete(key);
  }

  snapshot(): Record<string, Record<string, StatusValue>> {
    const out: Record<string, Record<string, StatusValue>> = {};
    for (const [section, entries] of this.sections) out[section] = Object.fromEntries(entries);
    return out;
  }
}
