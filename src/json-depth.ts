// The nesting bound on JSON from clients and upstreams: an iterative scan run before JSON.parse, so no recursive walk
// of parsed data (JSON.stringify, structuredClone, plugin walks) ever sees a document nested deeper than the limit.

/** Default deepest nesting of arrays and objects accepted in a JSON document (the outermost object counts as 1). */
export const DEFAULT_MAX_JSON_DEPTH = 64;
/** Largest `--max-json-depth` accepted: well below the depth at which V8's recursive JSON.stringify overflows (~4,000). */
export const MAX_JSON_DEPTH_LIMIT = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The index just after the JSON string whose opening quote is at `open` in `bytes`, or -1 when it is never closed.
 * Native `indexOf` finds each quote; a quote after an odd run of backslashes is escaped and skipped.
 */
export function jsonStringEnd(bytes: Buffer, open: number): number {
  let from = open + 1;
  for (;;) {
    const q = bytes.indexOf(QUOTE, from);
    if (q === -1) return -1;
    let k = q - 1;
    while (bytes[k] === BACKSLASH) k--;
    from = q + 1;
    if (((q - 1 - k) & 1) === 0) return from; // an even run of backslashes: this quote ends the string
  }
}

/**
 * True when the JSON text in `bytes` nests arrays and objects deeper than `max` levels. Linear time, no recursion, no
 * allocation: strings are skipped with native `indexOf`, so brackets inside them do not count. Only meaningful for
 * well-formed JSON (malformed text may give either answer; JSON.parse rejects it anyway): a valid document nested
 * deeper than `max` needs at least `2 * (max + 1)` bytes, so shorter inputs return false at once.
 */
export function jsonNestsDeeper(bytes: Buffer, max: number): boolean {
  const n = bytes.length;
  if (n < 2 * (max + 1)) return false;
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      i = jsonStringEnd(bytes, i);
      if (i === -1) return false; // unterminated string: not JSON
      continue;
    }
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
    i++;
  }
  return false;
}

/** `jsonNestsDeeper` for JSON already decoded to a string (SSE `data:` fields). */
export function jsonTextNestsDeeper(text: string, max: number): boolean {
  const n = text.length;
  if (n < 2 * (max + 1)) return false;
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) return false;
        let k = q - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        from = q + 1;
        if (((q - 1 - k) & 1) === 0) break;
      }
      i = from;
      continue;
    }
    if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
    i++;
  }
  return false;
}
