// The concrete per-request context (implements the SDK's RequestContext) and the `policy` block built from it.
// A class, so every request has the same object shape; plugin state lives in a lazily created Map.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayServices, RequestContext, RequestMeta, StateKey, Timings, Verdict } from '../sdk/context.ts';
import type { ChatRequest, PolicyBlock, Usage } from '../sdk/types.ts';

/** One request's context. Created by the server after the body is validated and the policy resolved. */
export class RequestCtx implements RequestContext {
  readonly id: string;
  readonly #rootLog: Logger;
  #log: Logger | undefined;
  /** Created on the first read of `signal` (most requests never read it); `abort()` before that is remembered. */
  #abort: AbortController | undefined;
  #aborted = false;
  #abortReason: unknown;
  readonly now: () => number;
  readonly services: GatewayServices;
  readonly policy: { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
  readonly route: 'policy' | 'v1';
  readonly meta: RequestMeta;
  readonly headers: IncomingHttpHeaders;
  request: ChatRequest;
  readonly clientWantsUsage: boolean;
  readonly verdict: Verdict;
  readonly audit: Record<string, unknown> = {};
  readonly responseHeaders: Record<string, string> = {};
  usage: Usage | undefined = undefined;
  /** Set by `markRequestChanged()`. */
  requestChanged = false;
  /** Set by `markResponseChanged()`. */
  responseChanged = false;
  upstreamStatus = 0;
  readonly timings: Timings;
  #state: Map<symbol, unknown> | undefined;

  constructor(init: {
    id: string; rootLog: Logger; now: () => number; services: GatewayServices; route: 'policy' | 'v1';
    policy: { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
    meta: RequestMeta; headers: IncomingHttpHeaders; request: ChatRequest; clientWantsUsage: boolean; timings: Timings;
  }) {
    this.id = init.id;
    this.#rootLog = init.rootLog;
    this.now = init.now;
    this.services = init.services;
    this.policy = init.policy;
    this.route = init.route;
    this.meta = init.meta;
    this.headers = init.headers;
    this.request = init.request;
    this.clientWantsUsage = init.clientWantsUsage;
    this.timings = init.timings;
    this.verdict = {
      decision: 'allow', effectiveDecision: 'allow', reasonCode: 'ALLOW', triggeredCategories: [],
      allowlistHits: [], denylistHits: [], rolloutMode: 'enforced', enforced: true, rule: null,
    };
  }

  /** Aborted when the client goes away (plugins pass it to their own I/O). */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#aborted) this.#abort.abort(this.#abortReason);
    }
    return this.#abort.signal;
  }

  /** True once the request was aborted (read without creating the signal). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the request's signal (the server calls this when the client closed the connection). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#abort?.abort(reason);
  }

  /** The request's child logger (`reqId` bound), created on first use: most requests never log. */
  get log(): Logger {
    return (this.#log ??= this.#rootLog.child({ reqId: this.id }));
  }

  markRequestChanged(): void {
    this.requestChanged = true;
  }

  markResponseChanged(): void {
    this.responseChanged = true;
  }

  get<T>(key: StateKey<T>): T | undefined {
    return this.#state?.get(key) as T | undefined;
  }

  set<T>(key: StateKey<T>, value: T): void {
    (this.#state ??= new Map()).set(key, value);
  }
}

/** The `policy` block of DESIGN §2 for this request, field names exactly as in the integration contract. */
export function policyBlock(ctx: RequestContext): PolicyBlock {
  const v = ctx.verdict;
  return {
    policy_id: ctx.meta.policyId,
    decision: v.decision,
    effective_decision: v.effectiveDecision,
    reason_code: v.reasonCode,
    triggered_categories: v.triggeredCategories,
    allowlist_hits: v.allowlistHits,
    denylist_hits: v.denylistHits,
    rollout_mode: v.rolloutMode,
    enforced: v.enforced,
    policy_target: ctx.meta.target,
    policy_user: ctx.meta.user,
    project_id: ctx.meta.project,
  };
}
