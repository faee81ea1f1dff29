/**
 * Which local listeners may face the network, decided once at start (and at each reload) from the config
 * and the certificate at hand: a non-loopback address needs TLS (a certificate: STARTTLS/STLS then comes
 * before any login) or an explicit `allow_plaintext_lan = true`; implicit-TLS listeners need a
 * certificate. A refusal is a config error (exit code 2) naming both ways out. Choices that weaken
 * security are allowed but said out loud (WARN at start).
 */
import { isLoopbackHost } from '../config/loopback.js';
import type { HotbridgeConfig, ListenAddress, LocalTls } from '../config/types.js';
import { needsLegacyTls } from '../runtime/tls-material.js';

export type ListenerTable = 'imap' | 'pop3' | 'smtp';
export const LISTENER_TABLES: readonly ListenerTable[] = ['imap', 'pop3', 'smtp'];

const hostPort = (a: ListenAddress) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export interface ExposureReport {
  /** Config errors: the daemon does not start. */
  problems: string[];
  /** Allowed, but worth a WARN. */
  warnings: string[];
}

/** `hasCertificate(table)`: whether the table has a certificate (its own tls_cert, or `hotbridge cert`'s). */
export function checkExposure(config: HotbridgeConfig, hasCertificate: (table: ListenerTable) => boolean): ExposureReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const table of LISTENER_TABLES) {
    const settings: LocalTls & { listen: ListenAddress[] } = config[table];
    const exposed = settings.listen.filter((address) => !isLoopbackHost(address.host));
    const certificate = hasCertificate(table);
    if (exposed.length > 0 && !certificate && !settings.allowPlaintextLan) {
      problems.push(
        `${table}.listen: ${exposed.map(hostPort).join(', ')} is not loopback, so passwords would cross the network in the clear. ` +
          `Either turn TLS on (run \`hotbridge cert\`, or set ${table}.tls_cert and ${table}.tls_key), ` +
          `or, on a home network you trust, set ${table}.allow_plaintext_lan = true`,
      );
    }
    if (settings.tlsListen.length > 0 && !certificate) {
      problems.push(
        `${table}.tls_listen: ${settings.tlsListen.map(hostPort).join(', ')} needs a certificate: run \`hotbridge cert\`, or set ${table}.tls_cert and ${table}.tls_key`,
      );
    }
    if (settings.allowPlaintextLan && exposed.length > 0) {
      warnings.push(
        `${table}.allow_plaintext_lan is on: clients on ${exposed.map(hostPort).join(', ')} may log in without TLS, so their passwords and mail cross the network unencrypted`,
      );
    }
    if (needsLegacyTls(settings.tlsMinVersion) && (certificate || settings.tlsListen.length > 0)) {
      warnings.push(
        `${table}.tls_min_version = "${settings.tlsMinVersion}": old TLS versions are accepted, with OpenSSL's security level lowered to 0 for their ciphers; use it only for devices that cannot do TLS 1.2`,
      );
    }
  }
  return { problems, warnings };
}
