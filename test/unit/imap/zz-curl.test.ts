import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'vitest';
import { startTestServer, USER } from '../../helpers/imap-server.js';
test('curl', async () => {
  const t = await startTestServer();
  await t.store.appendMessage(t.store.findMailbox(USER, 'INBOX')!.id, fs.readFileSync('test/fixtures/imap/multipart.eml'));
  const url = `imap://127.0.0.1:${t.port}`;
  const run = (...args: string[]) => { try { return execFileSync('curl', ['-sS', '-v', '--user', `${USER}:secret`, ...args], { encoding: 'latin1', stdio: ['pipe', 'pipe', 'pipe'] }); } catch (e) { return String((e as { stderr?: string }).stderr ?? e); } };
  console.log(run(`${url}/`));
  console.log(run(`${url}/INBOX;UID=1`).slice(0, 300));
  console.log(run(`${url}/INBOX`, '-X', 'FETCH 1:* (UID FLAGS)'));
  fs.writeFileSync('/tmp/m.eml', 'Subject: via curl\r\n\r\nhello\r\n');
  console.log(run('-T', '/tmp/m.eml', `${url}/Sent`));
  console.log(run(`${url}/Sent`, '-X', 'UID SEARCH ALL'));
  await t.destroy();
});
