/**
 * allowed_networks: which client addresses may connect to the local servers at all. Checked when a
 * connection arrives, before the greeting; anything else is closed at once and logged once per address
 * (a scanner must not fill the log). The default is loopback plus the networks this host itself has a
 * private address in (RFC 1918, RFC 4193 unique-local, link-local): the home network, not the internet.
 */
import net from 'node:net';
import os from 'node:os';
import type { Logger } from './logger.js';

/** Addresses whose refusal was logged; bounded, so a flood of sources cannot grow it without end. */
const MAX_LOGGED = 10_000;

const PRIVATE_V4 = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['169.254.0.0', 16],
] as const;
const PRIVATE_V6 = [
  ['fc00::', 7],
  ['fe80::', 10],
] as const;

const privateRanges = new net.BlockList();
for (const [address, bits] of PRIVATE_V4) privateRanges.addSubnet(address, bits, 'ipv4');
for (const [address, bits] of PRIVATE_V6) privateRanges.addSubnet(address, bits, 'ipv6');

/** "::ffff:192.168.1.5" is 192.168.1.5; a zone ("fe80::1%eth0") is dropped. */
function plain(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  let bare = address.replace(/%.*$/, '');
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(bare)) bare = bare.slice(7);
  if (net.isIPv4(bare)) return { address: bare, family: 'ipv4' };
  if (net.isIPv6(bare)) return { address: bare, family: 'ipv6' };
  return undefined;
}

/**
 * This host's network interfaces, or none when they cannot be read (a sandbox without netlink sockets
 * makes os.networkInterfaces() throw): hotbridge then knows only loopback, rather than not starting.
 */
export function hostInterfaces(): NodeJS.Dict<os.NetworkInterfaceInfo[]> {
  try {
    return os.networkInterfaces();
  } catch {
    return {};
  }
}

/** The default allowed_networks: loopback and this host's own private networks (as CIDR). */
export function defaultAllowedNetworks(interfaces = hostInterfaces()): string[] {
  const networks = ['127.0.0.0/8', '::1/128'];
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.internal || !entry.cidr) continue;
      const address = plain(entry.address);
      if (!address || !privateRanges.check(address.address, address.family)) continue;
      if (!networks.includes(entry.cidr)) networks.push(entry.cidr);
    }
  }
  return networks;
}

export class NetworkGate {
  private readonly allowed = new net.BlockList();
  private readonly logged = new Set<string>();

  constructor(
    readonly networks: readonly string[],
    private readonly logger: Logger,
  ) {
    for (const network of networks) {
      const [address, bits] = network.split('/');
      const parsed = plain(address);
      if (!parsed) throw new Error(`not a network: ${network}`);
      this.allowed.addSubnet(parsed.address, bits === undefined ? (parsed.family === 'ipv4' ? 32 : 128) : Number(bits), parsed.family);
    }
  }

  /** Whether the client may connect; a refusal is logged the first time for each address. */
  admits(remoteAddress: string | undefined, what: string): boolean {
    const address = remoteAddress ? plain(remoteAddress) : undefined;
    if (address && this.allowed.check(address.address, address.family)) return true;
    const key = remoteAddress ?? 'unknown';
    if (!this.logged.has(key)) {
      if (this.logged.size >= MAX_LOGGED) this.logged.clear();
      this.logged.add(key);
      this.logger.warn(
        { remote: key, allowedNetworks: this.networks },
        `${what} connection refused: the address is outside allowed_networks (logged once per address)`,
      );
    }
    return false;
  }
}
