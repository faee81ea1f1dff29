// Tests that each need their own hotbridge IMAP server (different limits, a clean store) and raw
// clients on it: whatever a test started is closed after it, even when it failed.
import { afterEach, expect } from 'vitest';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from './imap-server.js';

export interface ServerPerTest {
  /** Starts this test's server (startTestServer's arguments). */
  start(...args: Parameters<typeof startTestServer>): Promise<TestServer>;
  /** A raw client, closed after the test. */
  connect(port: number, host?: string): Promise<LineClient>;
  /** A raw client past the greeting, logged in as USER, with INBOX selected (tags a1, a2). */
  loggedIn(port: number): Promise<LineClient>;
}

/** Call at the top level of a test file: closes the clients, then destroys the server, after each test. */
export function serverPerTest(): ServerPerTest {
  let server: TestServer | undefined;
  const clients: LineClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.destroy();
    server = undefined;
  });
  const perTest: ServerPerTest = {
    async start(...args) {
      server = await startTestServer(...args);
      return server;
    },
    async connect(port, host) {
      const client = await LineClient.connect(port, host);
      clients.push(client);
      return client;
    },
    async loggedIn(port) {
      const client = await perTest.connect(port);
      expect(await client.readLine()).toMatch(/^\* OK /);
      expect((await client.command('a1', `LOGIN ${USER} ${PASSWORD}`)).at(-1)).toMatch(/^a1 OK /);
      expect((await client.command('a2', 'SELECT INBOX')).at(-1)).toMatch(/^a2 OK /);
      return client;
    },
  };
  return perTest;
}
