/**
 * Loopback: where hotbridge may speak plaintext and where its limits count every client as one.
 * On Linux any address of 127.0.0.0/8 reaches a loopback listener, so all of them are loopback.
 */
import net from 'node:net';

/** 127.0.0.0/8, ::1 (also IPv4-mapped and bracketed) and the names localhost / *.localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) {
    if (bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
    return mapped !== null && mapped[1].startsWith('127.');
  }
  return false;
}

/**
 * The client a connection or login attempt is counted against: every loopback address is one client
 * ("loopback"), so a local process cannot sidestep a per-client limit by picking a fresh 127.x source;
 * an IPv4-mapped IPv6 address is the IPv4 address it maps.
 */
export function clientAddressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (isLoopbackHost(address)) return 'loopback';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.toLowerCase();
}
