// Builds the audit record of one request from its context and outcome (chained requests) or from the gateway's
// end-of-request summary (requests that never reached a policy). Field order is fixed here and documented in README.md.
import type { RequestContext } from '../../src/sdk/context.ts';
import { moderationErrorKey, principalKey, quotaKey, redactionKey } from '../../src/sdk/state-keys.ts';
import type { Outcome } from '../../src/sdk/plugin.ts';
import { readPrompt, type PromptView } from '../../src/sdk/prompt-view.ts';
import type { ApiAnswer, ChatMessage, StreamChunk } from '../../src/sdk/types.ts';
import type { AuditConfig } from './block.ts';
import { replayCapture } from './replay-capture.ts';
import { auditTimestamp, FIELD_ORDER, logfmtValue, MISSING, needsQuoting, quoteLogfmt, type AuditRecord, type AuditValue } from './format.ts';

/** `decision` / `effective_decision` of a request the gateway answered with an error before deciding (401, 429, 400, …). */
export const REJECT = 'reject';

/** Longest prompt or output text kept in a record (UTF-16 code units); longer text is cut and marked. */
export const MAX_TEXT = 16_384;

export { FIELD_ORDER };

/** Redaction type names: built-in detectors and custom labels from the policy (`ACCOUNT`, `Customer-ID`); nothing
 * that could break the `name:count,` list (no separators, quotes, spaces or `=`). */
const COUNT_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,63}$/;

/** Text captured for a policy with `prompts on`: set by the auditor's hooks, read at completion (after redaction). */
export interface Capture {
  /** True once the auditor's onRequest ran, i.e. every earlier request hook (request-scope redaction included) ran. */
  passedChain: boolean;
  /** The non-streaming answer object of any endpoint (redacted in place by the redactor before the record is built). */
  body: ApiAnswer | undefined;
  /** Stream chunks or Responses events as the upstream sent them; the redactor edits them in place after the auditor saw them. */
  chunks: StreamChunk[] | undefined;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The record's `route`: `policy` / `v1` for chat completions, `policy/responses`, `v1/embeddings`, … for the others. */
function routeOf(ctx: RequestContext): string {
  return ctx.endpoint === 'chat' ? ctx.route : `${ctx.route}/${ctx.endpoint}`;
}

/** The rule-set revision the request was served with. */
function revisionOf(ctx: RequestContext): string | null {
  return ctx.policy.revision || null;
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** `{ email: 2, phone: 1 }` from redaction counts (only finite positive counts of sane names), or null when none. */
function redactionCounts(v: unknown): Readonly<Record<string, number>> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  let out: Record<string, number> | null = null;
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    if (typeof n === 'number' && Number.isFinite(n) && n > 0 && COUNT_KEY.test(k)) (out ??= {})[k] = n;
  }
  return out;
}


/** Cuts `s` to MAX_TEXT code units (never inside a surrogate pair) and says how much was cut. */
export function clipText(s: string): string {
  if (s.length <= MAX_TEXT) return s;
  let end = MAX_TEXT;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…[${s.length - end} more characters]`;
}

function messageText(m: ChatMessage): string {
  const c = m.content;
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) return '';
  let out = '';
  for (const part of c) out += (out ? ' ' : '') + (typeof part.text === 'string' ? part.text : `[${String(part.type)}]`);
  return out;
}

/**
 * The request's prompt as `role: text` lines, one per item (chat message, Responses instructions and input item,
 * embeddings or completions inputs), text and non-text parts (`[image_url]`) joined by spaces: what went upstream,
 * after request-scope redaction.
 */
export function promptText(view: PromptView): string {
  const lines = view.roles.map((role) => `${role}:`);
  for (const s of view.segments) if (s.kind === 'text' || s.kind === 'media') lines[s.item] += ` ${s.text}`;
  return clipText(lines.join('\n'));
}

/**
 * The answer text from a (redacted) answer body or (redacted) stream chunks, choices (or Response message items)
 * joined by newlines: chat and text completions, Responses (from the terminal event's whole Response when streamed);
 * null for embeddings.
 */
export function outputText(c: Capture): string | null {
  const parts: string[] = [];
  if (c.body) {
    const b = c.body as { choices?: unknown; output?: unknown; data?: unknown };
    if (Array.isArray(b.output)) responseText(b.output, parts);
    else if (Array.isArray(b.choices)) {
      for (const ch of b.choices as { index?: number; message?: ChatMessage; text?: unknown }[]) {
        const t = ch?.message ? messageText(ch.message) : typeof ch?.text === 'string' ? ch.text : '';
        parts[ch?.index ?? parts.length] = t;
      }
    } else return null; // embeddings: vectors, no text
  } else if (c.chunks) {
    let deltas = '';
    for (const chunk of c.chunks as { type?: unknown; response?: { output?: unknown }; delta?: unknown; choices?: unknown }[]) {
      if (typeof chunk.type === 'string') {
        // A Responses stream: its terminal event holds the whole (redacted) Response; deltas are the fallback.
        if (TERMINAL.has(chunk.type) && Array.isArray(chunk.response?.output)) return clipText(responseText(chunk.response.output, []).join('\n'));
        if (chunk.type === 'response.output_text.delta' && typeof chunk.delta === 'string') deltas += chunk.delta;
        continue;
      }
      if (!Array.isArray(chunk.choices)) continue;
      for (const ch of chunk.choices as { index?: number; delta?: { content?: unknown }; text?: unknown }[]) {
        const t = ch?.delta?.content ?? ch?.text;
        if (typeof t === 'string' && t !== '') parts[ch.index ?? 0] = (parts[ch.index ?? 0] ?? '') + t;
      }
    }
    if (deltas !== '') parts.push(deltas);
  } else return null;
  return clipText(parts.filter((p) => p !== undefined).join('\n'));
}

/** The events that end a Responses stream, carrying the whole Response. */
const TERMINAL: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** The text of a Response's output: each message item's text and refusal parts, one entry per message. */
function responseText(output: unknown[], into: string[]): string[] {
  for (const item of output as { type?: unknown; content?: unknown }[]) {
    if (item?.type !== 'message' || !Array.isArray(item.content)) continue;
    let t = '';
    for (const p of item.content as { text?: unknown; refusal?: unknown }[]) {
      const v = typeof p?.text === 'string' ? p.text : typeof p?.refusal === 'string' ? p.refusal : '';
      if (v !== '') t += (t ? ' ' : '') + v;
    }
    into.push(t);
  }
  return into;
}

/** What both record builders derive from a chained request's context and outcome (reused: builders are synchronous). */
const FACTS = { rejected: false, durationMs: 0, overheadMs: null as number | null, upstreamMs: null as number | null };

/**
 * Fills FACTS: whether the request is a gateway rejection (an error before any upstream call or policy answer), its
 * duration, the gateway's own share of it (null when the upstream was called but did not finish) and the upstream's.
 */
function requestFacts(ctx: RequestContext, outcome: Outcome): typeof FACTS {
  const t = ctx.timings;
  const total = (t.end || performance.now()) - t.start;
  const called = outcome.upstreamCalled && t.upstreamStart > 0;
  const upstreamMs = called && t.upstreamEnd > 0 ? t.upstreamEnd - t.upstreamStart : null;
  FACTS.rejected = outcome.error !== undefined && !outcome.synthesized && !outcome.upstreamCalled;
  FACTS.durationMs = round3(total);
  FACTS.overheadMs = !called ? round3(total) : upstreamMs !== null ? round3(Math.max(0, total - upstreamMs)) : null;
  FACTS.upstreamMs = upstreamMs === null ? null : round3(upstreamMs);
  return FACTS;
}

/**
 * The optional fields a record carries after `upstream_status`, present only when they apply, in this order:
 * `hidden_input` (what of the prompt the policy could not read: Responses state kept upstream — `previous_response_id`,
 * `conversation`, `item_reference`, `prompt` — or `token_ids`), `quota_limit` (the limit that refused the request),
 * `moderation_error` (why the moderation provider failed), `request_redactions` (spans redacted in the request). Key,
 * value, key, value… in a reused array; returns the count × 2.
 */
const EXTRAS: (string | AuditValue)[] = [];
function collectExtras(ctx: RequestContext): number {
  let n = 0;
  // Chat requests hide nothing: their prompt view is not built just for this.
  if (ctx.endpoint !== 'chat' && ctx.prompt.hidden.length > 0) { EXTRAS[n++] = 'hidden_input'; EXTRAS[n++] = ctx.prompt.hidden; }
  const rejectedBy = ctx.get(quotaKey)?.rejectedBy;
  if (typeof rejectedBy === 'string') { EXTRAS[n++] = 'quota_limit'; EXTRAS[n++] = rejectedBy; }
  const modError = ctx.get(moderationErrorKey);
  if (typeof modError === 'string') { EXTRAS[n++] = 'moderation_error'; EXTRAS[n++] = modError; }
  const requestCounts = redactionCounts(ctx.get(redactionKey)?.request);
  if (requestCounts !== null) { EXTRAS[n++] = 'request_redactions'; EXTRAS[n++] = requestCounts; }
  return n;
}

/**
 * The recorded prompt: only text that went through the whole request chain (redactor included); a request refused
 * or rejected earlier never reached request-scope redaction, so its prompt is left out.
 */
function capturedPrompt(ctx: RequestContext, capture: Capture): string | null {
  return capture.passedChain ? promptText(readPrompt(ctx.endpoint, ctx.request)) : null;
}

/**
 * The record of a request that ran its policy chain. `decision` is the policy's verdict, except for requests the
 * gateway answered with an error before any upstream call or policy answer (auth, quota, validation after the
 * policy was found, a failing plugin): those read `decision=reject`, with the reason code of their GW_ERR_* code.
 */
export function buildAuditRecord(ctx: RequestContext, outcome: Outcome, config: AuditConfig, capture?: Capture): AuditRecord {
  const v = ctx.verdict;
  const err = outcome.error;
  const f = requestFacts(ctx, outcome);
  const rejected = f.rejected;
  const rec: Record<string, AuditValue> = {
    timestamp: auditTimestamp(ctx.timings.startedAt),
    policy_id: ctx.meta.policyId,
    decision: rejected ? REJECT : v.decision,
    reason_code: rejected ? err!.reasonCode : v.reasonCode,
    policy_user: ctx.meta.user,
    policy_project_id: ctx.meta.project,
    request_id: ctx.id,
    route: routeOf(ctx),
    effective_decision: rejected ? REJECT : v.effectiveDecision,
    // A rejection is no policy decision, so it has no rollout mode (the verdict still holds its defaults).
    rollout_mode: rejected ? null : v.rolloutMode,
    enforced: rejected ? null : v.enforced,
    policy_target: ctx.meta.target,
    status: outcome.status,
    code: err?.code ?? null,
    aborted: outcome.aborted,
    stream: ctx.request.stream === true,
    triggered_categories: v.triggeredCategories,
    allowlist_hits: v.allowlistHits,
    denylist_hits: v.denylistHits,
    rule: v.rule,
    revision: revisionOf(ctx),
    key_label: stringOrNull(ctx.get(principalKey)?.label),
    redactions: redactionCounts(ctx.get(redactionKey)?.response),
    prompt_tokens: ctx.usage ? ctx.usage.prompt_tokens ?? null : null,
    completion_tokens: ctx.usage ? ctx.usage.completion_tokens ?? null : null,
    duration_ms: f.durationMs,
    overhead_ms: f.overheadMs,
    upstream_ms: f.upstreamMs,
    upstream_status: ctx.upstreamStatus > 0 ? ctx.upstreamStatus : null,
  };
  for (let i = 0, n = collectExtras(ctx); i < n; i += 2) rec[EXTRAS[i] as string] = EXTRAS[i + 1]!;
  rec.tags = config.tags;
  if (config.prompts && capture) {
    rec.prompt = capturedPrompt(ctx, capture);
    rec.output = outputText(capture);
  }
  if (config.replay) rec.replay = replayCapture(ctx);
  return rec as AuditRecord;
}

/** A string or null as logfmtValue writes it (`-` for null), without its type switch. */
function lfString(v: string | null): string {
  if (v === null) return MISSING;
  return needsQuoting(v) || v === MISSING ? quoteLogfmt(v) : v;
}

/** A list as logfmtValue writes it (`a,b`; `-` when empty). */
function lfList(v: readonly string[]): string {
  return v.length === 0 ? MISSING : lfString(v.join(','));
}

function lfNumber(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? MISSING : String(v);
}

/** The logfmt text of each policy's tags, built on first use. */
const tagsText = new WeakMap<readonly string[], string>();

/** Pieces of the line being built (reused: formatting is synchronous). */
const PARTS: string[] = [];

/**
 * The logfmt line of a chained request: exactly `formatLogfmt(buildAuditRecord(ctx, outcome, config, capture))`
 * (a property test holds the two together), written straight from the context on the request path without the
 * intermediate record object, its key enumeration and a type switch per value.
 */
export function formatRequestLogfmt(ctx: RequestContext, outcome: Outcome, config: AuditConfig, capture?: Capture): string {
  const v = ctx.verdict;
  const err = outcome.error;
  const f = requestFacts(ctx, outcome);
  const rejected = f.rejected;
  const meta = ctx.meta;
  const usage = ctx.usage;
  const p = PARTS;
  let n = 0;
  p[n++] = auditTimestamp(ctx.timings.startedAt);
  p[n++] = ' policy_id=';
  p[n++] = lfString(meta.policyId);
  p[n++] = ' decision=';
  p[n++] = rejected ? REJECT : lfString(v.decision);
  p[n++] = ' reason_code=';
  p[n++] = lfString(rejected ? err!.reasonCode : v.reasonCode);
  p[n++] = ' policy_user=';
  p[n++] = lfString(meta.user);
  p[n++] = ' policy_project_id=';
  p[n++] = lfString(meta.project);
  p[n++] = ' request_id=';
  p[n++] = lfString(ctx.id);
  p[n++] = ' route=';
  p[n++] = lfString(routeOf(ctx));
  p[n++] = ' effective_decision=';
  p[n++] = rejected ? REJECT : lfString(v.effectiveDecision);
  p[n++] = ' rollout_mode=';
  p[n++] = rejected ? MISSING : lfString(v.rolloutMode);
  p[n++] = ' enforced=';
  p[n++] = rejected ? MISSING : v.enforced ? 'true' : 'false';
  p[n++] = ' policy_target=';
  p[n++] = lfString(meta.target);
  p[n++] = ' status=';
  p[n++] = lfNumber(outcome.status);
  p[n++] = ' code=';
  p[n++] = lfString(err?.code ?? null);
  p[n++] = ' aborted=';
  p[n++] = outcome.aborted ? 'true' : 'false';
  p[n++] = ' stream=';
  p[n++] = ctx.request.stream === true ? 'true' : 'false';
  p[n++] = ' triggered_categories=';
  p[n++] = lfList(v.triggeredCategories);
  p[n++] = ' allowlist_hits=';
  p[n++] = lfList(v.allowlistHits);
  p[n++] = ' denylist_hits=';
  p[n++] = lfList(v.denylistHits);
  p[n++] = ' rule=';
  p[n++] = lfString(v.rule);
  p[n++] = ' revision=';
  p[n++] = lfString(revisionOf(ctx));
  p[n++] = ' key_label=';
  p[n++] = lfString(stringOrNull(ctx.get(principalKey)?.label));
  p[n++] = ' redactions=';
  p[n++] = logfmtValue(redactionCounts(ctx.get(redactionKey)?.response));
  p[n++] = ' prompt_tokens=';
  p[n++] = usage ? logfmtValue(usage.prompt_tokens ?? null) : MISSING;
  p[n++] = ' completion_tokens=';
  p[n++] = usage ? logfmtValue(usage.completion_tokens ?? null) : MISSING;
  p[n++] = ' duration_ms=';
  p[n++] = lfNumber(f.durationMs);
  p[n++] = ' overhead_ms=';
  p[n++] = lfNumber(f.overheadMs);
  p[n++] = ' upstream_ms=';
  p[n++] = lfNumber(f.upstreamMs);
  p[n++] = ' upstream_status=';
  p[n++] = ctx.upstreamStatus > 0 ? lfNumber(ctx.upstreamStatus) : MISSING;
  for (let i = 0, e = collectExtras(ctx); i < e; i += 2) {
    p[n++] = ` ${EXTRAS[i] as string}=`;
    p[n++] = logfmtValue(EXTRAS[i + 1] as AuditValue);
  }
  p[n++] = ' tags=';
  let tags = tagsText.get(config.tags);
  if (tags === undefined) tagsText.set(config.tags, (tags = logfmtValue(config.tags)));
  p[n++] = tags;
  if (config.prompts && capture) {
    p[n++] = ' prompt=';
    p[n++] = logfmtValue(capturedPrompt(ctx, capture));
    p[n++] = ' output=';
    p[n++] = logfmtValue(outputText(capture));
  }
  if (config.replay) {
    p[n++] = ' replay=';
    p[n++] = logfmtValue(replayCapture(ctx));
  }
  if (p.length !== n) p.length = n;
  return p.join('');
}

/** What the gateway reports for a request that ended before reaching a policy (src/sdk/plugin.ts UnchainedRequestEnd). */
export interface UnchainedEnd {
  readonly reqId: string;
  readonly route: string;
  readonly status: number;
  readonly error: { readonly code: string; readonly reasonCode: string } | undefined;
  readonly durationMs: number;
  /** The serving rule-set revision, when the gateway reports it. */
  readonly revision?: string | undefined;
}

/**
 * The record of a request that never reached a policy chain (bad JSON, unknown policy or route, 413, 415,
 * shutting down): `decision=reject`, the error's reason code, no policy fields.
 */
export function buildUnchainedRecord(end: UnchainedEnd, nowMs: number): AuditRecord {
  const code = end.error?.code ?? null;
  const rec: Record<string, AuditValue> = {
    timestamp: auditTimestamp(nowMs - end.durationMs),
    policy_id: null,
    decision: REJECT,
    reason_code: end.error?.reasonCode ?? 'INTERNAL_ERROR',
    policy_user: null,
    policy_project_id: null,
    request_id: end.reqId,
    route: end.route,
    effective_decision: REJECT,
    rollout_mode: null,
    enforced: null,
    policy_target: null,
    status: end.status,
    code,
    aborted: false,
    stream: null,
    triggered_categories: [],
    allowlist_hits: [],
    denylist_hits: [],
    rule: null,
    revision: typeof end.revision === 'string' ? end.revision : null,
    key_label: null,
    redactions: null,
    prompt_tokens: null,
    completion_tokens: null,
    duration_ms: round3(end.durationMs),
    overhead_ms: round3(end.durationMs),
    upstream_ms: null,
    upstream_status: null,
    tags: [],
  };
  return rec as AuditRecord;
}
