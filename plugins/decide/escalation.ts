// The escalation webhook: the event an `escalate` decision POSTs, and the sender that delivers it off the
// request path with per-attempt timeout, retries and exponential backoff.
import type { Logger } from 'pino';
import type { RequestContext } from '../../src/sdk/context.ts';
import { moderationKey, topicsKey } from '../../src/sdk/state-keys.ts';
import type { CounterLike } from '../../src/sdk/metrics.ts';
import type { ChatRequest, Endpoint } from '../../src/sdk/types.ts';
import type { DecisionOutcome, EscalationConfig } from './block.ts';

/** The JSON body POSTed to the escalation url. No prompt text unless the policy sets `include_prompt on`. */
export interface EscalationEvent {
  readonly event: 'policy.escalation';
  /** The request id; stable across retries, so receivers can de-duplicate. */
  readonly event_id: string;
  readonly request_id: string;
  /** ISO 8601 time of the decision (from the request's injected clock). */
  readonly timestamp: string;
  readonly policy_id: string;
  readonly decision: 'escalate';
  readonly reason_code: string;
  /** `file:line` of the rule that fired. */
  readonly rule: string | null;
  readonly triggered_categories: readonly string[];
  readonly allowlist_hits: readonly string[];
  readonly denylist_hits: readonly string[];
  readonly policy_user: string | null;
  readonly project_id: string | null;
  readonly policy_target: string | null;
  readonly model: string;
  /** The endpoint called, when it is not chat completions. */
  readonly endpoint?: Endpoint;
  /**
   * The request's messages; present only with `include_prompt on`: for chat completions as sent, for the other
   * endpoints the prompt as the policy read it, one `{ role, content }` per item with text.
   */
  readonly messages?: readonly unknown[];
}

/** Builds the escalation event for the current request (synchronously, so later changes to ctx don't leak in). */
export function buildEscalationEvent(ctx: RequestContext, outcome: DecisionOutcome, includePrompt: boolean): EscalationEvent {
  const topics = ctx.get(topicsKey);
  const flagged = ctx.get(moderationKey)?.flagged ?? [];
  const ev: EscalationEvent = {
    event: 'policy.escalation',
    event_id: ctx.id,
    request_id: ctx.id,
    timestamp: new Date(ctx.now()).toISOString(),
    policy_id: ctx.meta.policyId,
    decision: 'escalate',
    reason_code: outcome.reasonCode,
    rule: outcome.rule,
    triggered_categories: [...new Set(flagged)].sort(),
    allowlist_hits: topics?.allowlistHits.slice() ?? [],
    denylist_hits: topics?.denylistHits.slice() ?? [],
    policy_user: ctx.meta.user,
    project_id: ctx.meta.project,
    policy_target: ctx.meta.target,
    model: ctx.request.model,
  };
  if (!includePrompt) return ev;
  // Chat: the messages as sent. Other endpoints: the prompt as the policy read it, one { role, content } per item.
  if (ctx.endpoint === 'chat') return { ...ev, messages: (ctx.request as ChatRequest).messages };
  const v = ctx.prompt;
  const messages = v.roles.map((role) => ({ role, content: '' }));
  for (const s of v.segments) messages[s.item]!.content += (messages[s.item]!.content ? '\n' : '') + s.text;
  return { ...ev, endpoint: ctx.endpoint, messages: messages.filter((m) => m.content !== '') };
}

/** Where the sender reports: the escalation counter and a logger (never given prompt text). */
export interface EscalationSink {
  readonly metric: CounterLike;
  readonly log: Logger;
  readonly policyId: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A short, prompt-free description of a failed fetch (`timeout`, `ECONNREFUSED`, …). */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : err.message;
}

/** True for answers worth retrying: 408, 425, 429 and 5xx. */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * POSTs `body` (the JSON of an EscalationEvent) to `cfg.url`; never throws. Each attempt gets `cfg.timeoutMs`;
 * network errors, timeouts, 408/425/429 and 5xx are retried up to `cfg.retries` times, waiting `backoffMs`,
 * then 2×, 4×, … (capped at 30 s); other 4xx and 3xx answers fail at once. Counts one
 * `escalations{policy_id, result: sent|failed}` per event and resolves with the outcome.
 */
export async function sendEscalation(cfg: EscalationConfig, body: string, requestId: string, sink: EscalationSink): Promise<'sent' | 'failed'> {
  let lastStatus = 0;
  let lastError: string | undefined;
  let attempts = 0;
  for (let attempt = 0; attempt <= cfg.retries; attempt++) {
    if (attempt > 0) await sleep(Math.min(cfg.backoffMs * 2 ** (attempt - 1), 30_000));
    attempts++;
    try {
      const res = await fetch(cfg.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'policy-gateway', 'x-request-id': requestId },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
      lastStatus = res.status;
      lastError = undefined;
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        sink.metric.inc({ policy_id: sink.policyId, result: 'sent' });
        return 'sent';
      }
      if (!retryable(res.status)) break;
    } catch (err) {
      lastStatus = 0;
      lastError = describeFetchError(err);
    }
  }
  sink.metric.inc({ policy_id: sink.policyId, result: 'failed' });
  sink.log.warn({ plugin: 'decide', status: lastStatus, error: lastError, attempts }, 'escalation failed');
  return 'failed';
}
