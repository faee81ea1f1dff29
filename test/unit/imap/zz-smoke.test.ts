// Scratch: replays the C:/L:/@ lines of $PLAY and prints the server's answers as S: lines.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { LineClient, startTestServer, USER } from '../../helpers/imap-server.js';

test('play', async () => {
  const file = process.env.PLAY ?? '/tmp/play.txt';
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const t = await startTestServer();
  const conns = new Map<number, LineClient>();
  const out: string[] = [];
  const open = async (n: number) => { conns.set(n, await LineClient.connect(t.port)); };
  await open(1);
  const drain = async () => {
    for (const [n, c] of conns) {
      const text = await c.pending(80);
      for (const l of text.split('\r\n').slice(0, -1)) out.push(`S${n === 1 ? '' : n}: ${l}`);
      if (text && !text.endsWith('\r\n')) out.push(`S${n === 1 ? '' : n}(partial): ${text.slice(text.lastIndexOf('\r\n') + 2)}`);
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('#') || line.trim() === '' || /^S\d*:/.test(line)) { if (line.startsWith('#')) out.push(line); continue; }
    if (line.startsWith('@')) {
      const [d, ...w] = line.slice(1).trim().split(/\s+/);
      await drain();
      out.push(line);
      if (d === 'connect') await open(Number(w[0]));
      if (d === 'sleep') await new Promise((r) => setTimeout(r, Number(w[0])));
      if (d === 'append') await t.store.appendMessage(t.store.findMailbox(USER, w[0])!.id, fs.readFileSync(path.join('test/fixtures/imap', w[w.length - 1])), { flags: w.slice(1, -1), internalDate: Date.UTC(2024, 0, 15, 10, 30, 0) });
      continue;
    }
    const m = /^([CL])(\d*):(?: (.*))?$/.exec(line)!;
    const n = m[2] ? Number(m[2]) : 1;
    let text = m[3] ?? '';
    if (m[1] === 'C') {
      await drain();
      const marker = /\{\*(\+?)\}$/.exec(text);
      if (marker) {
        const lit: string[] = [];
        for (let j = i + 1; j < lines.length && !/^C\d*:/.test(lines[j]); j++) { const l = /^L\d*:(?: (.*))?$/.exec(lines[j]); if (l) lit.push(l[1] ?? ''); }
        const size = Buffer.byteLength(lit.join('\r\n'));
        text = text.slice(0, marker.index) + `{${size}${marker[1]}}`;
      }
    }
    out.push(line);
    const nextIsL = m[1] === 'L' && /^L\d*:/.test(lines[i + 1] ?? '');
    conns.get(n)!.send(m[1] === 'L' && !nextIsL ? text : text + '\r\n');
  }
  await drain();
  console.log('\n' + out.join('\n'));
  for (const c of conns.values()) c.close();
  await t.destroy();
});
