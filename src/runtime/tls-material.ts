/**
 * The certificate a local listener table ([imap], [pop3], [smtp]) serves, and its TLS settings: the
 * user's own tls_cert/tls_key when set, else the one `hotbridge cert` made in the data dir, else none
 * (then no STARTTLS/STLS and no implicit-TLS listener).
 *
 * tls_min_version "TLSv1"/"TLSv1.1" is for old devices only: OpenSSL 3 refuses those versions at its
 * default security level (their handshakes sign with SHA-1/MD5), so the listener also runs at
 * security level 0 (`@SECLEVEL=0`), which lets old, weaker ciphers in. The daemon WARNs about it.
 */
import fs from 'node:fs';
import tls, { type SecureContext } from 'node:tls';
import type { LocalTls } from '../config/types.js';
import { hasLocalCertificate, localCaFiles } from './local-ca.js';

export interface TlsSource {
  cert: Buffer;
  key: Buffer;
  /** Where it came from, for the log: "imap.tls_cert" or "hotbridge cert". */
  origin: string;
}

/** The certificate for a table, or undefined when there is none. */
export function tlsSource(settings: LocalTls, table: string, dataDir: string): TlsSource | undefined {
  if (settings.certFile && settings.keyFile) {
    return { cert: fs.readFileSync(settings.certFile), key: fs.readFileSync(settings.keyFile), origin: `${table}.tls_cert` };
  }
  if (hasLocalCertificate(dataDir)) {
    const files = localCaFiles(dataDir);
    return { cert: fs.readFileSync(files.serverCert), key: fs.readFileSync(files.serverKey), origin: 'hotbridge cert' };
  }
  return undefined;
}

/** Whether the version needs OpenSSL's security level 0. */
export function needsLegacyTls(minVersion: LocalTls['tlsMinVersion']): boolean {
  return minVersion === 'TLSv1' || minVersion === 'TLSv1.1';
}

/** The secure context for a listener table's settings. */
export function secureContext(source: TlsSource, minVersion: LocalTls['tlsMinVersion']): SecureContext {
  return tls.createSecureContext({
    cert: source.cert,
    key: source.key,
    minVersion,
    ...(needsLegacyTls(minVersion) ? { ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0` } : {}),
  });
}
