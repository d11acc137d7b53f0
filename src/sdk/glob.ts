// Glob matching for configuration names (moderation categories, rollout targets): `*` and `?` only.
// Used at compile time and on the request path; no regex is built, and matching cannot blow up.

/**
 * True when `text` matches the glob `pattern`: `*` matches any run of characters (including `/`), `?` exactly one,
 * everything else itself. Greedy matcher with single-star backtracking: no regex, at worst O(pattern × text).
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  const pl = pattern.length;
  while (t < text.length) {
    const pc = p < pl ? pattern.charCodeAt(p) : -1;
    if (pc === 42 /* * */) {
      star = p++;
      mark = t;
    } else if (pc !== -1 && (pc === 63 /* ? */ || pc === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pl && pattern.charCodeAt(p) === 42) p++;
  return p === pl;
}

/** True when the pattern contains a wildcard (`*` or `?`). */
export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}
