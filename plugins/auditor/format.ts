// Audit record formatting: one record → one line, as logfmt (README, "Audit records"'s line: bare timestamp, then key=value
// pairs in record order) or as a one-line JSON object. Pure functions; the sink adds the newline and writes.

/** A value of an audit field. `null` is a missing value (`-` in logfmt, `null` in JSON). */
export type AuditValue = string | number | boolean | null | readonly string[] | Readonly<Record<string, number>>;

/**
 * One audit record: `timestamp` first, then every field in the order it will be written. Built by
 * `buildAuditRecord` (record.ts) in the fixed order documented in the README; formatters never reorder.
 */
export type AuditRecord = { readonly timestamp: string } & Readonly<Record<string, AuditValue>>;

/** The audit output formats (`--audit-format`). */
export type AuditFormat = 'logfmt' | 'json';

/** Written for a missing value in logfmt (never a legal value of any field, so parsers can map it back to null). */
export const MISSING = '-';

const HEX = '0123456789abcdef';

/**
 * True when a logfmt value must be quoted: empty, or holding a space, `=`, `"`, `\`, a control character
 * (C0, DEL, C1), a Unicode line/paragraph separator or a lone surrogate. Same rule as go-logfmt, plus `\`
 * so that an unquoted value never contains an escape.
 */
export function needsQuoting(s: string): boolean {
  if (s.length === 0) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x3d || c === 0x22 || c === 0x5c || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
    if (c >= 0xd800 && c <= 0xdfff) {
      const hi = c <= 0xdbff;
      const next = s.charCodeAt(i + 1);
      if (!hi || !(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    }
  }
  return false;
}

/**
 * Quotes `s` for logfmt: wrapped in `"`, with `\` `"` escaped and every control character, line separator and lone
 * surrogate written as `\n` `\r` `\t` or `\uXXXX`. The result is always one line, so user-supplied values
 * (policy_user, prompts) can never forge a second record.
 */
export function quoteLogfmt(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) esc = unicodeEscape(c);
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { i++; continue; }
      esc = unicodeEscape(c);
    }
    if (esc !== undefined) {
      out += s.slice(from, i) + esc;
      from = i + 1;
    }
  }
  return `${out}${s.slice(from)}"`;
}

function unicodeEscape(c: number): string {
  return `\\u${HEX[(c >> 12) & 15]}${HEX[(c >> 8) & 15]}${HEX[(c >> 4) & 15]}${HEX[c & 15]}`;
}

/** One logfmt value: `-` when missing or empty, lists comma-joined, count maps as `k:n,k:n`, quoted when needed (a literal `-` too). */
export function logfmtValue(v: AuditValue | undefined): string {
  if (v === null || v === undefined) return MISSING;
  let s: string;
  switch (typeof v) {
    case 'string': s = v; break;
    case 'number': return Number.isFinite(v) ? String(v) : MISSING;
    case 'boolean': return v ? 'true' : 'false';
    default:
      if (Array.isArray(v)) {
        if (v.length === 0) return MISSING;
        s = v.join(',');
      } else {
        s = '';
        for (const k in v) s += `${s === '' ? '' : ','}${k}:${(v as Record<string, number>)[k]}`;
        if (s === '') return MISSING;
      }
  }
  // A real value "-" is quoted so it never reads as a missing one.
  return needsQuoting(s) || s === MISSING ? quoteLogfmt(s) : s;
}

/**
 * Formats a record as one logfmt line (no trailing newline): the bare timestamp, then `key=value` for every
 * other field in record order, e.g. `2026-01-13T10:12:42Z policy_id=policy-gateway decision=rewrite …`.
 */
export function formatLogfmt(rec: AuditRecord): string {
  // One join over the pieces: string `+=` would leave a rope of ~60 cons strings per record to flatten later
  // (about 3x the line's size in garbage on every request). The pieces array is reused: formatting is synchronous.
  const parts = PARTS;
  let n = 0;
  parts[n++] = rec.timestamp;
  for (const k in rec) {
    if (k === 'timestamp') continue;
    parts[n++] = KEY_PREFIX[k] ?? ` ${k}=`;
    parts[n++] = logfmtValue(rec[k]);
  }
  if (parts.length !== n) parts.length = n;
  return parts.join('');
}
const PARTS: string[] = [];

/**
 * Fields with a fixed place in every record, in order. The first five are the connectors' line (README, "Audit records");
 * `timestamp` is written bare in logfmt. The optional fields (`quota_limit`, `moderation_error`, `request_redactions`:
 * record.ts) follow `upstream_status`, then `tags`,
 * then `prompt` and `output` (only for policies with `prompts on`), then `replay` (only with `replay on`). Records are built in this order (record.ts).
 */
export const FIELD_ORDER: readonly string[] = Object.freeze([
  'timestamp', 'policy_id', 'decision', 'reason_code', 'policy_user', 'policy_project_id',
  'request_id', 'route', 'effective_decision', 'rollout_mode', 'enforced', 'policy_target', 'status', 'code', 'aborted', 'stream',
  'triggered_categories', 'allowlist_hits', 'denylist_hits', 'rule', 'revision', 'key_label', 'redactions',
  'prompt_tokens', 'completion_tokens', 'duration_ms', 'overhead_ms', 'upstream_ms', 'upstream_status',
  'tags', 'prompt', 'output', 'replay',
]);

/** ` key=` of every field with a fixed place, built once. */
const KEY_PREFIX: Readonly<Record<string, string>> = Object.fromEntries(FIELD_ORDER.map((k) => [k, ` ${k}=`]));

/** Formats a record as one line of JSON: the same fields, same order; missing values are `null`. */
export function formatJson(rec: AuditRecord): string {
  // JSON.stringify escapes control characters; U+2028/2029 are escaped too so the line is safe for every consumer.
  return JSON.stringify(rec).replace(/[\u2028\u2029]/g, (c) => unicodeEscape(c.charCodeAt(0)));
}

/** The formatter of `format`. */
export function formatAuditRecord(rec: AuditRecord, format: AuditFormat): string {
  return format === 'json' ? formatJson(rec) : formatLogfmt(rec);
}

let tsSecond = -1;
let tsText = '';

/** `2026-01-13T10:12:42Z`: ISO-8601 UTC with seconds precision, as in README, "Audit records". Cached per second. */
export function auditTimestamp(epochMs: number): string {
  const sec = Math.floor(epochMs / 1000);
  if (sec !== tsSecond) {
    tsSecond = sec;
    tsText = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  }
  return tsText;
}
