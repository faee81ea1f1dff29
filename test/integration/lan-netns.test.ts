/**
 * Phones and other computers on the home network, played by a network namespace that this test makes
 * itself: a veth pair between the host (198.18.N.1) and the namespace (198.18.N.2), addresses of the
 * benchmarking range (RFC 2544) that exist only inside this machine, so no traffic leaves it. As root
 * (`ip netns`); a missing capability fails the test (it is never skipped).
 *
 * From the namespace: POP3S on the LAN address verifies against the exported CA (the certificate names
 * the address); the plain LAN port offers STLS and refuses a login without it, accepts it inside TLS;
 * TLS 1.0 is refused where the default holds and accepted where tls_min_version = "TLSv1"; IMAP with
 * allow_plaintext_lan logs in without TLS (and the daemon WARNs); and once the namespace is outside
 * allowed_networks its connections are closed before any greeting, logged once per address.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, waitUntil, type CompatBridge } from '../helpers/clients.js';
import { runCli } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';

const PROBE = path.resolve(__dirname, '../helpers/tls_probe.py');
const N = (process.pid % 200) + 20;
const NS = `hbns${process.pid}`;
const HOST_IF = `hbh${process.pid % 100000}`;
const NS_IF = `hbn${process.pid % 100000}`;
const HOST_IP = `198.18.${N}.1`;
const NS_IP = `198.18.${N}.2`;

async function ip(args: string[]): Promise<void> {
  const result = await runTool('ip', args);
  if (result.code !== 0) {
    throw new Error(
      `ip ${args.join(' ')} failed (${String(result.code)}): ${result.stderr.trim()} — this test needs root (CAP_NET_ADMIN) to make its network namespace`,
    );
  }
}

function addToTable(file: string, table: string, lines: string[]): void {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(`[${table}]\n`, `[${table}]\n${lines.join('\n')}\n`));
}

describe('a client on the home network (a network namespace)', () => {
  let bridge: CompatBridge;
  let python: string;
  let openssl: string;
  let ca: string;
  let ports: { pop3: number; pop3s: number; imap: number; imaps: number };

  beforeAll(async () => {
    await requireTool('ip', 'iproute2');
    python = await requireTool('python3', 'python3');
    openssl = await requireTool('openssl', 'openssl');
    await ip(['netns', 'add', NS]);
    await ip(['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
    await ip(['link', 'set', NS_IF, 'netns', NS]);
    await ip(['addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF]);
    await ip(['link', 'set', HOST_IF, 'up']);
    await ip(['-n', NS, 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF]);
    await ip(['-n', NS, 'link', 'set', NS_IF, 'up']);
    await ip(['-n', NS, 'link', 'set', 'lo', 'up']);
    const [pop3, pop3s, imap, imaps] = await freePorts(4);
    ports = { pop3, pop3s, imap, imaps };
    bridge = await startCompatBridge({
      lab: false,
      beforeStart: async (config) => {
        const text = fs.readFileSync(config.file, 'utf8');
        fs.writeFileSync(config.file, `allowed_networks = ["127.0.0.0/8", "::1/128", "${NS_IP}/32"]\n${text}`);
        const withLan = fs
          .readFileSync(config.file, 'utf8')
          .replace(`listen = ["127.0.0.1:${config.pop3Port}"]`, `listen = ["127.0.0.1:${config.pop3Port}", "${HOST_IP}:${pop3}"]`)
          .replace(`listen = ["127.0.0.1:${config.imapPort}"]`, `listen = ["127.0.0.1:${config.imapPort}", "${HOST_IP}:${imap}"]`);
        fs.writeFileSync(config.file, withLan);
        addToTable(config.file, 'pop3', [`tls_listen = ["${HOST_IP}:${pop3s}"]`]);
        addToTable(config.file, 'imap', [
          `tls_listen = ["${HOST_IP}:${imaps}"]`,
          'allow_plaintext_lan = true',
          'tls_min_version = "TLSv1"',
        ]);
        const made = await runCli(['cert', '--config', config.file]);
        expect(made.code, made.stderr).toBe(0);
        expect(made.stdout).toContain(HOST_IP);
      },
    });
    const exported = await runCli(['cert', 'export', '--dir', bridge.dir, '--config', bridge.config.file]);
    expect(exported.code, exported.stderr).toBe(0);
    ca = path.join(bridge.dir, 'hotbridge-ca.pem');
  }, 180_000);

  afterAll(async () => {
    await bridge?.stop();
    await runTool('ip', ['link', 'del', HOST_IF]);
    await runTool('ip', ['netns', 'del', NS]);
  });

  /** Runs the probe inside the namespace. */
  const fromLan = async (args: string[]): Promise<Record<string, unknown>> => {
    const result = await runTool('ip', ['netns', 'exec', NS, python, PROBE, ...args], { timeoutMs: 30_000 });
    expect(result.code, describeRun('tls_probe in the namespace', result)).toBe(0);
    return JSON.parse(result.text) as Record<string, unknown>;
  };

  it('POP3S on the LAN address: TLS 1.2, the certificate verified for that address, the greeting', async () => {
    const seen = await fromLan(['tls', HOST_IP, String(ports.pop3s), 'TLSv1_2', ca, HOST_IP]);
    expect(seen).toMatchObject({ ok: true, version: 'TLSv1.2', greeting: '+OK hotbridge POP3 ready' });
  });

  it('the plain LAN port: no login without TLS, STLS then the login works', async () => {
    const seen = await fromLan(['pop3', HOST_IP, String(ports.pop3), bridge.address, bridge.password, ca, HOST_IP]);
    expect(seen.capa).toContain('STLS');
    expect(seen.capa).not.toContain('USER');
    expect(seen.plain_login).toBe('-ERR [AUTH] Plaintext authentication is not allowed here without TLS: use STLS (or POP3 over TLS)');
    expect(seen.tls_version).toMatch(/^TLSv1\.[23]$/);
    expect(seen.tls_login).toBe('+OK Logged in, 0 messages');
  });

  it('TLS 1.0: refused by POP3S (default TLS 1.2), accepted by IMAPS (tls_min_version = "TLSv1")', async () => {
    expect(await fromLan(['tls', HOST_IP, String(ports.pop3s), 'TLSv1', ca, HOST_IP])).toMatchObject({ ok: false });
    expect(await fromLan(['tls', HOST_IP, String(ports.imaps), 'TLSv1', ca, HOST_IP])).toMatchObject({ ok: true, version: 'TLSv1' });
    const args = [
      's_client',
      '-tls1',
      '-cipher',
      'DEFAULT:@SECLEVEL=0',
      '-CAfile',
      ca,
      '-verify_return_error',
      '-quiet',
      '-crlf',
      '-ign_eof',
    ];
    const refused = await runTool('ip', ['netns', 'exec', NS, openssl, ...args, '-connect', `${HOST_IP}:${ports.pop3s}`], {
      input: 'QUIT\n',
      timeoutMs: 20_000,
    });
    expect(refused.code, describeRun('s_client -tls1 (POP3S)', refused)).not.toBe(0);
    const accepted = await runTool('ip', ['netns', 'exec', NS, openssl, ...args, '-connect', `${HOST_IP}:${ports.imaps}`], {
      input: 'a LOGOUT\n',
      timeoutMs: 20_000,
    });
    expect(accepted.text, describeRun('s_client -tls1 (IMAPS)', accepted)).toContain('* OK [CAPABILITY');
  });

  it('IMAP with allow_plaintext_lan: a login without TLS works from the LAN, and the daemon warned about it', async () => {
    const seen = await fromLan(['imap-plain', HOST_IP, String(ports.imap), bridge.address, bridge.password]);
    expect(seen.login).toBe('OK');
    expect(seen.capabilities).not.toContain('LOGINDISABLED');
    expect(bridge.daemon.log()).toContain('imap.allow_plaintext_lan is on');
  });

  it('outside allowed_networks: closed before the greeting, logged once per address', async () => {
    const text = fs.readFileSync(bridge.config.file, 'utf8');
    fs.writeFileSync(bridge.config.file, text.replace(`"${NS_IP}/32"`, '"198.51.100.0/24"'));
    bridge.daemon.child.kill('SIGHUP');
    await bridge.daemon.waitForLog(/config reloaded/);
    // The reload restarted the listeners: wait until they answer on loopback again.
    await waitUntil(
      'the POP3 listener back',
      async () => (await runTool(python, [PROBE, 'raw', '127.0.0.1', String(bridge.config.pop3Port)])).text.includes('+OK'),
      10_000,
    );
    for (const port of [ports.pop3, ports.pop3s, ports.imap]) {
      expect(await fromLan(['raw', HOST_IP, String(port)]), String(port)).toEqual({ data: '', closed: true });
    }
    const refusals = bridge.daemon
      .log()
      .split('\n')
      .filter((line) => line.includes('outside allowed_networks') && line.includes(NS_IP));
    expect(refusals).toHaveLength(1);
    // Loopback is still allowed.
    expect((await runTool(python, [PROBE, 'raw', '127.0.0.1', String(bridge.config.pop3Port)])).text).toContain('+OK hotbridge POP3 ready');
  });
});
