// Test helpers for grammar tests: compare ASTs without positions.

/** A deep copy of `v` without `span`/`nameSpan`/`idSpan` keys (and without `comments` when asked). */
export function stripSpans(v: unknown, dropComments = false): unknown {
  if (Array.isArray(v)) return v.map((x) => stripSpans(x, dropComments));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'span' || k === 'nameSpan' || k === 'idSpan') continue;
      if (dropComments && k === 'comments') continue;
      out[k] = stripSpans(x, dropComments);
    }
    return out;
  }
  return v;
}
