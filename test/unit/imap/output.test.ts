// The connection's writer over a real socket: what arrives is exactly what was written, in order,
// whatever the mix of protocol text (UTF-8), binary strings (8-bit header bytes) and message Buffers
// small and large; a slow reader holds the writer back instead of letting output pile up; output held
// back for pipelined answers goes out with the next flush, or by itself once the hold is over.
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ResponseOutput } from '../../../src/downstream/imap/output.js';

interface Pair {
  writer: net.Socket;
  reader: net.Socket;
  server: net.Server;
}

let pair: Pair | undefined;

async function socketPair(): Promise<Pair> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const writer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => writer.once('connect', resolve));
  pair = { writer, reader: await accepted, server };
  return pair;
}

function received(reader: net.Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= bytes) {
        reader.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    reader.on('data', onData);
  });
}

afterEach(() => {
  pair?.writer.destroy();
  pair?.reader.destroy();
  pair?.server.close();
  pair = undefined;
});

describe('ResponseOutput', () => {
  test('text, binary strings and Buffers of every size arrive byte for byte and in order', async () => {
    const { writer, reader } = await socketPair();
    const out = new ResponseOutput(writer);
    const eightBit = Buffer.from([0x53, 0xfc, 0x62, 0x6a, 0xe9, 0x6b, 0x74, 0xff, 0x00, 0x80]);
    const small = Buffer.alloc(3000, 0xe4);
    const large = Buffer.alloc(200_000);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7) % 256;
    const expected = Buffer.concat([
      Buffer.from('* 1 FETCH (ENVELOPE ', 'utf8'),
      eightBit,
      Buffer.from(' BODY[] {3000}\r\n'),
      small,
      Buffer.from(' BODY[TEXT] {200000}\r\n'),
      large,
      Buffer.from(')\r\n* OK Grüße, 日本語\r\n', 'utf8'),
    ]);
    const arrived = received(reader, expected.length);
    out.write('* 1 FETCH (ENVELOPE ');
    out.writeBinary(eightBit.toString('latin1'));
    out.write(' BODY[] {3000}\r\n');
    out.writeBytes(small);
    out.write(' BODY[TEXT] {200000}\r\n');
    out.writeBytes(large);
    out.write(')\r\n');
    out.untagged('OK Grüße, 日本語');
    await out.drain();
    expect((await arrived).equals(expected)).toBe(true);
  });

  test('a reader that does not read makes the writer wait, not buffer', async () => {
    const { writer, reader } = await socketPair();
    reader.pause();
    const out = new ResponseOutput(writer);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let waited = false;
    // Write as a FETCH of many bodies does: flushing, and waiting whenever the socket says it is full.
    while (written < 32 * 1024 * 1024) {
      out.writeBytes(chunk);
      written += chunk.length;
      if (out.congested) {
        const drained = out.drain().then(() => 'drained');
        const verdict = await Promise.race([drained, new Promise((resolve) => setTimeout(() => resolve('waiting'), 200))]);
        if (verdict === 'waiting') {
          waited = true;
          break;
        }
      }
    }
    expect(waited).toBe(true);
    // What sits in the writer's buffer stays bounded by what the kernel does not take.
    expect(writer.writableLength).toBeLessThan(16 * 1024 * 1024);
  });

  test('held output goes out with the next flush, in one write, or by itself after the hold', async () => {
    const { writer, reader } = await socketPair();
    const out = new ResponseOutput(writer);
    const writes: string[] = [];
    const write = writer.write.bind(writer) as (chunk: string, encoding: BufferEncoding) => boolean;
    writer.write = ((chunk: string, encoding: BufferEncoding) => {
      writes.push(String(chunk));
      return write(chunk, encoding);
    }) as typeof writer.write;

    const first = received(reader, 'a1 OK\r\na2 OK\r\n'.length);
    out.write('a1 OK\r\n');
    out.flushWithin(60_000);
    out.write('a2 OK\r\n');
    expect(writes).toEqual([]);
    out.flush();
    expect(writes).toEqual(['a1 OK\r\na2 OK\r\n']);
    expect((await first).toString()).toBe('a1 OK\r\na2 OK\r\n');

    // flush() disarmed the hold's timer; a new hold sends on its own when it runs out.
    const second = received(reader, 'a3 OK\r\n'.length);
    out.write('a3 OK\r\n');
    out.flushWithin(5);
    expect((await second).toString()).toBe('a3 OK\r\n');
    expect(writes).toEqual(['a1 OK\r\na2 OK\r\n', 'a3 OK\r\n']);
  });
});
