/**
 * TLS for clients that insist on it, against the real daemon with the certificate of `hotbridge cert`:
 * implicit-TLS listeners (POP3S, IMAPS, SMTPS via tls_listen), STARTTLS/STLS offered on the plain ports,
 * and tls_min_version tested with two independent clients, `openssl s_client -tls1` and Python's ssl at
 * TLSVersion.TLSv1: refused at the default (TLS 1.2), connected where "TLSv1" was chosen (which WARNs).
 * Also: a non-loopback listen address without TLS is a config error (exit 2) naming both ways out.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, type CompatBridge } from '../helpers/clients.js';
import { runCli } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';

const PROBE = path.resolve(__dirname, '../helpers/tls_probe.py');

/** Adds lines to a table of the config file (right after its header). */
function addToTable(file: string, table: string, lines: string[]): void {
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes(`[${table}]\n`)) throw new Error(`no [${table}] in ${file}`);
  fs.writeFileSync(file, text.replace(`[${table}]\n`, `[${table}]\n${lines.join('\n')}\n`));
}

interface Probe {
  ok?: boolean;
  version?: string;
  greeting?: string;
  error?: string;
  [key: string]: unknown;
}

async function bridgeWithTls(
  minVersion: string | undefined,
): Promise<{ bridge: CompatBridge; ports: { pop3s: number; imaps: number; smtps: number }; ca: string }> {
  const [pop3s, imaps, smtps] = await freePorts(3);
  const version = minVersion ? [`tls_min_version = "${minVersion}"`] : [];
  const bridge = await startCompatBridge({
    lab: false,
    beforeStart: async (config) => {
      addToTable(config.file, 'pop3', [`tls_listen = ["127.0.0.1:${pop3s}"]`, ...version]);
      addToTable(config.file, 'imap', [`tls_listen = ["127.0.0.1:${imaps}"]`, ...version]);
      addToTable(config.file, 'smtp', [`tls_listen = ["127.0.0.1:${smtps}"]`, ...version]);
      const made = await runCli(['cert', '--config', config.file]);
      expect(made.code, made.stderr).toBe(0);
    },
  });
  const exported = await runCli(['cert', 'export', '--dir', bridge.dir, '--config', bridge.config.file]);
  expect(exported.code, exported.stderr).toBe(0);
  return { bridge, ports: { pop3s, imaps, smtps }, ca: path.join(bridge.dir, 'hotbridge-ca.pem') };
}

describe('TLS listeners and versions', () => {
  let python: string;
  let openssl: string;

  beforeAll(async () => {
    python = await requireTool('python3', 'python3');
    openssl = await requireTool('openssl', 'openssl');
  });

  const probe = async (args: string[]): Promise<Probe> => {
    const result = await runTool(python, [PROBE, ...args], { timeoutMs: 30_000 });
    expect(result.code, describeRun('tls_probe', result)).toBe(0);
    return JSON.parse(result.text) as Probe;
  };

  /** openssl s_client: implicit TLS, sends QUIT, prints what the server said. */
  const sClient = (port: number, ca: string, extra: string[]) =>
    runTool(
      openssl,
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-servername',
        'localhost',
        '-CAfile',
        ca,
        '-verify_return_error',
        '-quiet',
        '-crlf',
        '-ign_eof',
        ...extra,
      ],
      {
        input: 'QUIT\n',
        timeoutMs: 20_000,
      },
    );

  describe('the default: TLS 1.2 and newer', () => {
    let bridge: CompatBridge;
    let ports: { pop3s: number; imaps: number; smtps: number };
    let ca: string;
    beforeAll(async () => {
      ({ bridge, ports, ca } = await bridgeWithTls(undefined));
    });
    afterAll(async () => {
      await bridge?.stop();
    });

    it('POP3S, IMAPS and SMTPS greet inside TLS 1.2/1.3, verified against the exported CA', async () => {
      const greetings = { pop3s: '+OK hotbridge POP3 ready', imaps: '* OK [CAPABILITY', smtps: '220 ' };
      for (const [name, port] of Object.entries(ports)) {
        const seen = await probe(['tls', '127.0.0.1', String(port), 'TLSv1_2', ca, 'localhost']);
        expect(seen, name).toMatchObject({ ok: true, version: 'TLSv1.2' });
        expect(seen.greeting, name).toContain(greetings[name as keyof typeof greetings]);
      }
      const pop3s = await sClient(ports.pop3s, ca, []);
      expect(pop3s.text, describeRun('s_client', pop3s)).toContain('+OK hotbridge POP3 ready\r\n+OK Logging out\r\n');
    });

    it('refuses TLS 1.0: openssl s_client -tls1 and Python TLSVersion.TLSv1 do not get through', async () => {
      for (const [name, port] of Object.entries(ports)) {
        const seen = await probe(['tls', '127.0.0.1', String(port), 'TLSv1', ca, 'localhost']);
        expect(seen.ok, `${name}: ${JSON.stringify(seen)}`).toBe(false);
        const old = await sClient(port, ca, ['-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
        expect(old.code, `${name}: ${describeRun('s_client -tls1', old)}`).not.toBe(0);
        expect(old.text).not.toContain('hotbridge');
      }
    });

    it('the plain ports offer STARTTLS/STLS now, and plaintext login stays possible on loopback', async () => {
      const pop3 = await probe(['pop3', '127.0.0.1', String(bridge.config.pop3Port), bridge.address, bridge.password, ca, 'localhost']);
      expect(pop3.capa).toContain('STLS');
      expect(pop3.plain_login).toBe('accepted');
      expect(pop3.tls_version).toMatch(/^TLSv1\.[23]$/);
      expect(pop3.tls_login).toBe('+OK Logged in, 0 messages');
      const imap = await probe(['imap-plain', '127.0.0.1', String(bridge.config.imapPort), bridge.address, bridge.password]);
      expect(imap.capabilities).toContain('STARTTLS');
      expect(imap.login).toBe('OK');
    });
  });

  describe('tls_min_version = "TLSv1", for old devices', () => {
    let bridge: CompatBridge;
    let ports: { pop3s: number; imaps: number; smtps: number };
    let ca: string;
    beforeAll(async () => {
      ({ bridge, ports, ca } = await bridgeWithTls('TLSv1'));
    });
    afterAll(async () => {
      await bridge?.stop();
    });

    it('WARNs at start that OpenSSL runs at security level 0', () => {
      expect(bridge.daemon.log()).toMatch(
        /pop3\.tls_min_version = \\?"TLSv1\\?": old TLS versions are accepted, with OpenSSL's security level lowered to 0/,
      );
    });

    it('accepts TLS 1.0 from openssl s_client -tls1 and Python TLSVersion.TLSv1, and TLS 1.2 as before', async () => {
      for (const [name, port] of Object.entries(ports)) {
        const seen = await probe(['tls', '127.0.0.1', String(port), 'TLSv1', ca, 'localhost']);
        expect(seen, `${name}: ${JSON.stringify(seen)}`).toMatchObject({ ok: true, version: 'TLSv1' });
        expect(await probe(['tls', '127.0.0.1', String(port), 'TLSv1_2', ca, 'localhost']), name).toMatchObject({
          ok: true,
          version: 'TLSv1.2',
        });
      }
      const old = await sClient(ports.pop3s, ca, ['-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
      expect(old.code, describeRun('s_client -tls1', old)).toBe(0);
      expect(old.text).toContain('+OK hotbridge POP3 ready\r\n+OK Logging out\r\n');
    });
  });

  it('hotbridge cert while the daemon runs: the daemon reloads and offers STLS from then on', async () => {
    const capa = (port: number) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.once('connect', () => socket.write('CAPA\r\nQUIT\r\n'));
        socket.once('close', () => resolve(text));
        socket.once('error', reject);
      });
    const bridge = await startCompatBridge({ lab: false });
    try {
      expect(await capa(bridge.config.pop3Port)).not.toContain('\r\nSTLS\r\n');
      const made = await runCli(['cert', '--config', bridge.config.file]);
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toContain('The running hotbridge uses it now.');
      await bridge.daemon.waitForLog(/config reloaded/);
      expect(await capa(bridge.config.pop3Port)).toContain('\r\nSTLS\r\n');
    } finally {
      await bridge.stop();
    }
  });

  it('a non-loopback listen address without TLS is a config error (exit 2) that names both ways out', async () => {
    const bridge = await startCompatBridge({ lab: false });
    try {
      await bridge.daemon.kill();
      // 192.0.2.10 (TEST-NET-1) is never bound: the check comes first.
      const text = fs.readFileSync(bridge.config.file, 'utf8');
      const changed = text.replace(/\[pop3\]\s*listen = \[[^\]]*\]/, '[pop3]\nlisten = ["192.0.2.10:1110"]');
      expect(changed).not.toBe(text);
      fs.writeFileSync(bridge.config.file, changed);
      const run = await runCli(['run', '--config', bridge.config.file]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain('pop3.listen: 192.0.2.10:1110 is not loopback');
      expect(run.stderr).toContain('run `hotbridge cert`, or set pop3.tls_cert and pop3.tls_key');
      expect(run.stderr).toContain('set pop3.allow_plaintext_lan = true');
    } finally {
      await bridge.stop();
    }
  });
});
