import fsp from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import { it } from 'vitest';
import { startLab } from '../helpers/lab.js';

function pop3Login(host: string, port: number, ca: Buffer, user: string, pass: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca, servername: 'localhost' });
    let buf = ''; let step = 0;
    s.on('data', (d) => { buf += d.toString(); let i; while ((i = buf.indexOf('\r\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 2);
      if (step === 0) { s.write(`USER ${user}\r\n`); step = 1; } else if (step === 1) { s.write(`PASS ${pass}\r\n`); step = 2; } else { s.destroy(); resolve(l); } } });
    s.on('error', reject);
  });
}

it('scratch', async () => {
  const lab = await startLab({ imap: true });
  try {
    await lab.addUser('rev@example.test', 'x');
    // 2) reverse rename order
    const md = path.join(lab.dir, 'dovecot/mail/rev@example.test/Maildir');
    await lab.injectMessage('rev@example.test', Buffer.from('Subject: first\r\n\r\nx\r\n'));
    await lab.clearMaildir('rev@example.test');
    const names = Array.from({ length: 30 }, (_, i) => `${1700000000 + Math.floor(i / 10)}.M${String((i % 10) * 7).padStart(6, '0')}P1Q${i}.x`);
    for (let i = 0; i < 30; i++) await fsp.writeFile(path.join(md, 'tmp', names[i]), `Subject: n${i}\r\n\r\nx\r\n`);
    for (let i = 29; i >= 0; i--) { await fsp.chown(path.join(md, 'tmp', names[i]), 65534, 65534); await fsp.rename(path.join(md, 'tmp', names[i]), path.join(md, 'new', names[i])); }
    const out = await new Promise<string>((resolve) => {
      const s = net.connect(lab.imapPort!, lab.host); let buf = '';
      s.on('connect', () => s.write('a LOGIN rev@example.test x\r\n'));
      s.on('data', (d) => { buf += d.toString(); if (buf.includes('a OK') && !buf.includes('b SELECT')) { buf += 'b SELECT'; s.write('b SELECT INBOX\r\nz FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n'); } if (buf.includes('z OK')) { s.destroy(); resolve(buf); } });
      setTimeout(() => { s.destroy(); resolve(buf); }, 3000);
    });
    console.log(JSON.stringify(out));
  } finally { await lab.stop(); }
});
