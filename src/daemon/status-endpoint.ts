/**
 * The status endpoint: HTTP on a Unix socket in the data dir (0600, so only the owner may read it).
 * `hotbridge status` asks it while the daemon runs; it never needs the store's lock.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export function statusSocketPath(dataDir: string): string {
  return path.join(dataDir, 'hotbridge.sock');
}

export interface StatusEndpoint {
  close(): Promise<void>;
}

/**
 * Serves `GET /status` with the JSON that `snapshot()` returns, and `POST /wake`, which a command that just
 * changed something the daemon waits on (a new sign-in) uses to make it try again at once.
 */
export async function startStatusEndpoint(dataDir: string, snapshot: () => unknown | Promise<unknown>, wake: () => void = () => undefined): Promise<StatusEndpoint> {
  const socketPath = statusSocketPath(dataDir);
  // A socket file left by a crash would make listen fail with EADDRINUSE; we hold the instance lock.
  fs.rmSync(socketPath, { force: true });
  const server = http.createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/wake') {
      wake();
      response.writeHead(204).end();
      return;
    }
    if (request.method !== 'GET' || (request.url !== '/status' && request.url !== '/')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.resolve()
      .then(snapshot)
      .then(
        (value) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value)),
        (err: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Asks a running daemon for its status; undefined when none answers. */
export function fetchStatus(dataDir: string, timeoutMs = 5000): Promise<unknown | undefined> {
  return new Promise((resolve, reject) => {
    const request = http.get({ socketPath: statusSocketPath(dataDir), path: '/status', timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('the daemon did not answer in time')));
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(err);
    });
  });
}

/** Asks a running daemon to retry what waits on the user now (after `hotbridge login`); false when none runs. */
export function wakeDaemon(dataDir: string, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.request({ socketPath: statusSocketPath(dataDir), path: '/wake', method: 'POST', timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode === 204);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end();
  });
}
