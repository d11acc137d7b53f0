// Reads replay input line by line: the gateway's audit records (JSON or logfmt, with the `replay on` capture) and plain
// JSONL of request bodies (or `{ id, policy, endpoint, request }` wrappers), each into a replayable item or a reason
// it is not replayable. Pure parsing, bounded per line; src/replay/replay.ts evaluates the items.
import type { Readable } from 'node:stream';
import type { HiddenInput, PromptSegment, PromptView, SegmentKind } from '../sdk/prompt-view.ts';
import { ENDPOINTS, type ApiRequest, type Endpoint } from '../sdk/types.ts';

/** Longest line read (bytes); a longer one is reported as a bad line and skipped, never held in memory whole. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** The decision triple replay compares: the policy's decision, the one applied, and the reason code. */
export interface DecisionTriple {
  readonly decision: string;
  readonly effective: string;
  readonly reason: string;
}

/** One request to re-evaluate. */
export interface ReplayItem {
  readonly kind: 'item';
  /** The request id (`request_id` of an audit record, `id` of a wrapper, else `line-N`). */
  readonly id: string;
  readonly line: number;
  /** The policy named by the record or request; null: the rule set's default policy. */
  readonly policyId: string | null;
  readonly endpoint: Endpoint;
  readonly request: ApiRequest;
  /** The prompt view the policy read (audit records carry it); undefined: read from `request`. */
  readonly prompt: PromptView | undefined;
  readonly meta: { readonly user: string | null; readonly project: string | null; readonly target: string | null };
  /** The decision the gateway recorded (audit records only). */
  readonly recorded: DecisionTriple | undefined;
  /** True when the policy's request-scope redaction replaced spans of the captured input (replay reads the redacted text). */
  readonly redactedInput: boolean;
}

/** Why a well-formed line cannot be replayed (counted per reason, with example ids). */
export type SkipReason =
  | 'no capture (the policy did not say "replay on")'
  | 'no policy (the request never reached one)'
  | 'rejected by auth or quota (replay evaluates decisions, not keys or limits)'
  | 'input longer than the capture limit'
  | 'capture of an unknown version';

/** A line that parsed but is not replayable. */
export interface SkippedLine { readonly kind: 'skip'; readonly id: string; readonly line: number; readonly reason: SkipReason }

/** A line that could not be read, with the reason. */
export interface BadLine { readonly kind: 'bad'; readonly line: number; readonly reason: string }

export type ParsedLine = ReplayItem | SkippedLine | BadLine;

/** Reason codes of records rejected before any decision by auth or quota: replay does not evaluate keys or limits. */
const AUTH_QUOTA_REASONS: ReadonlySet<string> = new Set(['AUTH_FAILED', 'RATE_LIMITED', 'QUOTA_EXCEEDED', 'BUDGET_EXCEEDED']);
const KINDS: ReadonlySet<string> = new Set<SegmentKind>(['text', 'call', 'name', 'media']);
const HIDDEN: ReadonlySet<string> = new Set<HiddenInput>(['previous_response_id', 'conversation', 'item_reference', 'prompt', 'token_ids']);
/** The start of a logfmt audit line: its bare timestamp. */
const LOGFMT_START = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
/** Longest request id or policy id kept from a record (they are only named in the report). */
const MAX_ID = 128;
const id = (v: unknown): string | null => { const s = str(v); return s === null ? null : s.slice(0, MAX_ID); };

/**
 * Parses one logfmt audit line into its fields (`-` → null). Quoted values use JSON's escapes (`\"`, `\\`, `\n`, `\r`,
 * `\t`, `\uXXXX`: plugins/auditor/format.ts), so each is decoded with JSON.parse. Returns a reason string when malformed.
 */
export function parseLogfmtRecord(line: string): Record<string, string | null> | string {
  const out: Record<string, string | null> = Object.create(null);
  const sp = line.indexOf(' ');
  out.timestamp = line.slice(0, sp);
  let i = sp + 1;
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq === -1) return `no "=" after column ${i + 1}`;
    const key = line.slice(i, eq);
    i = eq + 1;
    if (line.charCodeAt(i) === 0x22) {
      // The closing quote is the first one after an even number of backslashes.
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q === -1) return `unterminated quoted value of "${key.slice(0, 40)}"`;
        let b = q - 1;
        while (b > i && line.charCodeAt(b) === 0x5c) b--;
        if ((q - 1 - b) % 2 === 0) { j = q; break; }
        j = q + 1;
      }
      const backslash = line.indexOf('\\', i + 1);
      if (backslash !== -1 && backslash < j) {
        try {
          out[key] = JSON.parse(line.slice(i, j + 1)) as string;
        } catch {
          return `bad escape in the value of "${key.slice(0, 40)}"`;
        }
      } else out[key] = line.slice(i + 1, j);
      i = j + 1;
    } else {
      let j = line.indexOf(' ', i);
      if (j === -1) j = line.length;
      const raw = line.slice(i, j);
      out[key] = raw === '-' ? null : raw;
      i = j;
    }
    if (i < line.length) {
      if (line.charCodeAt(i) !== 0x20) return `expected a space at column ${i + 1}`;
      i++;
    }
  }
  return out;
}

/** Rebuilds the prompt view of a capture; a reason string when the capture is malformed. */
function viewOf(c: Rec, endpoint: Endpoint): PromptView | string {
  const roles = c.roles;
  const segs = c.segments;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return 'the capture has no "roles" list';
  if (!Array.isArray(segs)) return 'the capture has no "segments" list';
  const segments: PromptSegment[] = [];
  for (const s of segs as unknown[]) {
    if (!Array.isArray(s) || s.length !== 3 || !Number.isInteger(s[0]) || s[0] < 0 || s[0] >= roles.length || !KINDS.has(s[1]) || typeof s[2] !== 'string') {
      return 'a capture segment is not [item, kind, text]';
    }
    segments.push(Object.freeze({ item: s[0] as number, kind: s[1] as SegmentKind, text: s[2] as string }));
  }
  const hidden = Array.isArray(c.hidden) ? (c.hidden as unknown[]).filter((h): h is HiddenInput => typeof h === 'string' && HIDDEN.has(h)) : [];
  const tokenIds = Number.isInteger(c.token_ids) && (c.token_ids as number) >= 0 ? (c.token_ids as number) : 0;
  const max = Number.isInteger(c.max_output_tokens) ? (c.max_output_tokens as number) : null;
  const choices = Number.isInteger(c.choices) ? (c.choices as number) : 1;
  return Object.freeze({ endpoint, roles: Object.freeze(roles as string[]), segments: Object.freeze(segments), tokenIds, hidden: Object.freeze(hidden), maxOutputTokens: max, choices });
}

/** The smallest request of `endpoint` the decision hooks can edit (the prompt they read comes from the capture). */
function shellRequest(endpoint: Endpoint, model: string, stream: boolean): ApiRequest {
  switch (endpoint) {
    case 'chat': return { model, messages: [], ...(stream ? { stream } : {}) } as ApiRequest;
    case 'responses': return { model, input: [], ...(stream ? { stream } : {}) } as ApiRequest;
    case 'embeddings': return { model, input: [] } as ApiRequest;
    case 'completions': return { model, prompt: '', ...(stream ? { stream } : {}) } as ApiRequest;
  }
}

/** `v1/responses` → responses; `policy`/`v1` → chat. */
function endpointOfRoute(route: string | null): Endpoint | undefined {
  if (route === null) return undefined;
  const slash = route.indexOf('/');
  if (slash === -1) return route === 'v1' || route === 'policy' ? 'chat' : undefined;
  const e = route.slice(slash + 1);
  return (ENDPOINTS as readonly string[]).includes(e) ? (e as Endpoint) : undefined;
}

/** An audit record's fields (from JSON or logfmt) → an item, a skip, or a bad line. */
function fromAudit(f: Record<string, unknown>, line: number): ParsedLine {
  const rid = id(f.request_id) ?? `line-${line}`;
  const policyId = id(f.policy_id);
  if (policyId === null) return { kind: 'skip', id: rid, line, reason: 'no policy (the request never reached one)' };
  const decision = str(f.decision);
  const reason = str(f.reason_code);
  const effective = str(f.effective_decision);
  if (decision === null || reason === null || effective === null) return { kind: 'bad', line, reason: 'an audit record without decision, effective_decision or reason_code' };
  if (decision === 'reject' && AUTH_QUOTA_REASONS.has(reason)) return { kind: 'skip', id: rid, line, reason: 'rejected by auth or quota (replay evaluates decisions, not keys or limits)' };
  const raw = f.replay;
  if (raw === null || raw === undefined) return { kind: 'skip', id: rid, line, reason: 'no capture (the policy did not say "replay on")' };
  let c: unknown;
  try {
    c = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    return { kind: 'bad', line, reason: 'the replay capture is not JSON' };
  }
  if (!isRec(c)) return { kind: 'bad', line, reason: 'the replay capture is not a JSON object' };
  if (c.v !== 1) return { kind: 'skip', id: rid, line, reason: 'capture of an unknown version' };
  if (c.truncated === true) return { kind: 'skip', id: rid, line, reason: 'input longer than the capture limit' };
  const endpoint = (ENDPOINTS as readonly unknown[]).includes(c.endpoint) ? (c.endpoint as Endpoint) : endpointOfRoute(str(f.route));
  if (endpoint === undefined) return { kind: 'bad', line, reason: 'the replay capture names no known endpoint' };
  const view = viewOf(c, endpoint);
  if (typeof view === 'string') return { kind: 'bad', line, reason: view };
  const stream = f.stream === true || f.stream === 'true';
  return {
    kind: 'item', id: rid, line, policyId, endpoint, request: shellRequest(endpoint, str(c.model) ?? 'unknown', stream), prompt: view,
    meta: { user: str(f.policy_user), project: str(f.policy_project_id), target: str(f.policy_target) },
    recorded: { decision, effective, reason }, redactedInput: isRec(c.redactions) && Object.keys(c.redactions).length > 0,
  };
}

/** A plain request body (chat unless a wrapper says otherwise), bare or wrapped as `{ id, policy, endpoint, request }`. */
function fromRequest(o: Rec, line: number): ParsedLine {
  const wrapped = isRec(o.request);
  const body = (wrapped ? o.request : o) as Rec;
  const endpoint = wrapped && o.endpoint !== undefined ? o.endpoint : 'chat';
  if (!(ENDPOINTS as readonly unknown[]).includes(endpoint)) return { kind: 'bad', line, reason: `unknown endpoint ${JSON.stringify(endpoint).slice(0, 40)} (chat, responses, embeddings, completions)` };
  const ep = endpoint as Endpoint;
  const need = ep === 'chat' ? 'messages' : ep === 'completions' ? 'prompt' : 'input';
  if (ep === 'chat' ? !Array.isArray(body.messages) : body[need] === undefined) return { kind: 'bad', line, reason: `a ${ep} request without "${need}"` };
  if (typeof body.model !== 'string' || body.model === '') return { kind: 'bad', line, reason: 'a request without "model"' };
  const request: Rec = {};
  for (const k in body) if (!k.startsWith('policy_')) request[k] = body[k];
  return {
    kind: 'item', id: (wrapped ? id(o.id) : null) ?? `line-${line}`, line,
    policyId: (wrapped ? id(o.policy) : null) ?? id(body.policy_id), endpoint: ep, request: request as ApiRequest, prompt: undefined,
    meta: { user: str(body.policy_user), project: str(body.policy_project_id), target: str(body.policy_target) },
    recorded: undefined, redactedInput: false,
  };
}

/** Parses one line (already known to be within MAX_LINE_BYTES); blank lines are the caller's to skip. */
export function parseLine(text: string, line: number): ParsedLine {
  if (LOGFMT_START.test(text)) {
    const f = parseLogfmtRecord(text);
    return typeof f === 'string' ? { kind: 'bad', line, reason: `malformed logfmt audit record: ${f}` } : fromAudit(f, line);
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { kind: 'bad', line, reason: 'neither JSON nor a logfmt audit record' };
  }
  if (!isRec(o)) return { kind: 'bad', line, reason: 'a JSON value that is not an object' };
  if ('request_id' in o && 'decision' in o) return fromAudit(o, line);
  return fromRequest(o, line);
}

/**
 * The lines of a byte stream, numbered from 1, as strings; a line longer than `maxBytes` comes back as `null` (its bytes
 * are dropped as they arrive, so memory stays bounded). A final line without a newline counts; `\r\n` is accepted.
 */
export async function* readLines(input: Readable, maxBytes = MAX_LINE_BYTES): AsyncGenerator<{ line: number; text: string | null }> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = (): { line: number; text: string | null } => {
    line++;
    let text: string | null = null;
    if (!tooLong) {
      text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
    }
    parts = [];
    size = 0;
    tooLong = false;
    return { line, text };
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, from);
      const end = nl === -1 ? buf.length : nl;
      if (!tooLong) {
        if (size + (end - from) > maxBytes) { tooLong = true; parts = []; size = 0; }
        else if (end > from) { parts.push(buf.subarray(from, end)); size += end - from; }
      }
      if (nl === -1) break;
      yield finish();
      from = nl + 1;
    }
  }
  if (size > 0 || tooLong) yield finish();
}
