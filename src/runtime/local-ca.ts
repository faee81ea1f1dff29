/**
 * `hotbridge cert`: a small certificate authority of this installation and a server certificate it
 * signs, for the clients that insist on SSL (Outlook Express with "This server requires a secure
 * connection", old phones) and for every client on the home network. The CA is made once and kept in the
 * data dir (key 0600); the device imports the CA (`hotbridge cert export`), so a renewed server
 * certificate is trusted without touching the device again.
 *
 * Why no library: Node's crypto makes the RSA keys, exports the public key in X.509 form and signs; what
 * is left is a few dozen lines of DER (der.ts). The libraries on npm either pull in a global reflect
 * polyfill (@peculiar/x509) or do RSA in JavaScript (node-forge); the openssl CLI differs between Linux
 * and macOS (LibreSSL). RSA and SHA-256 because Windows XP SP3 and old phones know nothing newer.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as der from './der.js';
import { writeFileAtomic } from './files.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The CA lives long: a device imports it once. */
const CA_DAYS = 3650;
/** Apple devices refuse server certificates valid for more than 825 days, even from a CA the user added. */
export const SERVER_DAYS = 825;
/** A server certificate with less than this left is made anew (at start, and daily while running). */
export const RENEW_BEFORE_DAYS = 30;

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

export interface LocalCaFiles {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function localCaFiles(dataDir: string): LocalCaFiles {
  const dir = path.join(dataDir, 'tls');
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
  };
}

/** The names a server certificate covers: DNS names and IP addresses. */
export interface ServerNames {
  dns: string[];
  ips: string[];
}

function name(commonName: string): Buffer {
  return der.sequence(
    der.set(der.sequence(der.objectId(OID.organization), der.utf8String('hotbridge'))),
    der.set(der.sequence(der.objectId(OID.commonName), der.utf8String(commonName))),
  );
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.objectId(oid), ...(critical ? [der.booleanValue(true)] : []), der.octetString(value));
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // Expand "::" and read the eight groups.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

const keyId = (spki: Buffer) => createHash('sha1').update(spki).digest();

interface Issue {
  subject: string;
  spki: Buffer;
  issuer: { name: string; key: KeyObject; spki: Buffer };
  days: number;
  now: Date;
  ca: boolean;
  names?: ServerNames;
}

function issue(o: Issue): string {
  const notBefore = new Date(o.now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(o.now.getTime() + o.days * DAY_MS);
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const algorithm = der.sequence(der.objectId(OID.sha256WithRsa), der.nullValue());
  const extensions = [
    extension(OID.basicConstraints, true, o.ca ? der.sequence(der.booleanValue(true), der.smallInteger(0)) : der.sequence()),
    // CA: keyCertSign + cRLSign; server: digitalSignature + keyEncipherment (TLS 1.0 RSA key exchange).
    extension(OID.keyUsage, true, o.ca ? der.bitString(Buffer.from([0x06]), 1) : der.bitString(Buffer.from([0xa0]), 5)),
    extension(OID.subjectKeyId, false, der.octetString(keyId(o.spki))),
  ];
  if (!o.ca) {
    extensions.push(extension(OID.authorityKeyId, false, der.sequence(der.implicitPrimitive(0, keyId(o.issuer.spki)))));
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(der.objectId(OID.serverAuth))));
    const names = o.names ?? { dns: [], ips: [] };
    extensions.push(
      extension(
        OID.subjectAltName,
        false,
        der.sequence(
          ...names.dns.map((dns) => der.implicitPrimitive(2, Buffer.from(dns, 'ascii'))),
          ...names.ips.map((ip) => der.implicitPrimitive(7, ipBytes(ip))),
        ),
      ),
    );
  }
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(serial),
    algorithm,
    name(o.issuer.name),
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name(o.subject),
    o.spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, o.issuer.key);
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

function newKey(): { key: KeyObject; pem: string; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    key: privateKey,
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

export interface CertificateState {
  /** What was done: nothing, a new CA and certificate, or a new server certificate. */
  action: 'kept' | 'created' | 'renewed';
  files: LocalCaFiles;
  serverNotAfter: Date;
}

/** Why the server certificate must be made anew, or undefined when it is good. */
function renewalReason(files: LocalCaFiles, names: ServerNames, now: Date): string | undefined {
  if (!fs.existsSync(files.serverCert) || !fs.existsSync(files.serverKey)) return 'missing';
  const cert = new X509Certificate(fs.readFileSync(files.serverCert));
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return 'expires soon';
  const ca = new X509Certificate(fs.readFileSync(files.caCert));
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA';
  const covered = cert.subjectAltName ?? '';
  for (const dns of names.dns) if (!covered.includes(`DNS:${dns}`)) return `does not name ${dns}`;
  for (const ip of names.ips) if (!cert.checkIP(ip)) return `does not name ${ip}`;
  return undefined;
}

/**
 * Makes the CA (once) and a server certificate for `names` when there is none, it expires within
 * RENEW_BEFORE_DAYS, or it does not cover every name. Keys are 0600, the directory 0700.
 */
export function ensureLocalCertificate(dataDir: string, names: ServerNames, now = new Date()): CertificateState {
  const files = localCaFiles(dataDir);
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(files.dir, 0o700);
  let action: CertificateState['action'] = 'kept';
  if (!fs.existsSync(files.caCert) || !fs.existsSync(files.caKey)) {
    const ca = newKey();
    const caName = `hotbridge local CA (${now.toISOString().slice(0, 10)})`;
    writeFileAtomic(files.caKey, ca.pem, 0o600);
    writeFileAtomic(
      files.caCert,
      issue({ subject: caName, spki: ca.spki, issuer: { name: caName, key: ca.key, spki: ca.spki }, days: CA_DAYS, now, ca: true }),
      0o644,
    );
    for (const file of [files.serverCert, files.serverKey]) fs.rmSync(file, { force: true });
    action = 'created';
  }
  if (renewalReason(files, names, now) !== undefined) {
    const caCert = new X509Certificate(fs.readFileSync(files.caCert));
    const caKey = createPrivateKey(fs.readFileSync(files.caKey));
    const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
    const server = newKey();
    const pem = issue({
      subject: names.dns[0] ?? 'localhost',
      spki: server.spki,
      issuer: {
        name: caCert.subject
          .split('\n')
          .find((line) => line.startsWith('CN='))!
          .slice(3),
        key: caKey,
        spki: caSpki,
      },
      days: SERVER_DAYS,
      now,
      ca: false,
      names,
    });
    writeFileAtomic(files.serverKey, server.pem, 0o600);
    // With the CA after it: the whole chain, for clients that want to be shown it.
    writeFileAtomic(files.serverCert, pem + fs.readFileSync(files.caCert, 'utf8'), 0o644);
    if (action === 'kept') action = 'renewed';
  }
  const serverNotAfter = new Date(new X509Certificate(fs.readFileSync(files.serverCert)).validTo);
  return { action, files, serverNotAfter };
}

/** Whether `hotbridge cert` has made a certificate in this data dir. */
export function hasLocalCertificate(dataDir: string): boolean {
  const files = localCaFiles(dataDir);
  return fs.existsSync(files.serverCert) && fs.existsSync(files.serverKey) && fs.existsSync(files.caCert);
}

export interface ExportedCa {
  pem: string;
  der: string;
  /** "AB:CD:…", as phones and `openssl x509 -fingerprint -sha256` show it. */
  sha256: string;
}

/** Writes the CA certificate as PEM and DER (phones import DER: `.cer`/`.crt`) into `dir`. */
export function exportCa(dataDir: string, dir: string): ExportedCa {
  const files = localCaFiles(dataDir);
  if (!fs.existsSync(files.caCert)) throw new Error('there is no local CA yet: run `hotbridge cert` first');
  const ca = new X509Certificate(fs.readFileSync(files.caCert));
  fs.mkdirSync(dir, { recursive: true });
  const pem = path.join(dir, 'hotbridge-ca.pem');
  const derFile = path.join(dir, 'hotbridge-ca.cer');
  fs.writeFileSync(pem, ca.toString());
  fs.writeFileSync(derFile, ca.raw);
  return { pem, der: derFile, sha256: ca.fingerprint256 };
}
