// `UID FETCH 1:* (UID FLAGS)` and `UID SEARCH UNSEEN` on a 100,000-message mailbox, over a real socket:
// every message answered, in order, with its flags. How fast is a benchmark figure (`npm run bench --
// imap` measures this command against Dovecot), not an assertion: a timed test fails on a loaded machine.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../../helpers/imap-server.js';

const COUNT = 100_000;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  // The poller's ingest path stores many messages per durable batch: the fastest way to fill a mailbox.
  for (let batch = 0; batch < COUNT / 5000; batch++) {
    const items = Array.from({ length: 5000 }, (_, i) => {
      const n = batch * 5000 + i;
      return { uidl: `u${n}`, raw: Buffer.from(`Subject: message ${n}\r\nMessage-ID: <${n}@example.test>\r\n\r\nbody ${n}\r\n`) };
    });
    await server.store.ingestPop3(USER, items);
  }
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
    // Twice: the second answer comes from what the first left in memory.
    for (let round = 0; round < 2; round++) {
      const lines = await client.command('c', 'UID FETCH 1:* (UID FLAGS)', 60_000);
      expect(lines).toHaveLength(COUNT + 1);
      expect(lines[0]).toBe('* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))');
      expect(lines[COUNT - 1]).toBe(`* ${COUNT} FETCH (UID ${COUNT} FLAGS (\\Recent))`);
      expect(lines.slice(0, COUNT).every((line, i) => line.startsWith(`* ${i + 1} FETCH (UID ${i + 1} FLAGS (`))).toBe(true);
    }
    const search = await client.command('d', 'UID SEARCH UNSEEN', 60_000);
    expect(search[0].split(' ').length).toBe(2 + COUNT / 2);
  } finally {
    client.close();
  }
});
