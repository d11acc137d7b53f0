// The quota plugin (second in the chain): per-user / per-project request, token and cost limits in fixed UTC
// windows. onRequest reserves atomically (all limits or none, one store round trip); onComplete settles from usage.
import { hash } from 'node:crypto';
import { definePlugin, type Outcome, type PluginHooks, type RequestAction } from '../../src/sdk/plugin.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { GatewayError } from '../../src/sdk/errors.ts';
import { QUOTA_ERRORS, QUOTA_METRICS, QUOTA_REASON_CODES } from './declarations.ts';
import { compileQuota, type Limit, type QuotaConfig } from './block.ts';
import { completionReservation, costMicros, estimatePromptTokens, priceFor, type Price } from './estimate.ts';
import { principalKey, quotaKey, type QuotaReservation } from '../../src/sdk/state-keys.ts';
import type { CounterSpec, ReserveResult } from './store.ts';
import { storeFor, type StoreHandle } from './store-for.ts';
import { formatResetDuration, retryAfterSeconds, windowAt } from './windows.ts';

export { quotaKey, type QuotaReservation } from '../../src/sdk/state-keys.ts';
export type { QuotaConfig, Limit } from './block.ts';

/** Counters live this long past the end of their window (gateways' clocks may differ slightly). */
export const WINDOW_GRACE_MS = 10_000;
/** Subject ids (user, project) up to this length made of safe characters are kept as written; others are hashed. */
const MAX_PLAIN_SUBJECT = 64;
const PLAIN_SUBJECT = /^[A-Za-z0-9._@+-]+$/;

/**
 * The subject part of a counter key: `<tag>:<id>` for short ids of safe characters, else `<tag>h:<sha256
 * base64url, 22 chars>`, so a hostile id can neither blow up key sizes nor inject separators.
 */
export function subjectKey(tag: 'u' | 'p', id: string): string {
  if (id.length <= MAX_PLAIN_SUBJECT && PLAIN_SUBJECT.test(id)) return `${tag}:${id}`;
  return `${tag}h:${hash('sha256', id, 'base64url').slice(0, 22)}`;
}

/**
 * Whose user limits a request counts against: its `policy_user`; else the policy key it authenticated with
 * (`k:<key id>`); else one shared `anonymous` bucket.
 */
export function userSubject(ctx: RequestContext): string {
  if (ctx.meta.user !== null) return subjectKey('u', ctx.meta.user);
  const p = ctx.get(principalKey);
  return p ? `k:${p.id}` : 'anonymous';
}

/** Whose project limits a request counts against: its project id, else one shared `none` bucket. */
export function projectSubject(ctx: RequestContext): string {
  return ctx.meta.project !== null ? subjectKey('p', ctx.meta.project) : 'none';
}

const E = QUOTA_ERRORS;
const ERRORS = { requests: E.GW_ERR_RATE_LIMITED, tokens: E.GW_ERR_QUOTA_EXCEEDED, cost: E.GW_ERR_BUDGET_EXCEEDED } as const;

/** One request's plan: the counters to reserve and, per counter, its limit and window end. */
interface Plan {
  readonly counters: CounterSpec[];
  readonly limits: Limit[];
  readonly ends: number[];
  readonly prompt: number;
  readonly completion: number;
  readonly price: Price | undefined;
}

/**
 * The last counter key built for each limit of one compiled block, with the subject and window start it was built
 * for: consecutive requests of the same subject in the same window reuse the string (no template string, no
 * re-hashing of a new key by the store's map).
 */
class KeyCache {
  readonly subjects: string[];
  readonly starts: number[];
  readonly keys: string[];
  constructor(n: number) {
    this.subjects = new Array<string>(n).fill('');
    this.starts = new Array<number>(n).fill(-1);
    this.keys = new Array<string>(n).fill('');
  }
  key(i: number, prefix: string, subject: string, start: number): string {
    if (this.starts[i] === start && this.subjects[i] === subject) return this.keys[i]!;
    const key = `${prefix}${subject}:${start / 1000}`;
    this.subjects[i] = subject;
    this.starts[i] = start;
    this.keys[i] = key;
    return key;
  }
}

function plan(config: QuotaConfig, ctx: RequestContext, now: number, cache: KeyCache): Plan {
  let prompt = 0;
  let completion = 0;
  let tokens = 0;
  let cost = 0;
  let price: Price | undefined;
  if (config.needsEstimate) {
    prompt = estimatePromptTokens(ctx.prompt);
    completion = completionReservation(ctx.prompt, config.reserve);
    tokens = prompt + completion;
    if (config.prices.length > 0) {
      price = priceFor(config.prices, ctx.request.model);
      cost = costMicros(price, prompt, completion);
    }
  }
  const user = config.hasUserLimits ? userSubject(ctx) : '';
  const project = config.hasProjectLimits ? projectSubject(ctx) : '';
  const counters: CounterSpec[] = [];
  const limits: Limit[] = [];
  const ends: number[] = [];
  const all = config.limits;
  for (let i = 0; i < all.length; i++) {
    const l = all[i]!;
    // A model with no price costs nothing, so cost budgets do not apply to it.
    if (l.kind === 'cost' && cost === 0) continue;
    const w = windowAt(l.window, now);
    counters.push({
      key: cache.key(i, l.keyPrefix, l.subject === 'user' ? user : project, w.start),
      amount: l.kind === 'requests' ? 1 : l.kind === 'tokens' ? tokens : cost,
      limit: l.limit,
      ttlMs: w.end - now + WINDOW_GRACE_MS,
    });
    limits.push(l);
    ends.push(w.end);
  }
  return { counters, limits, ends, prompt, completion, price };
}

/**
 * The OpenAI-style x-ratelimit-* headers for the most constraining request limit and token limit (lowest
 * remaining; on a tie, the one resetting last). `values` are the counters as they stand after this decision.
 */
function rateLimitHeaders(p: Plan, values: readonly number[], now: number, out: Record<string, string>): void {
  let req = -1;
  let reqLeft = Infinity;
  let tok = -1;
  let tokLeft = Infinity;
  for (let i = 0; i < p.limits.length; i++) {
    const l = p.limits[i]!;
    if (l.kind === 'cost') continue;
    const left = l.limit > values[i]! ? l.limit - values[i]! : 0;
    if (l.kind === 'requests') {
      if (left < reqLeft || (left === reqLeft && p.ends[i]! > p.ends[req]!)) { req = i; reqLeft = left; }
    } else if (left < tokLeft || (left === tokLeft && p.ends[i]! > p.ends[tok]!)) { tok = i; tokLeft = left; }
  }
  if (req >= 0) {
    out['x-ratelimit-limit-requests'] = String(p.limits[req]!.limit);
    out['x-ratelimit-remaining-requests'] = String(reqLeft);
    out['x-ratelimit-reset-requests'] = formatResetDuration(p.ends[req]! - now);
  }
  if (tok >= 0) {
    out['x-ratelimit-limit-tokens'] = String(p.limits[tok]!.limit);
    out['x-ratelimit-remaining-tokens'] = String(tokLeft);
    out['x-ratelimit-reset-tokens'] = formatResetDuration(p.ends[tok]! - now);
  }
}

function storeFailed(config: QuotaConfig, ctx: RequestContext, h: StoreHandle, err: unknown, now: number): RequestAction {
  const closed = config.onError === 'closed';
  if (ctx.trace !== undefined) ctx.trace.add({ plugin: 'quota', kind: 'quota', store: h.store.kind, admitted: null, error: 'store unreachable', on_error: config.onError });
  h.health.failure(ctx.services, h.store.kind, err, now, closed ? 'fail_closed' : 'fail_open');
  if (!closed) return undefined;
  return { kind: 'reject', error: new GatewayError(E.GW_ERR_QUOTA_UNAVAILABLE, [], { cause: err }) };
}

/** The per-request reservation record (token and cost counters only: request counts are never settled). */
function reservationOf(p: Plan): QuotaReservation {
  const keys: string[] = [];
  const reserved: number[] = [];
  const kinds: ('tokens' | 'cost')[] = [];
  for (let i = 0; i < p.limits.length; i++) {
    const kind = p.limits[i]!.kind;
    if (kind === 'requests' || p.counters[i]!.amount === 0) continue;
    keys.push(p.counters[i]!.key);
    reserved.push(p.counters[i]!.amount);
    kinds.push(kind);
  }
  return {
    keys, reserved, kinds, promptEstimate: p.prompt, completionReserve: p.completion,
    price: p.price ?? null, admitted: false, settled: false, rejectedBy: null,
  };
}

/** Records the `quota` step of a traced request: each limit with its window, use before, amount asked and verdict. */
function traceQuota(ctx: RequestContext, p: Plan, r: ReserveResult | null, now: number, store: string): void {
  ctx.trace!.add({
    plugin: 'quota', kind: 'quota', store, admitted: r?.ok ?? null, prompt_estimate: p.prompt, completion_reserve: p.completion,
    limits: p.limits.map((l, i) => {
      const used = r === null ? null : r.ok ? r.values[i]! - p.counters[i]!.amount : r.values[i]!;
      return {
        rule: l.rule, limit: l.name, kind: l.kind, max: l.limit, used, asked: p.counters[i]!.amount,
        window_resets_in_s: Math.ceil((p.ends[i]! - now) / 1000),
        within: used === null ? null : used + p.counters[i]!.amount <= l.limit,
      };
    }),
  });
}

function concludeReservation(config: QuotaConfig, ctx: RequestContext, h: StoreHandle, p: Plan, st: QuotaReservation, r: ReserveResult,
  now: number): RequestAction | Promise<RequestAction> {
  h.health.success(ctx.services, h.store.kind);
  if (ctx.trace !== undefined) traceQuota(ctx, p, r, now, h.store.kind);
  if (r.ok) {
    st.admitted = true;
    if (st.settled) {
      // The request already ended (plugin budget hit, client gone) before the store answered: give it all back.
      st.settled = false;
      const refunded = settle(ctx, true);
      return refunded ? refunded.then(() => undefined) : undefined;
    }
    rateLimitHeaders(p, r.values, now, ctx.responseHeaders);
    return undefined;
  }
  // Rejected: the request must wait until every limit it would break has reset, so report the latest one.
  let worst = -1;
  for (let i = 0; i < p.limits.length; i++) {
    if (r.values[i]! + p.counters[i]!.amount <= p.limits[i]!.limit) continue;
    if (worst < 0 || p.ends[i]! > p.ends[worst]!) worst = i;
  }
  if (worst < 0) worst = 0; // NOTE: unreachable unless the store and this check disagree; reject on the first limit.
  const limit = p.limits[worst]!;
  const retryAfter = retryAfterSeconds(p.ends[worst]!, now);
  const headers: Record<string, string> = { 'retry-after': String(retryAfter) };
  rateLimitHeaders(p, r.values, now, headers);
  ctx.services.metricsOf(QUOTA_METRICS).rejections.inc({ policy_id: config.policyId, scope: limit.scope });
  st.rejectedBy = limit.name;
  return { kind: 'reject', error: new GatewayError(ERRORS[limit.kind], [limit.name, retryAfter], { headers }) };
}

/** Reserves every applicable limit for one request, all or nothing. Synchronous with the memory store. */
function admit(config: QuotaConfig, ctx: RequestContext, cache: KeyCache): RequestAction | Promise<RequestAction> {
  const now = ctx.now();
  const p = plan(config, ctx, now, cache);
  if (p.counters.length === 0) return undefined;
  const h = storeFor(ctx.services);
  // Published before the store answers, so a request that ends first (onComplete) is still settled correctly.
  const st = reservationOf(p);
  ctx.set(quotaKey, st);
  let r: ReserveResult | Promise<ReserveResult>;
  try {
    r = h.store.reserve(p.counters, now);
  } catch (err) {
    return storeFailed(config, ctx, h, err, now);
  }
  if (r instanceof Promise) {
    return r.then((res) => concludeReservation(config, ctx, h, p, st, res, now), (err: unknown) => storeFailed(config, ctx, h, err, now));
  }
  return concludeReservation(config, ctx, h, p, st, r, now);
}

function validCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Settles a reservation: with upstream `usage`, moves each token/cost counter by (actual − reserved); without
 * usage (upstream failed, answered locally, client left first) or with `refundAll`, gives the whole token/cost
 * reservation back. Request counts are never given back. Runs at most once per request.
 */
function settle(ctx: RequestContext, refundAll = false): void | Promise<void> {
  const st = ctx.get(quotaKey);
  if (st === undefined || st.settled) return;
  st.settled = true;
  if (!st.admitted || st.keys.length === 0) return;
  const u = refundAll ? undefined : ctx.usage;
  const deltas = new Array<number>(st.keys.length);
  const hasUsage = u !== undefined && validCount(u.prompt_tokens) && validCount(u.completion_tokens);
  const total = hasUsage ? (validCount(u.total_tokens) && u.total_tokens > 0 ? u.total_tokens : u.prompt_tokens + u.completion_tokens) : 0;
  const cost = hasUsage && st.price ? costMicros(st.price, u.prompt_tokens, u.completion_tokens) : 0;
  let any = false;
  for (let i = 0; i < st.keys.length; i++) {
    const actual = hasUsage ? (st.kinds[i] === 'tokens' ? total : cost) : 0;
    deltas[i] = actual - st.reserved[i]!;
    if (deltas[i] !== 0) any = true;
  }
  if (!any) return;
  const h = storeFor(ctx.services);
  const now = ctx.now();
  let r: void | Promise<void>;
  try {
    r = h.store.adjust(st.keys, deltas, now);
  } catch (err) {
    h.health.failure(ctx.services, h.store.kind, err, now, 'settle_failed');
    return;
  }
  if (r instanceof Promise) return r.catch((err: unknown) => { h.health.failure(ctx.services, h.store.kind, err, now, 'settle_failed'); });
}

/** Builds the hooks of one compiled quota block. */
export function quotaHooks(config: QuotaConfig): PluginHooks {
  const cache = new KeyCache(config.limits.length);
  return {
    requestAccess: 'read', // estimates tokens from the messages and prices by model
    onRequest(ctx) {
      return admit(config, ctx, cache);
    },
    onComplete(_outcome: Outcome, ctx) {
      return settle(ctx);
    },
  };
}

/** The quota plugin: block `quota { … }`. Store: Redis when the gateway has a Redis URL, else in-process memory. */
export const quotaPlugin = definePlugin<QuotaConfig>({
  name: 'quota',
  blocks: ['quota'],
  // Counts per key when a request names no user: auth must have accepted it first.
  after: ['auth'],
  errors: QUOTA_ERRORS,
  reasonCodes: QUOTA_REASON_CODES,
  metrics: QUOTA_METRICS,
  diagnostics: [410, 419],
  compile: compileQuota,
  hooks: quotaHooks,
});
export default quotaPlugin;
