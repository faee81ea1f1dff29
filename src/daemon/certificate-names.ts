/**
 * The names the server certificate of `hotbridge cert` covers: localhost, this host's name (and
 * NAME.local, how phones find it by mDNS), and the addresses hotbridge listens on. A wildcard listen
 * address (0.0.0.0, ::) stands for every address of the host.
 */
import net from 'node:net';
import os from 'node:os';
import type { HotbridgeConfig } from '../config/types.js';
import type { ServerNames } from '../runtime/local-ca.js';
import { hostInterfaces } from '../runtime/network-gate.js';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function certificateNames(config: HotbridgeConfig, hostname = os.hostname(), interfaces = hostInterfaces()): ServerNames {
  const dns = new Set<string>(['localhost']);
  const host = hostname.toLowerCase();
  if (host.split('.').every((label) => DNS_LABEL.test(label))) {
    dns.add(host);
    if (!host.includes('.')) dns.add(`${host}.local`);
  }
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const tables = [config.imap, config.pop3, config.smtp];
  for (const address of tables.flatMap((table) => [...table.listen, ...table.tlsListen])) {
    const bare = address.host.replace(/^\[(.*)\]$/, '$1');
    if (bare === '0.0.0.0' || bare === '::') {
      for (const entries of Object.values(interfaces)) {
        for (const entry of entries ?? []) if (!/%/.test(entry.address)) ips.add(entry.address);
      }
    } else if (net.isIP(bare)) {
      ips.add(bare);
    } else if (bare.split('.').every((label) => DNS_LABEL.test(label))) {
      dns.add(bare.toLowerCase());
    }
  }
  return { dns: [...dns], ips: [...ips] };
}
