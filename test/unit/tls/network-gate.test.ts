// allowed_networks: CIDR matching (IPv4, IPv6, IPv4-mapped), one log line per refused address, and the
// default (loopback plus the host's own private networks, never a public one).
import { describe, expect, it } from 'vitest';
import { defaultAllowedNetworks, NetworkGate } from '../../../src/runtime/network-gate.js';
import type { Logger } from '../../../src/runtime/logger.js';

function recordingLogger(): { logger: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
  return { logger, warnings };
}

describe('NetworkGate', () => {
  it('admits the listed networks and refuses the rest, logging each refused address once', () => {
    const { logger, warnings } = recordingLogger();
    const gate = new NetworkGate(['127.0.0.0/8', '::1/128', '192.168.1.0/24', 'fd00::/8', '10.9.8.7'], logger);
    for (const ok of ['127.0.0.1', '127.5.5.5', '::1', '192.168.1.200', '::ffff:192.168.1.3', 'fd12::1', '10.9.8.7'])
      expect(gate.admits(ok, 'POP3'), ok).toBe(true);
    for (const no of ['192.168.2.1', '8.8.8.8', '10.9.8.6', 'fe80::1', '::ffff:8.8.8.8', undefined])
      expect(gate.admits(no, 'POP3'), String(no)).toBe(false);
    expect(warnings).toHaveLength(6);
    expect(gate.admits('8.8.8.8', 'IMAP')).toBe(false);
    expect(warnings).toHaveLength(6);
  });

  it('defaults to loopback and the private networks of the host, not its public ones', () => {
    const interfaces = {
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [
        {
          address: '192.168.1.20',
          netmask: '255.255.255.0',
          family: 'IPv4',
          mac: '02:00:00:00:00:01',
          internal: false,
          cidr: '192.168.1.20/24',
        },
        {
          address: 'fe80::1',
          netmask: 'ffff:ffff:ffff:ffff::',
          family: 'IPv6',
          mac: '02:00:00:00:00:01',
          internal: false,
          cidr: 'fe80::1/64',
          scopeid: 2,
        },
      ],
      wan0: [
        {
          address: '203.0.113.5',
          netmask: '255.255.255.0',
          family: 'IPv4',
          mac: '02:00:00:00:00:02',
          internal: false,
          cidr: '203.0.113.5/24',
        },
      ],
    } as unknown as ReturnType<typeof import('node:os').networkInterfaces>;
    const networks = defaultAllowedNetworks(interfaces);
    expect(networks).toEqual(['127.0.0.0/8', '::1/128', '192.168.1.20/24', 'fe80::1/64']);
    const gate = new NetworkGate(networks, recordingLogger().logger);
    expect(gate.admits('192.168.1.77', 'IMAP')).toBe(true);
    expect(gate.admits('203.0.113.9', 'IMAP')).toBe(false);
  });
});
