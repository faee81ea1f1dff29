/**
 * Our ENVELOPE, BODY, BODYSTRUCTURE and BODY[section] against Dovecot's answers for the same messages.
 * The answers were recorded by test/fixtures/mime/make-dovecot-reference.sh (real Dovecot 2.3 `imap`
 * binary, see that script) into NAME.dovecot.txt; run it again after adding a fixture. A fresh run
 * against the installed Dovecot is also done here when the binary is present (and required under CI),
 * so the stored references cannot drift from what Dovecot really says.
 *
 * Structures are compared after normalising white space inside strings and the case of atoms
 * (quoted vs literal is also not significant). Section bytes are compared exactly.
 * Where we deliberately differ from Dovecot, KNOWN_DIFFERENCES says how and why.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';
import { renderEnvelope } from '../../../src/downstream/imap/fetch/envelope.js';
import { renderBodyStructure } from '../../../src/downstream/imap/fetch/bodystructure.js';
import { extractSection, parseSection, partial } from '../../../src/downstream/imap/fetch/section.js';
import { normalize, readFetchResponses, readValue, type ImapValue } from './imap-data.js';
import { mimeMessage } from './mime-arbitrary.js';
import { MIME_FIXTURE_DIFFERENCES } from '../../helpers/dovecot-differences.js';
import { toCrlf } from '../../helpers/messages.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/mime');
const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.eml'))
  .sort();

/** Lengths of the partial fetches the script asks for (Dovecot echoes only the origin). */
const PARTIAL_LENGTHS: Record<string, number> = { 'BODY[]<10>': 20, 'BODY[TEXT]<5>': 1000, 'BODY[HEADER]<0>': 0 };

/**
 * Deliberate differences, as a replacement in the normalised JSON of Dovecot's answer. Each entry
 * checks both sides: Dovecot still says `dovecot`, and we say `ours` in its place.
 */
const KNOWN_DIFFERENCES = MIME_FIXTURE_DIFFERENCES;

/**
 * One more deliberate difference, a rule rather than an entry: for a header without an empty line
 * (a message that is all header), RFC 3501 §6.4.5 says the blank line is in every header fetch
 * "except in the case of a message which has no body and no blank line". Dovecot adds a CRLF for
 * HEADER.FIELDS anyway (not for HEADER.FIELDS.NOT); we do not.
 */
function headerFieldsRule(item: string, raw: Buffer, dovecot: string): string {
  const topLevelFields = /^BODY\[HEADER\.FIELDS \(/.test(item);
  const header = raw.toString('latin1');
  const hasBlankLine = /^(\r?\n)|\n\r?\n/.test(header);
  if (topLevelFields && !hasBlankLine) {
    expect(dovecot.endsWith('\r\n'), `${item}: Dovecot no longer adds CRLF`).toBe(true);
    return dovecot.slice(0, -2);
  }
  return dovecot;
}

/** Fixtures whose part numbering differs because of a documented structure difference above. */
const PART_NUMBERING_DIFFERS = new Set(['28-content-type-junk']);

function sectionOf(item: string): { spec: string; origin?: number } | null {
  const m = /^BODY\[(.*)\](?:<(\d+)>)?$/s.exec(item);
  if (!m) return null;
  return { spec: m[1], origin: m[2] === undefined ? undefined : Number(m[2]) };
}

function strBytes(v: ImapValue): Buffer {
  if (v === null) return Buffer.alloc(0);
  if (typeof v === 'object' && !Array.isArray(v) && 'str' in v) return v.str;
  throw new Error(`not a string: ${JSON.stringify(v)}`);
}

/** The bytes of an item's value in the recorded responses, as Dovecot wrote them. */
function rawItemValue(reference: Buffer, item: string): string {
  const text = reference.toString('latin1');
  const start = text.indexOf(` FETCH (${item} `);
  const from = start + ` FETCH (${item} `.length;
  return text.slice(from, text.indexOf(')\r\n* ', from) >= 0 ? text.indexOf(')\r\n* ', from) : text.lastIndexOf(')\r\n'));
}

function compareFixture(dir: string, name: string, reference: Buffer): void {
  const stored = readFileSync(join(dir, name));
  // Dovecot serves a bare-LF message with CRLF line ends; compare like with like.
  const raw = name.endsWith('-lf.eml') ? toCrlf(stored) : stored;
  const index = JSON.parse(JSON.stringify(indexMessage(raw))) as ReturnType<typeof indexMessage>;
  const base = name.replace(/\.eml$/, '');
  for (const { item, value } of readFetchResponses(reference)) {
    const label = `${base} ${item}`;
    const differences = KNOWN_DIFFERENCES[label] ?? [];
    const patched = (dovecot: string): string => {
      let expected = dovecot;
      for (const d of differences) {
        expect(expected, `${label}: Dovecot no longer says ${d.dovecot}`).toContain(d.dovecot);
        expected = expected.replace(d.dovecot, d.ours);
      }
      return expected;
    };
    const check = (ours: Buffer): void => {
      const expected = patched(JSON.stringify(normalize(value)));
      expect(JSON.stringify(normalize(readValue(ours))), label).toBe(expected);
    };
    if (item === 'ENVELOPE') check(renderEnvelope(index));
    else if (item === 'BODY' || item === 'BODYSTRUCTURE') {
      const ours = renderBodyStructure(index, item === 'BODYSTRUCTURE');
      check(ours);
      // Beyond the normalised comparison: the same bytes, spacing between child bodies included (§9
      // `1*body` has none), wherever Dovecot needed no literal and we documented no difference.
      const dovecotBytes = rawItemValue(reference, item);
      if (differences.length === 0 && !dovecotBytes.includes('{')) expect(ours.toString('latin1'), `${label} bytes`).toBe(dovecotBytes);
    } else if (item === 'RFC822.SIZE') expect(index.size, label).toBe(value);
    else {
      const section = sectionOf(item);
      if (!section) throw new Error(`unexpected item ${item}`);
      if (PART_NUMBERING_DIFFERS.has(base) && /^\d/.test(section.spec)) continue;
      // Dovecot echoes field names upper-cased; matching is case-insensitive anyway.
      let bytes = extractSection(raw, index, parseSection(section.spec));
      if (section.origin !== undefined) bytes = partial(bytes, section.origin, PARTIAL_LENGTHS[item]);
      expect(bytes.toString('latin1'), label).toBe(patched(headerFieldsRule(item, raw, strBytes(value).toString('latin1'))));
    }
  }
}

describe('MIME output matches Dovecot (stored references)', () => {
  for (const name of fixtureNames) {
    it(name, () => {
      const refPath = join(FIXTURES, name.replace(/\.eml$/, '.dovecot.txt'));
      expect(existsSync(refPath), `${refPath} missing: run make-dovecot-reference.sh`).toBe(true);
      compareFixture(FIXTURES, name, readFileSync(refPath));
    });
  }
});

const dovecotInstalled = existsSync('/usr/lib/dovecot/imap') && existsSync('/usr/bin/doveadm');
describe('stored references are what the installed Dovecot says', () => {
  it('regenerates identical references', () => {
    if (!dovecotInstalled) {
      // Under CI a missing Dovecot is a failure, not a skip (helper-brief rule).
      expect(process.env.CI !== 'true', 'Dovecot (dovecot-core, dovecot-imapd) is required under CI').toBe(true);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'hotbridge-mime-'));
    try {
      for (const name of fixtureNames) copyFileSync(join(FIXTURES, name), join(dir, name));
      execFileSync(join(FIXTURES, 'make-dovecot-reference.sh'), [dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      for (const name of fixtureNames) {
        const ref = name.replace(/\.eml$/, '.dovecot.txt');
        expect(readFileSync(join(dir, ref)).equals(readFileSync(join(FIXTURES, ref))), ref).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('random MIME-looking messages: we answer what Dovecot answers', () => {
  it('agrees on 150 generated messages (fixed seed)', () => {
    if (!dovecotInstalled) {
      expect(process.env.CI !== 'true', 'Dovecot (dovecot-core, dovecot-imapd) is required under CI').toBe(true);
      return;
    }
    // CRLF only: Dovecot serves any line end as CRLF. No made-up content types: there we follow RFC
    // 2045 on purpose (see KNOWN_DIFFERENCES). No NUL: Dovecot replaces it in what it serves.
    const messages = fc
      .sample(mimeMessage({ crlfOnly: true, bogusTypes: false }), { numRuns: 150, seed: 20240105 })
      .map((m) => Buffer.from(m.toString('latin1').replace(/\0/g, ''), 'latin1'))
      // Dovecot will not store an empty message. Its title*1* quirk and its empty type for a
      // Content-Type with junk after the subtype (here: a continuation line) are documented above.
      .filter((m) => m.length > 0 && !/\*\d+\*?=[^;]*;[^\r\n]*\w\*=/.test(m.toString('latin1')))
      .filter((m) => !/^Content-Type: [a-z]+\/[a-z0-9]+\r\n[ \t]/im.test(m.toString('latin1')));
    const dir = mkdtempSync(join(tmpdir(), 'hotbridge-mime-fuzz-'));
    try {
      const names = messages.map((m, i) => {
        const name = `r${String(i).padStart(3, '0')}.eml`;
        writeFileSync(join(dir, name), m);
        return name;
      });
      execFileSync(join(FIXTURES, 'make-dovecot-reference.sh'), [dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      for (const name of names) compareFixture(dir, name, readFileSync(join(dir, name.replace(/\.eml$/, '.dovecot.txt'))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
