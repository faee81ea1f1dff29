// POP3 in `hotbridge status` and /metrics: the listener's addresses, the clients connected now and the
// sessions since start, from the daemon's snapshot.
import { describe, expect, it } from 'vitest';
import { metricsFromSnapshot, renderPrometheus } from '../../../src/daemon/status-http.js';
import { formatStatus, type StatusSnapshot } from '../../../src/runtime/status-format.js';

const snapshot: StatusSnapshot = {
  daemon: { pid: 42, version: '0.1.0', startedAt: new Date(Date.now() - 60_000).toISOString(), dataDir: '/d', config: '/c' },
  accounts: [],
  listeners: {
    imap: { addresses: [{ host: '127.0.0.1', port: 1143 }], connections: 1 },
    smtp: { addresses: [{ host: '127.0.0.1', port: 1025 }], connections: 0 },
    pop3: {
      addresses: [
        { host: '127.0.0.1', port: 1110 },
        { host: '::1', port: 1110 },
        { host: '192.168.1.5', port: 1995, tls: 'implicit' },
      ],
      connections: 2,
      sessions: 17,
    },
  },
};

describe('POP3 in status and metrics', () => {
  it('the status text has a POP3 line', () => {
    expect(formatStatus(snapshot)).toContain(
      '  POP3: 127.0.0.1:1110, [::1]:1110, 192.168.1.5:1995 (TLS) (2 connected, 17 sessions since start)\n',
    );
  });

  it('/metrics has the connections gauge, the sessions counter and the listening addresses', () => {
    const text = renderPrometheus(metricsFromSnapshot(snapshot));
    expect(text).toContain('# TYPE hotbridge_pop3_connections gauge\nhotbridge_pop3_connections 2\n');
    expect(text).toContain('# TYPE hotbridge_pop3_sessions_total counter\nhotbridge_pop3_sessions_total 17\n');
    expect(text).toContain('hotbridge_listening_addresses{protocol="pop3"} 3\n');
  });
});
