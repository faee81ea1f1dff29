import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenFileError, TokenStore, tokenFileName, type TokenSet } from '../../../src/upstream/oauth/token-store.js';
import { onEachLine } from '../../helpers/each-line.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';
const CHILD = path.resolve(__dirname, 'children/token-writer.ts');

function tokens(n: number): TokenSet {
  return {
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    expiresAt: 1_700_000_000_000 + n,
    scope: 'https://outlook.office.com/POP.AccessAsUser.All',
  };
}

describe('TokenStore', () => {
  let dir: string;
  afterEach(() => removeDir(dir));

  it('saves and loads a token set; no file means no sign-in; delete forgets it', () => {
    dir = tempDir();
    const store = new TokenStore(dir);
    expect(store.load(ALICE)).toBeUndefined();
    store.save(ALICE, tokens(1));
    expect(store.load(ALICE)).toEqual(tokens(1));
    expect(store.load('ALICE@Example.TEST')).toEqual(tokens(1));
    expect(store.fileFor(ALICE)).toBe(path.join(dir, 'oauth', 'alice@example.test.json'));
    store.delete(ALICE);
    expect(store.load(ALICE)).toBeUndefined();
    store.delete(ALICE);
  });

  it('writes mode 0600 files in a 0700 directory, even under a permissive umask', () => {
    dir = tempDir();
    const old = process.umask(0o000);
    try {
      const store = new TokenStore(dir);
      store.save(ALICE, tokens(1));
      store.save(ALICE, tokens(2));
      expect(fs.statSync(store.fileFor(ALICE)).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.join(dir, 'oauth')).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('replaces the file by rename: the old file is never rewritten in place and no temp file is left', () => {
    dir = tempDir();
    const store = new TokenStore(dir);
    store.save(ALICE, tokens(1));
    const file = store.fileFor(ALICE);
    const before = fs.readFileSync(file);
    // A second name for the old inode: an in-place rewrite would show through it.
    const witness = path.join(dir, 'witness');
    fs.linkSync(file, witness);
    store.save(ALICE, tokens(2));
    expect(fs.readFileSync(witness)).toEqual(before);
    expect(fs.statSync(witness).ino).not.toBe(fs.statSync(file).ino);
    expect(store.load(ALICE)).toEqual(tokens(2));
    expect(fs.readdirSync(path.join(dir, 'oauth'))).toEqual(['alice@example.test.json']);
  });

  it('keeps a complete token file when the writer is killed at any moment (SIGKILL)', async () => {
    dir = tempDir();
    const store = new TokenStore(dir);
    for (const killAfter of [1, 3, 7]) {
      const acked = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, ALICE], { stdio: ['ignore', 'pipe', 'inherit'] });
        let last = 0;
        onEachLine(child.stdout, (line) => {
          const m = /^saved (\d+)$/.exec(line);
          if (m) last = Number(m[1]);
          if (last >= killAfter && !child.killed) child.kill('SIGKILL');
        });
        child.on('error', reject);
        child.on('exit', () => resolve(last));
      });
      const loaded = store.load(ALICE);
      expect(loaded).toBeDefined();
      // The saved set is whole (both tokens from the same save), and not older than the last acknowledged save.
      const n = Number(/^refresh-(\d+)$/.exec(loaded!.refreshToken)?.[1]);
      expect(loaded!.accessToken.startsWith(`access-${n}-`)).toBe(true);
      expect(loaded!.accessToken.length).toBe(`access-${n}-`.length + 200_000);
      expect(n).toBeGreaterThanOrEqual(acked);
    }
  });

  it('names files safely for any address', () => {
    expect(tokenFileName('Bob.Smith+tag@Hotmail.com')).toBe('bob.smith+tag@hotmail.com.json');
    expect(tokenFileName('../../etc/passwd@x.y')).toBe('%2E.%2F..%2Fetc%2Fpasswd@x.y.json');
    expect(tokenFileName('.hidden@x.y')).toBe('%2Ehidden@x.y.json');
    expect(tokenFileName('jörg@example.de')).toBe('j%C3%B6rg@example.de.json');
    dir = tempDir();
    const store = new TokenStore(dir);
    store.save('a/b@x.y', tokens(1));
    expect(path.dirname(store.fileFor('a/b@x.y'))).toBe(path.join(dir, 'oauth'));
    expect(store.load('a/b@x.y')).toEqual(tokens(1));
  });

  it('reports a damaged file by name without showing its content', () => {
    dir = tempDir();
    const store = new TokenStore(dir);
    store.save(ALICE, tokens(1));
    fs.writeFileSync(store.fileFor(ALICE), '{"tokens": {"accessToken": "secret-access-value"');
    let error: unknown;
    try {
      store.load(ALICE);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TokenFileError);
    expect((error as Error).message).toContain(store.fileFor(ALICE));
    expect((error as Error).message).toContain('hotbridge login alice@example.test');
    expect((error as Error).message).not.toContain('secret-access-value');
    fs.writeFileSync(store.fileFor(ALICE), JSON.stringify({ version: 1, tokens: { accessToken: 'secret-access-value' } }));
    expect(() => store.load(ALICE)).toThrow(TokenFileError);
  });
});
