/** A store in a temporary directory of its own, for tests that open one per test. */
import { Store } from '../../src/store/index.js';
import { removeDir, tempDir } from './tmp.js';

export async function openTempStore(accounts: string[]): Promise<{ dir: string; store: Store }> {
  const dir = tempDir();
  return { dir, store: await Store.open(dir, { accounts }) };
}

export async function closeTempStore(store: Store, dir: string): Promise<void> {
  await store.close();
  removeDir(dir);
}

/** Closes the store and opens it again from its directory (what a restart sees). */
export async function reopenTempStore(store: Store, dir: string, accounts: string[]): Promise<Store> {
  await store.close();
  return Store.open(dir, { accounts });
}
