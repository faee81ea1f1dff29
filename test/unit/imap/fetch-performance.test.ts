// `UID FETCH 1:* (UID FLAGS)` and `UID SEARCH UNSEEN` on a 100,000-message mailbox, over a real socket:
// every response is there and right. How long they take is a benchmark figure (npm run bench -- imap,
// against Dovecot), never an assertion here: the machine may be loaded.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../../helpers/imap-server.js';

const COUNT = 100_000;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  const started = Date.now();
  // The poller's ingest path stores many messages per durable batch: the fastest way to fill a mailbox.
  for (let batch = 0; batch < COUNT / 5000; batch++) {
    const items = Array.from({ length: 5000 }, (_, i) => {
      const n = batch * 5000 + i;
      return { uidl: `u${n}`, raw: Buffer.from(`Subject: message ${n}\r\nMessage-ID: <${n}@example.test>\r\n\r\nbody ${n}\r\n`) };
    });
    await server.store.ingestPop3(USER, items);
  }
  console.log(`filled ${COUNT} messages in ${Date.now() - started} ms`);
}, 180_000);

afterAll(async () => {
  await server?.destroy();
});

test(`UID FETCH 1:* (UID FLAGS) over ${COUNT} messages`, async () => {
  const client = await LineClient.connect(server.port);
  try {
    await client.readLine();
    await client.command('a', `LOGIN ${USER} ${PASSWORD}`);
    const select = await client.command('b', 'SELECT INBOX');
    expect(select).toContain(`* ${COUNT} EXISTS`);
    await client.command('s', 'STORE 1:50000 +FLAGS.SILENT (\\Seen)', 60_000);
    for (let round = 0; round < 2; round++) {
      const started = performance.now();
      const lines = await client.command('c', 'UID FETCH 1:* (UID FLAGS)', 30_000);
      const elapsed = performance.now() - started;
      console.log(`UID FETCH 1:* (UID FLAGS): ${lines.length - 1} responses in ${elapsed.toFixed(0)} ms`);
      expect(lines).toHaveLength(COUNT + 1);
      expect(lines[0]).toBe('* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))');
      expect(lines[COUNT - 1]).toBe(`* ${COUNT} FETCH (UID ${COUNT} FLAGS (\\Recent))`);
    }
    const started = performance.now();
    const search = await client.command('d', 'UID SEARCH UNSEEN', 30_000);
    console.log(`UID SEARCH UNSEEN: ${(performance.now() - started).toFixed(0)} ms`);
    expect(search[0].split(' ').length).toBe(2 + COUNT / 2);
  } finally {
    client.close();
  }
});
