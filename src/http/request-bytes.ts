// The client's request bytes, read once before JSON.parse: nesting depth (the bound), where the top-level members are
// and which are `policy_*` metadata, and how many members the text has in all (so repeated keys can be told apart).
// With that, a body no hook changed goes upstream as the client's own bytes with the metadata members spliced out.
import { jsonStringEnd } from '../json-depth.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/** The `policy_*` body fields the gateway takes out before the body goes upstream (README, "HTTP contract"). */
export const META_FIELDS: readonly string[] = Object.freeze(['policy_id', 'policy_user', 'policy_project_id', 'policy_target']);
const META_LENGTHS = new Set(META_FIELDS.map((f) => f.length));

/** What one scan of a request body found. Only meaningful for well-formed JSON (JSON.parse decides that). */
export interface BodyScan {
  /** True when arrays and objects nest deeper than the limit scanned for. */
  readonly tooDeep: boolean;
  /** Colons outside strings: how many object members the text has, repeated keys counted each time. */
  readonly members: number;
  /** The root object's members as byte ranges, flat: start, end, start, end… (key's opening quote to value's end). */
  readonly top: readonly number[];
  /** For each root member, true when its key is a `policy_*` metadata field. */
  readonly meta: readonly boolean[];
}

/** True for the bytes JSON allows between tokens. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** True when the key string at [start, end) (quotes included) is a metadata field, escapes decoded. */
function metaKey(raw: Buffer, start: number, end: number): boolean {
  let escaped = false;
  for (let j = start + 1; j < end - 1; j++) if (raw[j] === BACKSLASH) { escaped = true; break; }
  if (!escaped) return META_LENGTHS.has(end - start - 2) && raw[start + 1] === 0x70 && META_FIELDS.includes(raw.toString('latin1', start + 1, end - 1));
  try {
    return META_FIELDS.includes(JSON.parse(raw.toString('utf8', start, end)) as string);
  } catch {
    return false;
  }
}

/**
 * Scans a JSON request body in one pass, linear time, no recursion: the nesting depth against `maxDepth`, the member
 * count, and the root object's member ranges with their metadata flags. Strings are skipped with native `indexOf`.
 */
export function scanRequestBody(raw: Buffer, maxDepth: number): BodyScan {
  const n = raw.length;
  const top: number[] = [];
  const meta: boolean[] = [];
  let depth = 0;
  let members = 0;
  let tooDeep = false;
  /** Root level: the current member's start (-1 between members), whether a key is expected next, its value's end. */
  let memberStart = -1;
  let memberMeta = false;
  let expectKey = false;
  let valueEnd = -1;
  let i = 0;
  while (i < n) {
    const c = raw[i]!;
    if (c === QUOTE) {
      const from = jsonStringEnd(raw, i);
      if (from === -1) return { tooDeep, members, top, meta }; // unterminated string: not JSON
      if (depth === 1) {
        if (expectKey) {
          memberStart = i;
          memberMeta = metaKey(raw, i, from);
          expectKey = false;
        } else valueEnd = from;
      }
      i = from;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) tooDeep = true;
      if (depth === 1 && c === 0x7b) expectKey = true;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 1 && memberStart >= 0) {
        top.push(memberStart, valueEnd);
        meta.push(memberMeta);
        memberStart = -1;
      }
      if (--depth === 1) valueEnd = i + 1;
    } else if (c === COLON) {
      members++;
    } else if (depth === 1) {
      if (c === COMMA) {
        if (memberStart >= 0) { top.push(memberStart, valueEnd); meta.push(memberMeta); }
        memberStart = -1;
        expectKey = true;
      } else if (!isSpace(c)) valueEnd = i + 1; // a number, true, false or null
    }
    i++;
  }
  return { tooDeep, members, top, meta };
}

/**
 * Counts the keys of every object in a parsed JSON value (recursion bounded by the depth the body was checked for).
 * Equal to `BodyScan.members` exactly when no object of the text repeats a key.
 */
export function countKeys(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += countKeys(v[i]);
    return n;
  }
  for (const k in v as Record<string, unknown>) n += 1 + countKeys((v as Record<string, unknown>)[k]);
  return n;
}

const OPEN = Buffer.from('{');
const CLOSE = Buffer.from('}');
const SEP = Buffer.from(',');

/**
 * The client's body with its `policy_*` members taken out, and `extra` (member text, e.g. `"stream_options":{…}`)
 * added at the end when given: the other members' bytes as sent, joined by commas.
 */
export function spliceBody(raw: Buffer, scan: BodyScan, extra?: Buffer): Buffer {
  if (extra === undefined && !scan.meta.includes(true)) return raw;
  const parts: Buffer[] = [OPEN];
  for (let m = 0; m < scan.meta.length; m++) {
    if (scan.meta[m]) continue;
    if (parts.length > 1) parts.push(SEP);
    parts.push(raw.subarray(scan.top[2 * m]!, scan.top[2 * m + 1]!));
  }
  if (extra !== undefined) {
    if (parts.length > 1) parts.push(SEP);
    parts.push(extra);
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}
