// The status page and Prometheus metrics over real HTTP on loopback: the three routes, what the metrics
// say for a daemon snapshot, escaping in the page and in label values, and the refusals (other methods,
// unknown paths, a Host header from DNS rebinding).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsFromSnapshot, renderPrometheus, startStatusHttp, type StatusHttpServer } from '../../../src/daemon/status-http.js';

const snapshot = {
  daemon: {
    pid: 1234,
    version: '0.1.0',
    startedAt: '2025-01-01T10:00:00.000Z',
    dataDir: '/var/lib/hotbridge',
    config: '/etc/hotbridge/config.toml',
  },
  accounts: [
    {
      address: 'ann@hotmail.com',
      provider: 'outlook',
      auth: 'oauth2',
      localPassword: true,
      pop3: {
        state: 'ok',
        lastSuccessAt: '2025-01-01T11:00:00.000Z',
        nextPollAt: '2025-01-01T11:02:00.000Z',
        messagesSynced: 42,
        progress: { done: 10, total: 400 },
      },
      outbox: {
        queued: [
          { id: 'a', attempts: 0 },
          { id: 'b', attempts: 3, lastError: '451 busy' },
        ],
      },
    },
    {
      address: 'we"ird\\name@example.org',
      provider: 'custom',
      auth: 'password',
      localPassword: false,
      pop3: { state: 'error', lastError: 'authentication failed: the provider refused the password <script>' },
      outbox: { queued: [] },
    },
  ],
  eventLoop: {
    resolutionMs: 10,
    sinceStart: { samples: 5000, meanMs: 10.2, p50Ms: 10.1, p99Ms: 14.5, maxMs: 61.3 },
    lastMinute: { samples: 600, meanMs: 10.1, p50Ms: 10.1, p99Ms: 12.25, maxMs: 20.5 },
  },
  listeners: {
    imap: {
      addresses: [
        { host: '127.0.0.1', port: 1143 },
        { host: '::1', port: 1143 },
      ],
      connections: 3,
      closedForBadCommands: 2,
    },
    smtp: { addresses: [{ host: '127.0.0.1', port: 1025 }] },
  },
};

let server: StatusHttpServer;
let port: number;
let snapshots = 0;

beforeAll(async () => {
  server = await startStatusHttp([{ host: '127.0.0.1', port: 0 }], async () => {
    snapshots++;
    return snapshot;
  });
  port = server.addresses()[0].port;
});
afterAll(async () => {
  await server?.close();
});

function request(
  pathName: string,
  options: { method?: string; host?: string } = {},
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: pathName, method: options.method ?? 'GET', headers: options.host ? { host: options.host } : {} },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('status page', () => {
  it('binds where it is told and reports the port the kernel chose', () => {
    expect(server.addresses()).toEqual([{ host: '127.0.0.1', port }]);
    expect(port).toBeGreaterThan(0);
  });

  it('GET /status: the snapshot as JSON', async () => {
    const reply = await request('/status');
    expect(reply.status).toBe(200);
    expect(reply.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.body)).toEqual(snapshot);
  });

  it('GET /: the status lines as a small HTML page, escaped', async () => {
    const reply = await request('/');
    expect(reply.status).toBe(200);
    expect(reply.type).toBe('text/html; charset=utf-8');
    expect(reply.body).toContain('<title>hotbridge status</title>');
    expect(reply.body).toContain('ann@hotmail.com (outlook, oauth2)');
    expect(reply.body).toContain('the provider refused the password &lt;script&gt;');
    expect(reply.body).not.toContain('<script>');
    expect(reply.body).toContain('<a href="/metrics">');
    expect(reply.body).toContain('(3 connected; 2 closed after too many bad commands)');
    expect(reply.body).toContain('event loop delay: p99 12.25 ms, max 20.5 ms in the last minute; max 61.3 ms since start');
  });

  it('GET /metrics: Prometheus text with up, per-account sync, messages, outbox and connections', async () => {
    const reply = await request('/metrics');
    expect(reply.status).toBe(200);
    expect(reply.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines = reply.body.split('\n');
    expect(lines).toContain('# TYPE hotbridge_up gauge');
    expect(lines).toContain('hotbridge_up 1');
    expect(lines).toContain('hotbridge_info{version="0.1.0"} 1');
    expect(lines).toContain(`hotbridge_start_time_seconds ${Date.parse('2025-01-01T10:00:00Z') / 1000}`);
    expect(lines).toContain(
      `hotbridge_account_last_sync_success_timestamp_seconds{account="ann@hotmail.com"} ${Date.parse('2025-01-01T11:00:00Z') / 1000}`,
    );
    expect(lines).toContain('hotbridge_account_sync_error{account="ann@hotmail.com"} 0');
    expect(lines).toContain('hotbridge_account_sync_error{account="we\\"ird\\\\name@example.org"} 1');
    expect(lines).toContain('# TYPE hotbridge_messages_synced_total counter');
    expect(lines).toContain('hotbridge_messages_synced_total{account="ann@hotmail.com"} 42');
    expect(lines).toContain('hotbridge_first_sync_done_messages{account="ann@hotmail.com"} 10');
    expect(lines).toContain('hotbridge_first_sync_total_messages{account="ann@hotmail.com"} 400');
    expect(lines).toContain('hotbridge_outbox_queued_messages{account="ann@hotmail.com"} 2');
    expect(lines).toContain('hotbridge_outbox_retrying_messages{account="ann@hotmail.com"} 1');
    expect(lines).toContain('hotbridge_account_local_password_set{account="we\\"ird\\\\name@example.org"} 0');
    expect(lines).toContain('hotbridge_imap_connections 3');
    expect(lines).toContain('# TYPE hotbridge_imap_closed_bad_commands_total counter');
    expect(lines).toContain('hotbridge_imap_closed_bad_commands_total 2');
    expect(lines).toContain('hotbridge_event_loop_delay_p99_seconds{window="last_minute"} 0.01225');
    expect(lines).toContain('hotbridge_event_loop_delay_max_seconds{window="since_start"} 0.0613');
    expect(lines).toContain('hotbridge_listening_addresses{protocol="imap"} 2');
    // What the snapshot does not say is left out, not invented.
    expect(reply.body).not.toMatch(/hotbridge_messages_synced_total\{account="we/);
    expect(reply.body).not.toMatch(/last_sync_success_timestamp_seconds\{account="we/);
    // Every sample line is NAME{labels} VALUE with a number.
    for (const line of lines.filter((l) => l !== '' && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_][a-z0-9_]*(\{.*\})? -?[0-9.e+]+$/);
  });

  it('HEAD answers without a body; other methods and paths are refused', async () => {
    const head = await request('/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await request('/status', { method: 'POST' })).status).toBe(405);
    expect((await request('/secret')).status).toBe(404);
  });

  it('refuses a Host header that names another site (DNS rebinding), accepts loopback names', async () => {
    const before = snapshots;
    const rebinding = await request('/status', { host: `evil.example:${port}` });
    expect(rebinding.status).toBe(421);
    expect(snapshots).toBe(before);
    expect((await request('/status', { host: `localhost:${port}` })).status).toBe(200);
    expect((await request('/status', { host: `[::1]:${port}` })).status).toBe(200);
  });

  it('reports a failing snapshot as 500 with the reason', async () => {
    const failing = await startStatusHttp([{ host: '127.0.0.1', port: 0 }], async () => {
      throw new Error('the store is closing');
    });
    try {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: failing.addresses()[0].port, path: '/status' }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      expect(reply).toEqual({ status: 500, body: 'the daemon could not report its status: the store is closing\n' });
    } finally {
      await failing.close();
    }
  });

  it('closes what it opened when one address cannot be bound', async () => {
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface: the second bind fails, the first is undone.
    await expect(
      startStatusHttp(
        [
          { host: '127.0.0.1', port: 0 },
          { host: '192.0.2.1', port: 0 },
        ],
        async () => snapshot,
      ),
    ).rejects.toThrow(/EADDRNOTAVAIL/);
  });
});

describe('metrics text', () => {
  it('escapes label values and drops families without samples', () => {
    const text = renderPrometheus([
      { name: 'x_total', help: 'an x', type: 'counter', samples: [{ labels: { a: 'line\nbreak "q" \\' }, value: 1 }] },
      { name: 'empty', help: 'nothing', type: 'gauge', samples: [] },
    ]);
    expect(text).toBe('# HELP x_total an x\n# TYPE x_total counter\nx_total{a="line\\nbreak \\"q\\" \\\\"} 1\n');
  });

  it('reads a snapshot of unknown shape without throwing', () => {
    const families = metricsFromSnapshot({ something: 'else' });
    expect(renderPrometheus(families)).toBe(
      '# HELP hotbridge_up 1 while the daemon runs and answers.\n# TYPE hotbridge_up gauge\nhotbridge_up 1\n',
    );
  });
});
