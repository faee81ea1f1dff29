// Runs every test/transcripts/pop3/*.txt dialogue against a real hotbridge POP3 server over a real
// socket (fresh store per file). The format is the IMAP transcripts' (test/transcripts/README.md):
//   C: line        the client sends the line (CRLF appended); C2: on connection 2
//   S: line        the next server line must be exactly this; {{regex}}, {{name:regex}}, {{$name}}
//   @connect 2     opens connection 2 (read its greeting with S2:)
//   @append FILE   stores test/fixtures/pop3/FILE (or ../imap/FILE) in alice's INBOX
//   @expunge UID   expunges INBOX's UID (what an IMAP client beside the POP3 session would do)
//   @sleep MS      waits
//   @close N       drops connection N without QUIT (a client that goes away)
// At the end, no connection may have unread output.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { LineClient } from '../../helpers/imap-server.js';
import { startTestPop3Server, type TestPop3Server } from '../../helpers/pop3-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const transcriptDir = path.join(root, 'test/transcripts/pop3');
const fixtureDirs = [path.join(root, 'test/fixtures/pop3'), path.join(root, 'test/fixtures/imap')];
const files = fs
  .readdirSync(transcriptDir)
  .filter((name) => name.endsWith('.txt'))
  .sort();

interface Step {
  lineNumber: number;
  kind: 'C' | 'S' | '@';
  connection: number;
  text: string;
}

function parseTranscript(text: string): Step[] {
  const steps: Step[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#') || line.trim() === '') return;
    if (line.startsWith('@')) {
      steps.push({ lineNumber: i + 1, kind: '@', connection: 1, text: line.slice(1) });
      return;
    }
    const match = /^([CS])(\d*):(?: (.*))?$/.exec(line);
    if (!match) throw new Error(`line ${i + 1}: not a transcript line: ${line}`);
    steps.push({ lineNumber: i + 1, kind: match[1] as 'C' | 'S', connection: match[2] ? Number(match[2]) : 1, text: match[3] ?? '' });
  });
  return steps;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function substitute(text: string, vars: Map<string, string>): string {
  return text.replace(/\{\{\$(\w+)\}\}/g, (_, name: string) => {
    const value = vars.get(name);
    if (value === undefined) throw new Error(`variable ${name} is not set`);
    return value;
  });
}

function expectation(text: string, vars: Map<string, string>): RegExp {
  let source = '^';
  let rest = substitute(text, vars);
  for (;;) {
    const start = rest.indexOf('{{');
    const end = start < 0 ? -1 : rest.indexOf('}}', start);
    if (end < 0) break;
    source += escape(rest.slice(0, start));
    const inner = rest.slice(start + 2, end);
    const named = /^(\w+):(.*)$/s.exec(inner);
    source += named ? `(?<${named[1]}>${named[2]})` : `(?:${inner})`;
    rest = rest.slice(end + 2);
  }
  return new RegExp(`${source}${escape(rest)}$`, 's');
}

function fixture(name: string): Buffer {
  for (const dir of fixtureDirs) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return fs.readFileSync(file);
  }
  throw new Error(`no fixture ${name}`);
}

let server: TestPop3Server | undefined;
const clients: LineClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server?.destroy();
  server = undefined;
});

describe('POP3 transcripts', () => {
  test('there are transcripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    test(file, async () => {
      const steps = parseTranscript(fs.readFileSync(path.join(transcriptDir, file), 'utf8'));
      server = await startTestPop3Server();
      const connections = new Map<number, LineClient>();
      const vars = new Map<string, string>();
      const open = async (n: number) => {
        const client = await LineClient.connect(server!.port);
        clients.push(client);
        connections.set(n, client);
      };
      await open(1);
      for (const step of steps) {
        const where = `${file}:${step.lineNumber}`;
        if (step.kind === '@') {
          const [directive, ...words] = step.text.trim().split(/\s+/);
          if (directive === 'connect') await open(Number(words[0]));
          else if (directive === 'close') {
            connections.get(Number(words[0]))?.close();
            connections.delete(Number(words[0]));
            await new Promise((resolve) => setTimeout(resolve, 50));
          } else if (directive === 'sleep') await new Promise((resolve) => setTimeout(resolve, Number(words[0])));
          else if (directive === 'append') await server.append(fixture(words[0]));
          else if (directive === 'expunge') await server.store.expungeMessages(server.inbox, [Number(words[0])]);
          else throw new Error(`${where}: unknown directive @${directive}`);
          continue;
        }
        const client = connections.get(step.connection);
        if (!client) throw new Error(`${where}: connection ${step.connection} is not open`);
        if (step.kind === 'C') {
          client.send(`${substitute(step.text, vars)}\r\n`);
          continue;
        }
        const got = await client.readLine(3_000);
        const match = got === undefined ? null : expectation(step.text, vars).exec(got);
        if (!match) throw new Error(`${where}: expected\n  ${step.text}\ngot\n  ${got ?? '(nothing)'}\nthen:\n${await client.pending(50)}`);
        for (const [name, value] of Object.entries(match.groups ?? {})) vars.set(name, value);
      }
      for (const [n, client] of connections) {
        const extra = await client.pending(60);
        if (extra !== '') throw new Error(`${file}: unexpected output on connection ${n}:\n${extra}`);
      }
    });
  }
});
