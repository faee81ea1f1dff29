/**
 * LIST wildcards (RFC 3501 §6.3.8): "*" matches anything, "%" anything but the hierarchy delimiter.
 *
 * Matched by hand, never by a regular expression built from the pattern: a backtracking regex for a
 * pattern like `*%*%*%…x` (forty wildcards and a letter) runs for minutes against one name, and while
 * it runs the daemon answers nobody (issue 11). Here the pattern is a small automaton whose active
 * states move forward one name character at a time, so nothing is ever tried twice:
 *  - a run of wildcards is one wildcard ("*" if the run holds one, else "%"), so `*%*%*%…` is `*`;
 *  - an active wildcard makes the states below it redundant: whatever they could still match, it
 *    matches too. A "*" stays active for the rest of the name, so every state below it goes; a "%"
 *    stays active until the next delimiter, so the states below it go as far down as the pattern
 *    holds no "*" and no delimiter (they cannot get past a delimiter before reaching the "%");
 *  - a name shorter than the pattern's literal characters is refused before it is read.
 * Typical patterns keep a handful of states active. After k characters at most 2k + 1 states can
 * be (each literal consumes one), so a name of n characters never costs more than O(n²) steps,
 * whatever the pattern, and the pattern's length does not count at all beyond its compilation.
 */

const LITERAL = 0;
const STAR = 1;
const PERCENT = 2;

/** A compiled pattern: tests names against it. */
export class WildcardPattern {
  /** Per state: LITERAL, STAR or PERCENT. The state after the last is the accepting one. */
  private readonly kinds: Uint8Array;
  /** Per LITERAL state: the UTF-16 code unit it needs. */
  private readonly units: Uint16Array;
  private readonly literalCount: number;
  /** Per wildcard state: the lowest state it makes redundant while active (see dropRedundant). */
  private readonly floors: Int32Array;
  private readonly delimiter: number;
  // Scratch space reused by every test(): the active states and a "seen in this step" stamp.
  private current: Int32Array;
  private next: Int32Array;
  private readonly stamp: Uint32Array;
  private generation = 0;
  /** How many state steps the last test() took (the work it did, for tests of the bound above). */
  lastSteps = 0;

  constructor(pattern: string, delimiter: string) {
    if (delimiter.length !== 1) throw new Error('the hierarchy delimiter is one character');
    this.delimiter = delimiter.charCodeAt(0);
    const kinds: number[] = [];
    const units: number[] = [];
    let literals = 0;
    for (let i = 0; i < pattern.length; i++) {
      const unit = pattern.charCodeAt(i);
      if (unit === 0x2a || unit === 0x25) {
        const kind = unit === 0x2a ? STAR : PERCENT;
        const last = kinds.length - 1;
        if (last >= 0 && kinds[last] !== LITERAL) {
          // Runs of wildcards collapse: "%*", "*%", "**" are "*"; "%%" is "%".
          if (kind === STAR) kinds[last] = STAR;
          continue;
        }
        kinds.push(kind);
        units.push(0);
      } else {
        kinds.push(LITERAL);
        units.push(unit);
        literals++;
      }
    }
    this.kinds = Uint8Array.from(kinds);
    this.units = Uint16Array.from(units);
    this.literalCount = literals;
    // The lowest state each wildcard covers: 0 for "*"; for "%", the state after the last "*" or
    // delimiter before it.
    this.floors = new Int32Array(kinds.length);
    let barrier = 0;
    for (let state = 0; state < kinds.length; state++) {
      if (kinds[state] === STAR) this.floors[state] = 0;
      else if (kinds[state] === PERCENT) this.floors[state] = barrier;
      if (kinds[state] === STAR || (kinds[state] === LITERAL && units[state] === this.delimiter)) barrier = state + 1;
    }
    const states = kinds.length + 1;
    this.current = new Int32Array(states);
    this.next = new Int32Array(states);
    this.stamp = new Uint32Array(states);
  }

  /** Whether the whole name matches the whole pattern. */
  test(name: string): boolean {
    this.lastSteps = 0;
    if (name.length < this.literalCount) return false;
    const { kinds, units } = this;
    const accept = kinds.length;
    let count = this.add(this.current, 0, this.newGeneration(), 0);
    for (let i = 0; i < name.length && count > 0; i++) {
      this.lastSteps += count;
      const unit = name.charCodeAt(i);
      const generation = this.newGeneration();
      const from = this.current;
      const to = this.next;
      let nextCount = 0;
      for (let k = 0; k < count; k++) {
        const state = from[k];
        if (state === accept) continue;
        const kind = kinds[state];
        if (kind === LITERAL) {
          if (units[state] === unit) nextCount = this.add(to, state + 1, generation, nextCount);
        } else if (kind === STAR || unit !== this.delimiter) {
          nextCount = this.add(to, state, generation, nextCount);
        }
      }
      this.current = to;
      this.next = from;
      count = this.dropRedundant(nextCount);
    }
    for (let k = 0; k < count; k++) if (this.current[k] === accept) return true;
    return false;
  }

  /**
   * Removes the states an active wildcard above them makes redundant (see the top of the file) from the
   * ascending list of active states; returns how many remain, still ascending.
   */
  private dropRedundant(count: number): number {
    const list = this.current;
    const { kinds, floors } = this;
    let lowestCovered = Infinity;
    let kept = 0;
    // Walked from the top; the survivors are written, in reverse, into the spare list.
    const spare = this.next;
    for (let k = count - 1; k >= 0; k--) {
      const state = list[k];
      if (state >= lowestCovered) continue;
      spare[kept++] = state;
      if (state < kinds.length && kinds[state] !== LITERAL) lowestCovered = Math.min(lowestCovered, floors[state]);
    }
    if (kept === count) return count;
    for (let k = 0; k < kept; k++) list[k] = spare[kept - 1 - k];
    return kept;
  }

  /** Adds a state and, through wildcards (which may match nothing), the states after it. */
  private add(list: Int32Array, state: number, generation: number, count: number): number {
    const { kinds, stamp } = this;
    for (;;) {
      if (stamp[state] === generation) return count;
      stamp[state] = generation;
      list[count++] = state;
      if (state === kinds.length || kinds[state] === LITERAL) return count;
      state++;
    }
  }

  private newGeneration(): number {
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.stamp.fill(0);
      this.generation = 1;
    }
    return this.generation;
  }
}
