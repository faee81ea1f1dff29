// The hand-written LIST wildcard matcher (src/downstream/imap/wildcard.ts) against a reference: random
// patterns and names over a small alphabet (so matches are common), compared with what a regular
// expression says. Only the test builds a regex, from its own short generated patterns; the server never
// does (issue 11).
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { WildcardPattern } from '../../../src/downstream/imap/wildcard.js';
import { fuzzRuns } from '../../helpers/fuzz.js';

function reference(pattern: string, name: string): boolean {
  let source = '^';
  for (const char of pattern) {
    if (char === '*') source += '.*';
    else if (char === '%') source += '[^/]*';
    else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${source}$`, 's').test(name);
}

const patternChars = fc.constantFrom('a', 'b', '/', '*', '%', '.', '\\');
const nameChars = fc.constantFrom('a', 'b', '/', '.', '\\');

test('agrees with a regular expression on random patterns and names', () => {
  fc.assert(
    fc.property(fc.array(patternChars, { maxLength: 12 }), fc.array(nameChars, { maxLength: 16 }), (p, n) => {
      const pattern = p.join('');
      const name = n.join('');
      expect(new WildcardPattern(pattern, '/').test(name)).toBe(reference(pattern, name));
    }),
    { numRuns: fuzzRuns(2000) },
  );
});

test('one compiled pattern answers many names in a row the same as fresh ones', () => {
  fc.assert(
    fc.property(
      fc.array(patternChars, { maxLength: 10 }),
      fc.array(fc.array(nameChars, { maxLength: 12 }), { maxLength: 20 }),
      (p, names) => {
        const pattern = p.join('');
        const compiled = new WildcardPattern(pattern, '/');
        for (const n of names) expect(compiled.test(n.join(''))).toBe(reference(pattern, n.join('')));
      },
    ),
    { numRuns: fuzzRuns(300) },
  );
});

test('never more active states per character than the name has characters, twice over', () => {
  fc.assert(
    fc.property(fc.array(patternChars, { maxLength: 60 }), fc.array(nameChars, { minLength: 1, maxLength: 60 }), (p, n) => {
      const compiled = new WildcardPattern(p.join(''), '/');
      compiled.test(n.join(''));
      expect(compiled.lastSteps).toBeLessThanOrEqual(n.length * (2 * n.length + 1));
    }),
    { numRuns: fuzzRuns(1000) },
  );
});
