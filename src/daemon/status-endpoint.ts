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
/**
 * A store command run by the daemon for a CLI command (`hotbridge verify`, `hotbridge backup`), which
 * cannot open the store while the daemon holds it: `POST /store/ACTION` with a JSON body, answered with JSON.
 */
export type StoreCommandHandler = (action: string, body: unknown) => Promise<unknown>;

/** The largest JSON body a store command takes (a file name and a few options). */
const MAX_COMMAND_BODY = 64 * 1024;

export async function startStatusEndpoint(
  dataDir: string,
  snapshot: () => unknown | Promise<unknown>,
  wake: () => void = () => undefined,
  storeCommand?: StoreCommandHandler,
): Promise<StatusEndpoint> {
  const socketPath = statusSocketPath(dataDir);
  // A socket file left by a crash would make listen fail with EADDRINUSE; we hold the instance lock.
  fs.rmSync(socketPath, { force: true });
  const server = http.createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/wake') {
      wake();
      response.writeHead(204).end();
      return;
    }
    const command = request.method === 'POST' && storeCommand ? /^\/store\/([a-z-]+)$/.exec(request.url ?? '') : null;
    if (command && storeCommand) {
      readJsonBody(request).then(
        (body) =>
          storeCommand(command[1], body).then(
            (value) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value)),
            (err: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
          ),
        (err: Error) => response.writeHead(400, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
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
    const request = http.request(
      { socketPath: statusSocketPath(dataDir), path: '/wake', method: 'POST', timeout: timeoutMs },
      (response) => {
        response.resume();
        resolve(response.statusCode === 204);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end();
  });
}

function readJsonBody(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_COMMAND_BODY) {
        request.destroy();
        reject(new Error('request too large'));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      try {
        resolve(size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('the request is not JSON'));
      }
    });
    request.on('error', reject);
  });
}

/**
 * Asks the running daemon to run a store command (verify, backup); undefined when no daemon answers.
 * No deadline by default: a backup of ten years of mail takes as long as it takes.
 */
export function runStoreCommand(dataDir: string, action: string, body: unknown, timeoutMs = 0): Promise<unknown | undefined> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const request = http.request(
      {
        socketPath: statusSocketPath(dataDir),
        path: `/store/${action}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode !== 200) {
            reject(new Error(text.trim() || `the daemon answered ${response.statusCode}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('the daemon did not answer in time')));
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(err);
    });
    request.end(payload);
  });
}
