/** "Did you mean …?": the nearest of some known words to a typed one. */

/** Edit distance with adjacent swaps counting as one edit (optimal string alignment): "jsno" is 1 from "json". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `word`, when it is close enough to be a typo of it. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  // The same words in another order ("listen_tls" for tls_listen) is a typo too, whatever its edit distance.
  const words = (w: string): string => w.toLowerCase().split(/[_-]/).sort().join('_');
  const reordered = lower.includes('_') || lower.includes('-') ? candidates.find((c) => words(c) === words(word)) : undefined;
  if (reordered !== undefined) return reordered;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the word may be wrong (at least one letter, at most three), or the word is a prefix.
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  if (best !== undefined && (bestDistance <= allowed || (word.length >= 3 && best.toLowerCase().startsWith(lower)))) return best;
  return undefined;
}
