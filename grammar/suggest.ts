// "Did you mean" for the grammar's own words (the `policy` keyword) and every name a plugin checks. The grammar
// imports nothing from src/, so the helper lives here; src/sdk/block-helpers.ts re-exports it for plugins.

/** Edit distance counting a swap of two adjacent letters as one edit (optimal string alignment); load time only. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * The candidate closest to `word` if it is a plausible typo (distance ≤ max(1, min(3, ⌊len/3⌋))); otherwise the one
 * candidate that shares whole `_`-separated parts with it (`phone_number` → `phone`, `ssn` → `us_ssn`,
 * `credit_card_number` → `credit_card`); else undefined (also when several candidates share parts: `token`).
 */
export function closestWord(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  const list = [...candidates];
  for (const c of list) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.min(3, Math.floor(w.length / 3)))) return best;
  return samePartsWord(w, list);
}

/** The single candidate whose `_`-parts are a run of the word's parts or contain the word's parts as a run. */
function samePartsWord(w: string, candidates: readonly string[]): string | undefined {
  const wp = w.split('_').filter((p) => p !== '');
  if (wp.length === 0) return undefined;
  let found: string | undefined;
  for (const c of candidates) {
    const cp = c.toLowerCase().split('_').filter((p) => p !== '');
    if (cp.length === 0 || cp.length === wp.length) continue; // equal part counts: a typo, left to the edit distance
    if (!(cp.length < wp.length ? containsRun(wp, cp) : containsRun(cp, wp))) continue;
    if (found !== undefined) return undefined; // ambiguous
    found = c;
  }
  return found;
}

function containsRun(outer: readonly string[], inner: readonly string[]): boolean {
  for (let i = 0; i + inner.length <= outer.length; i++) {
    let j = 0;
    while (j < inner.length && outer[i + j] === inner[j]) j++;
    if (j === inner.length) return true;
  }
  return false;
}
