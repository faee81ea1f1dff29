// What status says about SMTP connections the server closed and about local logins: the plain text
// (`hotbridge status`), and the Prometheus families (/metrics). Fields a snapshot lacks stay out.
import { describe, expect, it } from 'vitest';
import { metricsFromSnapshot, renderPrometheus } from '../../../src/daemon/status-http.js';
import { formatStatus, type StatusSnapshot } from '../../../src/runtime/status-format.js';

const base: StatusSnapshot = {
  daemon: { pid: 1, version: '0.1.0', startedAt: '2025-01-01T10:00:00.000Z', dataDir: '/d', config: '/c' },
  accounts: [],
  listeners: { imap: { addresses: [], connections: 0 }, smtp: { addresses: [{ host: '127.0.0.1', port: 1025 }], connections: 2 } },
};

describe('status: SMTP closes and local logins', () => {
  it('shows the reasons the SMTP server closed connections, only those that happened', () => {
    const quiet = formatStatus({
      ...base,
      listeners: { ...base.listeners, smtp: { ...base.listeners.smtp, closedForErrors: 0, closedForRoom: 0 } },
    });
    expect(quiet).toContain('SMTP: 127.0.0.1:1025 (2 connected)');
    const busy = formatStatus({
      ...base,
      listeners: { ...base.listeners, smtp: { ...base.listeners.smtp, closedForErrors: 3, closedForLoginDeadline: 1, closedIdle: 0 } },
    });
    expect(busy).toContain('SMTP: 127.0.0.1:1025 (2 connected; closed since start: 3 for errors, 1 without login in time)');
  });

  it('shows refused local logins once there are any', () => {
    expect(formatStatus({ ...base, localLogins: { successes: 5, failures: 0, cacheHits: 4 } })).not.toContain('local logins');
    expect(formatStatus({ ...base, localLogins: { successes: 5, failures: 50, cacheHits: 4 } })).toContain(
      'local logins since start: 5 accepted (4 from the cache), 50 refused',
    );
  });

  it('exports the counters as Prometheus counters', () => {
    const text = renderPrometheus(
      metricsFromSnapshot({
        ...base,
        listeners: { ...base.listeners, smtp: { ...base.listeners.smtp, closedForErrors: 3, closedForRoom: 1 } },
        localLogins: { successes: 5, failures: 50, dropped: 40, hashes: 12 },
      }),
    );
    expect(text).toContain('# TYPE hotbridge_smtp_closed_connections_total counter');
    expect(text).toContain('hotbridge_smtp_closed_connections_total{reason="errors"} 3');
    expect(text).toContain('hotbridge_smtp_closed_connections_total{reason="room"} 1');
    expect(text).not.toContain('reason="idle"');
    expect(text).toContain('hotbridge_local_logins_total{result="refused"} 50');
    expect(text).toContain('hotbridge_local_logins_total{result="abandoned"} 40');
    expect(text).toContain('hotbridge_local_login_hashes_total 12');
  });
});
