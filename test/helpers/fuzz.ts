/**
 * How many inputs a property test tries. `npm test` keeps the short run each test names; `npm run fuzz`
 * sets FUZZ_SCALE (default there: 100) to multiply every run for a longer search, and each test file then
 * prints how many inputs it tried.
 */
import { afterAll } from 'vitest';

const scale = Math.max(1, Number(process.env.FUZZ_SCALE ?? '1') || 1);
let tried = 0;

if (scale > 1) {
  afterAll(() => {
    console.log(`fuzz: ${tried} inputs tried (${scale}x the npm test runs)`);
  });
}

/** The number of runs for a property whose short run in `npm test` is `shortRuns`. */
export function fuzzRuns(shortRuns: number): number {
  const runs = Math.round(shortRuns * scale);
  tried += runs;
  return runs;
}
