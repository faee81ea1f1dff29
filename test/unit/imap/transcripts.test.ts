// Runs every test/transcripts/*.txt dialogue against a real server over a real socket (fresh store
// per file). Format (see test/transcripts/README.md):
//   C: line        the client sends the line (CRLF appended); C2: ... on connection 2, and so on
//   L: line        a line of literal data for the C line above that ends in {*} or {*+}; the L: lines
//                  are joined with CRLF (end with an empty L: line for a final CRLF)
//   S: line        the next line from the server must be exactly this; {{regex}} matches a variable
//                  part, {{name:regex}} also remembers it, {{$name}} is replaced by what was remembered
//   @connect 2     opens connection 2 (its greeting is read with S2: lines)
//   @append MAILBOX [FLAG...] FILE   stores test/fixtures/imap/FILE directly (fast set-up)
//   @sleep MS      waits (for changes other sessions must notice)
// At the end, no connection may have unread output.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { serverPerTest } from '../../helpers/imap-per-test.js';
import { USER, type LineClient } from '../../helpers/imap-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const transcriptDir = path.join(root, 'test/transcripts');
const fixtureDir = path.join(root, 'test/fixtures/imap');

const files = fs
  .readdirSync(transcriptDir)
  .filter((name) => name.endsWith('.txt'))
  .sort();

interface Step {
  lineNumber: number;
  kind: 'C' | 'L' | 'S' | '@';
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
    const match = /^([CLS])(\d*):(?: (.*))?$/.exec(line);
    if (!match) throw new Error(`line ${i + 1}: not a transcript line: ${line}`);
    steps.push({ lineNumber: i + 1, kind: match[1] as 'C' | 'L' | 'S', connection: match[2] ? Number(match[2]) : 1, text: match[3] ?? '' });
  });
  return steps;
}

function substitute(text: string, vars: Map<string, string>): string {
  return text.replace(/\{\{\$(\w+)\}\}/g, (_, name: string) => {
    const value = vars.get(name);
    if (value === undefined) throw new Error(`variable ${name} is not set`);
    return value;
  });
}

/** Builds the matcher for an S: line; returns the regex and the names it captures. */
function expectation(text: string, vars: Map<string, string>): RegExp {
  let source = '^';
  let rest = substitute(text, vars);
  for (;;) {
    const start = rest.indexOf('{{');
    if (start < 0) break;
    const end = rest.indexOf('}}', start);
    if (end < 0) break;
    source += escape(rest.slice(0, start));
    const inner = rest.slice(start + 2, end);
    const named = /^(\w+):(.*)$/s.exec(inner);
    source += named ? `(?<${named[1]}>${named[2]})` : `(?:${inner})`;
    rest = rest.slice(end + 2);
  }
  source += escape(rest) + '$';
  return new RegExp(source, 's');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const imap = serverPerTest();

describe('IMAP transcripts', () => {
  test('there are transcripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    test(file, async () => {
      const steps = parseTranscript(fs.readFileSync(path.join(transcriptDir, file), 'utf8'));
      const server = await imap.start();
      const connections = new Map<number, LineClient>();
      const vars = new Map<string, string>();
      const open = async (n: number) => {
        const client = await imap.connect(server.port);
        connections.set(n, client);
      };
      await open(1);
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const where = `${file}:${step.lineNumber}`;
        if (step.kind === '@') {
          const [directive, ...words] = step.text.trim().split(/\s+/);
          if (directive === 'connect') await open(Number(words[0]));
          else if (directive === 'sleep') await new Promise((resolve) => setTimeout(resolve, Number(words[0])));
          else if (directive === 'append') {
            const mailbox = server.store.findMailbox(USER, words[0]);
            if (!mailbox) throw new Error(`${where}: no mailbox ${words[0]}`);
            const raw = fs.readFileSync(path.join(fixtureDir, words[words.length - 1]));
            await server.store.appendMessage(mailbox.id, raw, {
              flags: words.slice(1, -1),
              internalDate: Date.UTC(2024, 0, 15, 10, 30, 0),
            });
          } else throw new Error(`${where}: unknown directive @${directive}`);
          continue;
        }
        const client = connections.get(step.connection);
        if (!client) throw new Error(`${where}: connection ${step.connection} is not open`);
        if (step.kind === 'C') {
          let line = substitute(step.text, vars);
          const marker = /\{\*(\+?)\}$/.exec(line);
          if (marker) {
            const literal: string[] = [];
            for (let j = i + 1; j < steps.length && (steps[j].kind !== 'C' || steps[j].connection !== step.connection); j++) {
              if (steps[j].kind === 'L' && steps[j].connection === step.connection) literal.push(steps[j].text);
            }
            const size = Buffer.byteLength(literal.join('\r\n'));
            line = line.slice(0, marker.index) + `{${size}${marker[1]}}`;
          }
          client.send(line + '\r\n');
        } else if (step.kind === 'L') {
          const next = steps.slice(i + 1).find((later) => later.connection === step.connection);
          client.send(next?.kind === 'L' ? step.text + '\r\n' : step.text);
        } else {
          const got = await client.readLine(3_000);
          const pattern = expectation(step.text, vars);
          const match = got === undefined ? null : pattern.exec(got);
          if (!match)
            throw new Error(`${where}: expected\n  ${step.text}\ngot\n  ${got ?? '(nothing)'}\nthen:\n${await client.pending(50)}`);
          for (const [name, value] of Object.entries(match.groups ?? {})) vars.set(name, value);
        }
      }
      for (const [n, client] of connections) {
        const extra = await client.pending(60);
        if (extra !== '') throw new Error(`${file}: unexpected output on connection ${n}:\n${extra}`);
      }
    });
  }
});
