// Credential sources for tests of the POP3 poller and the outbox worker: the login a test decides on,
// and a count of how often the provider refused it (what the code under test reports via rejected()).
import type { CredentialSource, UpstreamLogin } from '../../src/upstream/credentials.js';

/** A source that hands out whatever `login` returns at each get(), and has nothing to refresh. */
export function loginFrom(login: () => UpstreamLogin): CredentialSource {
  return { get: async () => login(), rejected: () => undefined };
}

/** Hands out what `inner` gives and counts how often the provider refused it. */
export class CountingSource implements CredentialSource {
  refusals = 0;
  constructor(private readonly inner: CredentialSource) {}
  get(): Promise<UpstreamLogin> {
    return this.inner.get();
  }
  rejected(): void {
    this.refusals += 1;
    this.inner.rejected();
  }
}
