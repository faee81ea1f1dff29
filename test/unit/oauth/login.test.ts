// `hotbridge login ADDRESS` (runLogin) against the local identity server: what it prints, what it saves,
// and that it never reaches the network without a client id the user chose.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runLogin } from '../../../src/cli/commands/login.js';
import { resolveConfig } from '../../../src/config/load.js';
import type { HotbridgeConfig } from '../../../src/config/types.js';
import { TokenStore } from '../../../src/upstream/oauth/token-store.js';
import { startIdentityServer, type IdentityServer } from '../../helpers/identity-server.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@hotmail.com';

describe('runLogin', () => {
  let idp: IdentityServer;
  let dir: string;
  const outputs: string[] = [];

  beforeAll(async () => {
    idp = await startIdentityServer({ interval: 2 });
  });
  afterAll(async () => {
    const secrets = idp.allSecrets();
    for (const out of outputs) for (const secret of secrets) expect(out).not.toContain(secret);
    await idp.close();
  });
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  function config(auth: Record<string, unknown>): HotbridgeConfig {
    return resolveConfig(
      { data_dir: path.join(dir, 'data'), accounts: [{ address: 'Alice@Hotmail.com', auth }, { address: 'bob@gmx.net' }] },
      path.join(dir, 'hotbridge.toml'),
    );
  }

  /** Runs the command, counting requests made through its fetch. */
  async function login(cfg: HotbridgeConfig, address = ALICE) {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => {
      text += c.toString();
    });
    const sleeps: number[] = [];
    let requests = 0;
    const code = await runLogin({
      config: cfg,
      address,
      out,
      fetch: (input, init) => {
        requests += 1;
        return fetch(input, init);
      },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    outputs.push(text);
    return { code, text, sleeps, requests };
  }

  it('prints the page and the code plainly, saves the tokens 0600, and names the address', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'approve'] });
    const cfg = config({ method: 'oauth2', client_id: idp.clientId, authority: idp.authority });
    const { code, text, sleeps } = await login(cfg, 'ALICE@hotmail.com');
    expect(code).toBe(0);
    expect(text).toContain(`http://127.0.0.1:${idp.port}/link`);
    expect(text).toMatch(/Enter this code:\n\n {7}[0-9A-F]{8}\n/);
    expect(text).toContain('The code works for 15 minutes.');
    expect(text).toContain(`Signed in: ${ALICE}.`);
    // eslint-disable-next-line no-control-regex -- looking for the escape character is the point
    expect(text).not.toMatch(/\x1b\[/); // no terminal escapes: readable over SSH and in logs
    expect(sleeps).toEqual([2000, 2000]);
    const store = new TokenStore(cfg.dataDir);
    const saved = store.load(ALICE)!;
    expect(idp.liveRefreshTokens(ALICE)).toContain(saved.refreshToken);
    expect(idp.introspect(saved.accessToken)).toEqual({ active: true, username: ALICE });
    expect(fs.statSync(store.fileFor(ALICE)).mode & 0o777).toBe(0o600);
  });

  it('explains the client id choice and asks nothing of the network when client_id is missing', async () => {
    const cfg = config({ method: 'oauth2', authority: idp.authority });
    const { code, text, requests } = await login(cfg);
    expect(code).toBe(2);
    expect(requests).toBe(0);
    expect(text).toContain('no client_id is set');
    expect(text).toContain('App registrations');
    expect(text).toContain('Allow public client flows');
    expect(text).toContain('POP.AccessAsUser.All');
    expect(text).toContain('SMTP.Send');
    expect(text).toMatch(/never uses another\nprogram's id unless you choose/);
    expect(text).toContain(`Then set it in ${cfg.file}:`);
    expect(text).toContain('[accounts.auth]\n  client_id = ');
    expect(text.split('\n').every((line) => line.length <= 80)).toBe(true);
    expect(fs.existsSync(new TokenStore(cfg.dataDir).fileFor(ALICE))).toBe(false);
  });

  it('says what happened when the sign-in is declined, and saves nothing', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['decline'] });
    const cfg = config({ method: 'oauth2', client_id: idp.clientId, authority: idp.authority });
    const { code, text } = await login(cfg);
    expect(code).toBe(1);
    expect(text).toContain(`Sign-in for ${ALICE} did not complete: the sign-in was declined`);
    expect(new TokenStore(cfg.dataDir).load(ALICE)).toBeUndefined();
  });

  it('refuses unknown addresses and password accounts', async () => {
    const cfg = config({ method: 'oauth2', client_id: idp.clientId, authority: idp.authority });
    const unknown = await login(cfg, 'carol@hotmail.com');
    expect(unknown.code).toBe(2);
    expect(unknown.text).toContain('carol@hotmail.com is not an account');
    expect(unknown.text).toContain('alice@hotmail.com, bob@gmx.net');
    const password = await login(cfg, 'bob@gmx.net');
    expect(password.code).toBe(2);
    expect(password.text).toContain('signs in with a password');
    expect(unknown.requests + password.requests).toBe(0);
  });
});
