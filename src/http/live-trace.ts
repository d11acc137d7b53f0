// The live debug trace: a request with `x-policy-gateway-explain: 1` is traced (in `audit` text mode) and its answer
// carries the trace as a `policy_gateway` member next to the `policy` block — JSON answers and the last chunk of chat
// and legacy completions streams. Only keys with the `debug` grant may ask (checked by auth); size-bounded.
import type { IncomingHttpHeaders } from 'node:http';
import { TraceRecorder } from '../sdk/trace.ts';
import type { RequestContext } from '../sdk/context.ts';

/** The request header that asks for the trace (value `1` or `true`). */
export const EXPLAIN_HEADER = 'x-policy-gateway-explain';
/** Largest trace member written into an answer, in bytes of JSON; later steps are left out past it. */
export const MAX_LIVE_TRACE_BYTES = 64 * 1024;

/** A recorder for a request that asks for the live trace, else undefined (one header lookup per request). */
export function liveTraceFor(headers: IncomingHttpHeaders): TraceRecorder | undefined {
  const v = headers[EXPLAIN_HEADER];
  return v === '1' || v === 'true' ? new TraceRecorder('audit') : undefined;
}

/**
 * The answer's `policy_gateway` member as JSON text, `,"policy_gateway":{…}` (to splice after the policy block), or ''
 * for an untraced request. Steps are kept in order while the member stays within MAX_LIVE_TRACE_BYTES.
 */
export function traceMember(ctx: RequestContext): string {
  if (ctx.trace === undefined) return '';
  const snap = ctx.trace.snapshot();
  let size = 0;
  const kept: string[] = [];
  for (const s of snap.steps) {
    const j = JSON.stringify(s);
    if (size + j.length + 1 > MAX_LIVE_TRACE_BYTES) break;
    size += j.length + 1;
    kept.push(j);
  }
  const dropped = snap.dropped + snap.steps.length - kept.length;
  return `,"policy_gateway":{"trace":{"version":1,"prompt_text":${snap.promptText},"dropped_steps":${dropped},"steps":[${kept.join(',')}]}}`;
}

/** The `policy_gateway` member as an object (for answers built as objects), or undefined for an untraced request. */
export function traceObject(ctx: RequestContext): unknown {
  const m = traceMember(ctx);
  return m === '' ? undefined : (JSON.parse(`{${m.slice(1)}}`) as { policy_gateway: unknown }).policy_gateway;
}
