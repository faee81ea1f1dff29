/**
 * `hotbridge cert`: makes (once) the local certificate authority and a server certificate for localhost,
 * this host's name and the listen addresses, kept in the data dir (keys 0600). From then on the plain
 * listeners offer STARTTLS/STLS and `tls_listen` addresses (IMAPS, POP3S, SMTPS) can be used; a running
 * hotbridge picks it up at a reload. Run again after adding a listen address: the certificate is made
 * anew when it does not name every address (or expires within 30 days; the daemon also renews it).
 *
 * `hotbridge cert export [--dir DIR]`: writes the CA certificate as PEM and DER (phones import DER) and
 * prints its SHA-256 fingerprint, to compare with what the device shows before trusting it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetchStatus } from '../../daemon/status-endpoint.js';
import { certificateNames } from '../../daemon/certificate-names.js';
import { ensureLocalCertificate, exportCa } from '../../runtime/local-ca.js';
import { loadConfigOrExplain, UserError } from '../config-option.js';

/** Asks a running daemon of this data dir to reload (SIGHUP), which serves the new certificate. */
async function signalReload(dataDir: string): Promise<boolean> {
  const snapshot = (await fetchStatus(dataDir).catch(() => undefined)) as { daemon?: { pid?: number } } | undefined;
  const pid = snapshot?.daemon?.pid;
  if (typeof pid !== 'number') return false;
  try {
    process.kill(pid, 'SIGHUP');
    return true;
  } catch {
    return false;
  }
}

export async function runCert(o: { config?: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(o.config);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const names = certificateNames(config);
  const state = ensureLocalCertificate(config.dataDir, names);
  const what =
    state.action === 'created'
      ? 'Made a local certificate authority (CA) and a server certificate'
      : state.action === 'renewed'
        ? 'Made a new server certificate (the CA stays the same: devices that trust it need nothing new)'
        : 'The certificate is in place and good';
  o.out.write(
    [
      `${what}, valid until ${state.serverNotAfter.toISOString().slice(0, 10)}, for:`,
      `  ${[...names.dns, ...names.ips].join(', ')}`,
      `Kept in ${state.files.dir} (the keys readable by you only). hotbridge renews it before it expires.`,
      'With it, the IMAP, POP3 and SMTP ports offer STARTTLS/STLS, and tls_listen (IMAPS, POP3S, SMTPS) can be switched on.',
      'For a phone or another computer: hotbridge cert export, then import hotbridge-ca.cer there (docs/clients/phones.md).',
      '',
    ].join('\n'),
  );
  if (state.action !== 'kept' && (await signalReload(config.dataDir))) o.out.write('The running hotbridge uses it now.\n');
  return 0;
}

export async function runCertExport(o: { config?: string; dir?: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(o.config);
  let exported;
  try {
    exported = exportCa(config.dataDir, path.resolve(o.dir ?? '.'));
  } catch (err) {
    throw new UserError((err as Error).message, 1);
  }
  o.out.write(
    [
      'The hotbridge CA certificate:',
      `  ${exported.der}   (DER: for phones, Windows, macOS)`,
      `  ${exported.pem}   (PEM: for Linux and most programs)`,
      `SHA-256 fingerprint: ${exported.sha256}`,
      'Compare this fingerprint with the one the device shows before you trust the certificate.',
      '',
    ].join('\n'),
  );
  return 0;
}
