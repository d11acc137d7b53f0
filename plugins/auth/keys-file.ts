// Policy keys and the keys file: key generation, sha256 digests, the constant-time compare, and parsing and
// writing of the line format. Shared by the auth plugin (request path, reload) and `policy-gateway keys` (CLI).
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix of every policy key. */
export const KEY_PREFIX = 'pgk_';
/** Length of the public id part of a key (`pgk_<id>_<secret>`). */
export const KEY_ID_LENGTH = 12;
/** Length of the random secret part of keys this gateway creates (base62, ~238 bits). */
export const KEY_SECRET_LENGTH = 40;
/** Shortest secret part accepted in a presented key. */
export const KEY_SECRET_MIN = 32;
/** Longest secret part accepted (bounds the hashing work an unauthenticated client can cause). */
export const KEY_SECRET_MAX = 128;

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ID_RE = /^[A-Za-z0-9]{12}$/;
const LABEL_RE = /^[A-Za-z0-9._:@/-]{1,64}$/;
const NAME_RE = /^[^\s,=]{1,256}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** One key as the keys file describes it. The secret itself is never held, only its sha256 digest. */
export interface KeyEntry {
  /** The 12-character public id (`pgk_<id>_…`). */
  readonly id: string;
  /** sha256 of the whole key, 32 bytes. */
  readonly digest: Buffer;
  /** Human label: goes to the audit record as `key_label`. */
  readonly label: string;
  /** Policies the key may use; `'*'` for all. */
  readonly policies: '*' | readonly string[];
  /** Projects the key may use; null when unrestricted, `'*'` for any named project. */
  readonly projects: null | '*' | readonly string[];
  /** Epoch ms from which the key no longer works, or null when it never expires. */
  readonly expiresAt: number | null;
  /** What the key may do beyond calling its policies (`grants=`): see KNOWN_GRANTS. Empty when none. */
  readonly grants: readonly Grant[];
  /** 1-based line in the keys file. */
  readonly line: number;
}

/**
 * The grants a keys-file entry may carry (`grants=debug,admin`): `debug` may ask for a live evaluation trace
 * (`x-policy-gateway-explain: 1`), `admin` may open the console. Any other value is a keys-file problem.
 */
export const KNOWN_GRANTS = ['debug', 'admin'] as const;
/** One known grant. */
export type Grant = (typeof KNOWN_GRANTS)[number];

/** True when `g` is a known grant. */
export function isKnownGrant(g: string): g is Grant {
  return (KNOWN_GRANTS as readonly string[]).includes(g);
}

/** A problem on one line of a keys file. */
export interface KeysFileProblem {
  readonly line: number;
  readonly message: string;
}

/** Result of parsing a keys file: the usable keys, by id, and every problem found. */
export interface ParsedKeysFile {
  readonly keys: ReadonlyMap<string, KeyEntry>;
  readonly problems: readonly KeysFileProblem[];
}

const ATTRS = ['label', 'policies', 'projects', 'expires', 'grants'] as const;

/** The sha256 digest of a presented key (the whole `pgk_…` string). */
export function digestKey(key: string): Buffer {
  return hash('sha256', key, 'buffer'); // one-shot: no Hash object per request
}

/**
 * True when two digests are equal, compared in constant time (crypto.timingSafeEqual): the time taken does not
 * depend on where the first differing byte is. Digests of different lengths are never equal.
 */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** `n` random base62 characters (rejection sampling, so every character is equally likely). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    const bytes = randomBytes(n * 2);
    for (let i = 0; i < bytes.length && out.length < n; i++) {
      const b = bytes[i]!;
      if (b < 248) out += BASE62[b % 62];
    }
  }
  return out;
}

/** A new random key and its public id. The key is shown once and never stored. */
export function generateKey(): { id: string; key: string } {
  const id = randomBase62(KEY_ID_LENGTH);
  return { id, key: `${KEY_PREFIX}${id}_${randomBase62(KEY_SECRET_LENGTH)}` };
}

/**
 * The public id of a presented key when it has the shape `pgk_<12 base62>_<32..128 base62>`, else undefined.
 * Pure character checks, no regex, no allocation but the returned slice.
 */
export function keyIdOf(token: string): string | undefined {
  const n = token.length;
  const head = KEY_PREFIX.length + KEY_ID_LENGTH;
  if (n < head + 1 + KEY_SECRET_MIN || n > head + 1 + KEY_SECRET_MAX) return undefined;
  if (!token.startsWith(KEY_PREFIX) || token.charCodeAt(head) !== 95 /* _ */) return undefined;
  for (let i = KEY_PREFIX.length; i < n; i++) {
    if (i === head) continue;
    const c = token.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return undefined;
  }
  return token.slice(KEY_PREFIX.length, head);
}

/** Accepts `pgk_<id>`, `<id>` or a whole key and returns the 12-character id, or undefined. */
export function normalizeKeyId(s: string): string | undefined {
  if (ID_RE.test(s)) return s;
  if (s.startsWith(KEY_PREFIX) && ID_RE.test(s.slice(KEY_PREFIX.length))) return s.slice(KEY_PREFIX.length);
  return keyIdOf(s);
}

/** True when `label` is a valid key label (1–64 of `A-Z a-z 0-9 . _ : @ / -`). */
export function isValidLabel(label: string): boolean {
  return LABEL_RE.test(label);
}

/** True when `name` can appear in a `policies=` or `projects=` list (no spaces, commas or `=`). */
export function isValidListName(name: string): boolean {
  return NAME_RE.test(name);
}

/**
 * Parses an `expires=` value: `YYYY-MM-DD` (the key stops working at 00:00:00Z that day) or an ISO date-time
 * with `Z` or an offset. Returns epoch ms or undefined when invalid.
 */
export function parseExpiry(s: string): number | undefined {
  const dateOnly = DATE_RE.test(s);
  if (!dateOnly && !DATETIME_RE.test(s)) return undefined;
  // Date.parse rolls 2027-02-30 over to March: check that the calendar date itself exists.
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(5, 7));
  const d = Number(s.slice(8, 10));
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return undefined;
  const t = dateOnly ? day.getTime() : Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

function parseList(v: string): string[] | undefined {
  const items = v.split(',');
  for (const it of items) if (!isValidListName(it)) return undefined;
  return items;
}

/**
 * Parses the text of a keys file. Never throws: bad lines are reported in `problems` and left out. A problem names its
 * line and, for a line that starts with a well-formed key id, that public id — never any other text of the file (the
 * messages reach logs and `check` output, and a mistyped path can name a file full of secrets).
 * Format (one key per line, `#` starts a comment, blank lines ignored):
 * `pgk_<id> sha256:<64 hex> label=<label> policies=<p1,p2|*> [projects=<x,y|*>] [expires=<date|date-time>] [grants=<debug,admin>]`
 */
export function parseKeysFile(text: string): ParsedKeysFile {
  const keys = new Map<string, KeyEntry>();
  const problems: KeysFileProblem[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const hash = lines[i]!.indexOf('#');
    const body = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).trim();
    if (body === '') continue;
    const fields = body.split(/\s+/);
    const bad = (message: string) => { problems.push({ line, message }); };
    const [idField, digestField, ...attrs] = fields as [string, string | undefined, ...string[]];
    if (!idField.startsWith(KEY_PREFIX) || !ID_RE.test(idField.slice(KEY_PREFIX.length))) {
      bad('expected a key id ("pgk_" followed by 12 letters or digits) as the first field');
      continue;
    }
    const id = idField.slice(KEY_PREFIX.length);
    if (digestField === undefined || !digestField.startsWith('sha256:') || !HEX64_RE.test(digestField.slice(7))) {
      bad(`key "${idField}": expected "sha256:" followed by 64 lower-case hex digits after the id`);
      continue;
    }
    let label: string | undefined;
    let policies: '*' | string[] | undefined;
    let projects: null | '*' | string[] = null;
    let expiresAt: number | null = null;
    let grants: Grant[] = [];
    let ok = true;
    const seen = new Set<string>();
    for (let ai = 0; ai < attrs.length; ai++) {
      const a = attrs[ai]!;
      const field = `field ${ai + 3}`; // positions, never the text: see parseKeysFile
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const value = eq > 0 ? a.slice(eq + 1) : '';
      if (!(ATTRS as readonly string[]).includes(name)) {
        bad(`key "${idField}": unknown attribute in ${field} (expected ${ATTRS.map((x) => `"${x}="`).join(', ')})`);
        ok = false;
        continue;
      }
      if (seen.has(name)) { bad(`key "${idField}": attribute "${name}" given twice`); ok = false; continue; }
      seen.add(name);
      if (eq < 0 || value === '') { bad(`key "${idField}": attribute "${name}" needs a value ("${name}=…")`); ok = false; continue; }
      switch (name) {
        case 'label':
          if (!isValidLabel(value)) { bad(`key "${idField}": invalid label in ${field} (1 to 64 of A-Z a-z 0-9 . _ : @ / -)`); ok = false; }
          else label = value;
          break;
        case 'policies': {
          const list = value === '*' ? '*' : parseList(value);
          if (!list) { bad(`key "${idField}": invalid policies list in ${field} (comma-separated names without spaces or "=", or "*")`); ok = false; } else policies = list;
          break;
        }
        case 'projects': {
          const list = value === '*' ? '*' : parseList(value);
          if (!list) { bad(`key "${idField}": invalid projects list in ${field} (comma-separated names without spaces or "=", or "*")`); ok = false; } else projects = list;
          break;
        }
        case 'expires': {
          const t = parseExpiry(value);
          if (t === undefined) { bad(`key "${idField}": invalid expiry in ${field} (expected 2027-01-01 or 2027-01-01T00:00:00Z)`); ok = false; }
          else expiresAt = t;
          break;
        }
        case 'grants': {
          const list = value.split(',');
          const unknown = list.findIndex((g) => !isKnownGrant(g));
          if (unknown >= 0) {
            bad(`key "${idField}": unknown grant in ${field} (expected a comma-separated list of ${KNOWN_GRANTS.map((g) => `"${g}"`).join(', ')})`);
            ok = false;
          } else grants = [...new Set(list as Grant[])];
          break;
        }
      }
    }
    if (!ok) continue;
    if (label === undefined) { bad(`key "${idField}": missing "label="`); continue; }
    if (policies === undefined) { bad(`key "${idField}": missing "policies=" (a list of policy ids, or "*")`); continue; }
    const prior = keys.get(id);
    if (prior) { bad(`key "${idField}" is listed twice (first on line ${prior.line})`); continue; }
    keys.set(id, Object.freeze({
      id, digest: Buffer.from(digestField.slice(7), 'hex'), label,
      policies: policies === '*' ? '*' : Object.freeze(policies),
      projects: projects === null || projects === '*' ? projects : Object.freeze(projects),
      expiresAt, grants: Object.freeze(grants), line,
    }));
  }
  return { keys, problems };
}

/** The keys-file line for a new key (its digest, never the key). */
export function formatKeyLine(k: {
  id: string; key: string; label: string; policies: '*' | readonly string[]; projects?: '*' | readonly string[] | null; expiresAt?: number | null;
  grants?: readonly Grant[];
}): string {
  let line = `${KEY_PREFIX}${k.id} sha256:${digestKey(k.key).toString('hex')} label=${k.label}`;
  line += ` policies=${k.policies === '*' ? '*' : k.policies.join(',')}`;
  if (k.projects) line += ` projects=${k.projects === '*' ? '*' : k.projects.join(',')}`;
  if (k.expiresAt !== undefined && k.expiresAt !== null) line += ` expires=${new Date(k.expiresAt).toISOString().replace('.000Z', 'Z')}`;
  if (k.grants !== undefined && k.grants.length > 0) line += ` grants=${k.grants.join(',')}`;
  return line;
}
