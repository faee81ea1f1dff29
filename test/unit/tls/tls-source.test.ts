// Which certificate a listener table serves: the user's own tls_cert/tls_key win over the one
// `hotbridge cert` made; without either there is none (no STARTTLS/STLS, no implicit TLS).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalTls } from '../../../src/config/types.js';
import { ensureLocalCertificate, localCaFiles } from '../../../src/runtime/local-ca.js';
import { needsLegacyTls, tlsSource } from '../../../src/runtime/tls-material.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

const plain: LocalTls = { tlsListen: [], tlsMinVersion: 'TLSv1.2', allowPlaintextLan: false };

describe('tlsSource', () => {
  it("none, then the certificate of hotbridge cert, and the user's own over it", () => {
    const dataDir = tempDir('hotbridge-tls-');
    dirs.push(dataDir);
    expect(tlsSource(plain, 'pop3', dataDir)).toBeUndefined();
    ensureLocalCertificate(dataDir, { dns: ['localhost'], ips: ['127.0.0.1'] });
    const made = tlsSource(plain, 'pop3', dataDir)!;
    expect(made.origin).toBe('hotbridge cert');
    expect(made.cert.equals(fs.readFileSync(localCaFiles(dataDir).serverCert))).toBe(true);
    // "The user's own": here simply another pair of files.
    const own = path.join(dataDir, 'own');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, 'cert.pem'), 'MY CERT');
    fs.writeFileSync(path.join(own, 'key.pem'), 'MY KEY');
    const mine = tlsSource({ ...plain, certFile: path.join(own, 'cert.pem'), keyFile: path.join(own, 'key.pem') }, 'imap', dataDir)!;
    expect(mine).toEqual({ cert: Buffer.from('MY CERT'), key: Buffer.from('MY KEY'), origin: 'imap.tls_cert' });
  });

  it('TLSv1 and TLSv1.1 need OpenSSL security level 0, TLSv1.2 and TLSv1.3 do not', () => {
    expect(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'].map((v) => needsLegacyTls(v as LocalTls['tlsMinVersion']))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});
