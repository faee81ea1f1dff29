// The local CA of `hotbridge cert`: made once, keys 0600, a server certificate that names localhost, the
// host and the listen addresses, verified by Node and by openssl; renewed before it expires or when a
// name is missing, always by the same CA; exported as PEM and DER with the fingerprint openssl computes.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureLocalCertificate, exportCa, localCaFiles, RENEW_BEFORE_DAYS, SERVER_DAYS } from '../../../src/runtime/local-ca.js';
import { requireTool, runTool } from '../../helpers/clients.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const NAMES = { dns: ['localhost', 'myhost', 'myhost.local'], ips: ['127.0.0.1', '::1', '192.168.1.20', 'fd00::20'] };
const DAY = 24 * 60 * 60 * 1000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function dataDir(): string {
  const dir = tempDir('hotbridge-ca-');
  dirs.push(dir);
  return dir;
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('the local CA', () => {
  it('makes a CA and a server certificate once, keys readable by the owner only', () => {
    const dir = dataDir();
    const first = ensureLocalCertificate(dir, NAMES);
    expect(first.action).toBe('created');
    const files = localCaFiles(dir);
    expect(mode(files.caKey)).toBe(0o600);
    expect(mode(files.serverKey)).toBe(0o600);
    expect(mode(files.dir)).toBe(0o700);
    const ca = new X509Certificate(fs.readFileSync(files.caCert));
    const server = new X509Certificate(fs.readFileSync(files.serverCert));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    for (const host of NAMES.dns) expect(server.checkHost(host)).toBe(host);
    for (const ip of NAMES.ips) expect(server.checkIP(ip)).toBe(ip);
    expect(server.checkHost('example.com')).toBeUndefined();
    expect(server.keyUsage ?? []).toContain('1.3.6.1.5.5.7.3.1');
    const days = (new Date(server.validTo).getTime() - Date.now()) / DAY;
    expect(days).toBeGreaterThan(SERVER_DAYS - 2);
    expect(days).toBeLessThanOrEqual(SERVER_DAYS);
    const caBytes = fs.readFileSync(files.caCert);
    const serverBytes = fs.readFileSync(files.serverCert);
    expect(ensureLocalCertificate(dir, NAMES).action).toBe('kept');
    expect(fs.readFileSync(files.caCert).equals(caBytes)).toBe(true);
    expect(fs.readFileSync(files.serverCert).equals(serverBytes)).toBe(true);
  });

  it('openssl verifies the server certificate against the CA, for the names it carries', async () => {
    const openssl = await requireTool('openssl', 'openssl');
    const dir = dataDir();
    const { files } = ensureLocalCertificate(dir, NAMES);
    const verify = await runTool(openssl, [
      'verify',
      '-CAfile',
      files.caCert,
      '-verify_hostname',
      'myhost',
      '-purpose',
      'sslserver',
      files.serverCert,
    ]);
    expect(verify.text.trim(), verify.stderr).toBe(`${files.serverCert}: OK`);
    const ip = await runTool(openssl, ['verify', '-CAfile', files.caCert, '-verify_ip', '192.168.1.20', files.serverCert]);
    expect(ip.text.trim(), ip.stderr).toBe(`${files.serverCert}: OK`);
    const wrong = await runTool(openssl, ['verify', '-CAfile', files.caCert, '-verify_hostname', 'example.com', files.serverCert]);
    expect(wrong.code).not.toBe(0);
  });

  it('renews the server certificate before it expires, and when a listen address is new; the CA stays', () => {
    const dir = dataDir();
    const made = ensureLocalCertificate(dir, NAMES);
    const files = localCaFiles(dir);
    const ca = fs.readFileSync(files.caCert);
    const firstServer = fs.readFileSync(files.serverCert);
    const nearExpiry = new Date(made.serverNotAfter.getTime() - (RENEW_BEFORE_DAYS - 1) * DAY);
    const renewed = ensureLocalCertificate(dir, NAMES, nearExpiry);
    expect(renewed.action).toBe('renewed');
    expect(renewed.serverNotAfter.getTime()).toBeGreaterThan(made.serverNotAfter.getTime());
    expect(fs.readFileSync(files.caCert).equals(ca)).toBe(true);
    expect(fs.readFileSync(files.serverCert).equals(firstServer)).toBe(false);
    const wider = ensureLocalCertificate(dir, { dns: NAMES.dns, ips: [...NAMES.ips, '10.1.2.3'] });
    expect(wider.action).toBe('renewed');
    expect(new X509Certificate(fs.readFileSync(files.serverCert)).checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(new X509Certificate(fs.readFileSync(files.serverCert)).checkIssued(new X509Certificate(ca))).toBe(true);
  });

  it('exports the CA as PEM and DER with the SHA-256 fingerprint openssl shows', async () => {
    const openssl = await requireTool('openssl', 'openssl');
    const dir = dataDir();
    expect(() => exportCa(dir, dir)).toThrow(/run `hotbridge cert` first/);
    ensureLocalCertificate(dir, NAMES);
    const out = path.join(dir, 'export');
    const exported = exportCa(dir, out);
    const fromDer = await runTool(openssl, ['x509', '-inform', 'DER', '-in', exported.der, '-noout', '-fingerprint', '-sha256']);
    expect(fromDer.text.trim()).toBe(`sha256 Fingerprint=${exported.sha256}`);
    const fromPem = await runTool(openssl, ['x509', '-in', exported.pem, '-noout', '-fingerprint', '-sha256']);
    expect(fromPem.text.trim()).toBe(`sha256 Fingerprint=${exported.sha256}`);
  });
});
