// The [pop3] table, the TLS and home-network keys of [imap]/[pop3]/[smtp], allowed_networks; which
// listeners may face the network (checkExposure) and the names the certificate covers.
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../../src/config/load.js';
import { parse } from 'smol-toml';
import { certificateNames } from '../../../src/daemon/certificate-names.js';
import { checkExposure } from '../../../src/daemon/exposure.js';

const ACCOUNT = '[[accounts]]\naddress = "a@hotmail.com"\n';
const load = (toml: string) => resolveConfig(parse(toml), '/etc/hotbridge/config.toml');
const problems = (toml: string): string[] => {
  try {
    load(toml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('[pop3] and the TLS keys', () => {
  it('defaults: POP3 on both loopbacks at 1110, TLS 1.2, no implicit TLS, no plaintext LAN, default networks', () => {
    const config = load(ACCOUNT);
    expect(config.pop3.listen).toEqual([
      { host: '127.0.0.1', port: 1110 },
      { host: '::1', port: 1110, optional: true },
    ]);
    for (const table of [config.imap, config.pop3, config.smtp])
      expect(table).toMatchObject({ tlsListen: [], tlsMinVersion: 'TLSv1.2', allowPlaintextLan: false });
    expect(config.allowedNetworks).toBeUndefined();
  });

  it('reads every key', () => {
    const config = load(
      'allowed_networks = ["127.0.0.0/8", "192.168.1.0/24", "fd00::/8", "10.0.0.5"]\n' +
        '[pop3]\nlisten = ["192.168.1.2:1110"]\ntls_listen = ["192.168.1.2:1995"]\ntls_min_version = "TLSv1"\nallow_plaintext_lan = true\nmax_connections = 9\nmax_connections_per_address = 3\ntls_cert = "c.pem"\ntls_key = "k.pem"\n' +
        ACCOUNT,
    );
    expect(config.pop3).toMatchObject({
      listen: [{ host: '192.168.1.2', port: 1110 }],
      tlsListen: [{ host: '192.168.1.2', port: 1995 }],
      tlsMinVersion: 'TLSv1',
      allowPlaintextLan: true,
      maxConnections: 9,
      maxConnectionsPerAddress: 3,
      certFile: '/etc/hotbridge/c.pem',
      keyFile: '/etc/hotbridge/k.pem',
    });
    expect(config.allowedNetworks).toEqual(['127.0.0.0/8', '192.168.1.0/24', 'fd00::/8', '10.0.0.5']);
  });

  it.each([
    [
      'a bad TLS version',
      '[pop3]\ntls_min_version = "SSLv3"\n',
      'pop3.tls_min_version: expected "TLSv1.2" (the default), "TLSv1.3", or for old devices "TLSv1.1" or "TLSv1"',
    ],
    [
      'a bad network',
      'allowed_networks = ["192.168.1.0/33"]\n',
      'allowed_networks[0]: expected a network like "192.168.1.0/24" or "fd00::/8"',
    ],
    [
      'a host name as network',
      'allowed_networks = ["home.lan"]\n',
      'allowed_networks[0]: expected a network like "192.168.1.0/24" or "fd00::/8"',
    ],
    ['a certificate without its key', '[imap]\ntls_cert = "c.pem"\n', 'imap.tls_key: tls_cert and tls_key go together'],
    ['a bad tls_listen', '[smtp]\ntls_listen = ["127.0.0.1:99999"]\n', 'smtp.tls_listen[0]: the port must be a number from 1 to 65535'],
    ['a typo', '[pop3]\nlisten_tls = []\n', 'pop3.listen_tls: unknown key in [pop3] (did you mean tls_listen?)'],
  ])('%s is a one-line error naming the key', (_what, toml, problem) => {
    expect(problems(toml + ACCOUNT)).toEqual([problem]);
  });
});

describe('checkExposure', () => {
  it('loopback needs nothing; a LAN address needs a certificate or allow_plaintext_lan; tls_listen needs a certificate', () => {
    expect(checkExposure(load(ACCOUNT), () => false)).toEqual({ problems: [], warnings: [] });
    const lan = load('[pop3]\nlisten = ["192.168.1.2:1110"]\n[smtp]\ntls_listen = ["127.0.0.1:1465"]\n' + ACCOUNT);
    const refused = checkExposure(lan, () => false);
    expect(refused.problems).toEqual([
      'pop3.listen: 192.168.1.2:1110 is not loopback, so passwords would cross the network in the clear. Either turn TLS on (run `hotbridge cert`, or set pop3.tls_cert and pop3.tls_key), or, on a home network you trust, set pop3.allow_plaintext_lan = true',
      'smtp.tls_listen: 127.0.0.1:1465 needs a certificate: run `hotbridge cert`, or set smtp.tls_cert and smtp.tls_key',
    ]);
    expect(checkExposure(lan, () => true)).toEqual({ problems: [], warnings: [] });
    const plaintext = load('[pop3]\nlisten = ["192.168.1.2:1110"]\nallow_plaintext_lan = true\n' + ACCOUNT);
    const allowed = checkExposure(plaintext, () => false);
    expect(allowed.problems).toEqual([]);
    expect(allowed.warnings).toEqual([
      'pop3.allow_plaintext_lan is on: clients on 192.168.1.2:1110 may log in without TLS, so their passwords and mail cross the network unencrypted',
    ]);
  });

  it('WARNs about TLSv1 where TLS is on', () => {
    const old = load('[imap]\ntls_min_version = "TLSv1"\n' + ACCOUNT);
    expect(checkExposure(old, () => false).warnings).toEqual([]);
    expect(checkExposure(old, (table) => table === 'imap').warnings).toEqual([
      'imap.tls_min_version = "TLSv1": old TLS versions are accepted, with OpenSSL\'s security level lowered to 0 for their ciphers; use it only for devices that cannot do TLS 1.2',
    ]);
  });
});

describe('certificateNames', () => {
  it('localhost, the host name (and NAME.local), loopback, the listen addresses; a wildcard stands for every address', () => {
    const interfaces = {
      eth0: [{ address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: '192.168.1.20/24' }],
    } as unknown as ReturnType<typeof import('node:os').networkInterfaces>;
    const config = load(
      '[pop3]\nlisten = ["127.0.0.1:1110", "10.0.0.7:1110"]\ntls_listen = ["0.0.0.0:1995", "[fd00::7]:1995", "mybox.lan:1996"]\n' + ACCOUNT,
    );
    expect(certificateNames(config, 'MyBox', interfaces)).toEqual({
      dns: ['localhost', 'mybox', 'mybox.local', 'mybox.lan'],
      ips: ['127.0.0.1', '::1', '10.0.0.7', '192.168.1.20', 'fd00::7'],
    });
  });
});
