// One chained request on its way through the edge: its context and policy, the upstream call, and what the end of
// the request needs to know (errors, timings after the upstream answered). Hung on the IncomingMessage.
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { GatewayError } from '../errors.ts';
import type { RequestCtx } from '../chain/request-context.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import type { Upstream } from '../upstream/router.ts';
import type { BodyScan } from './request-bytes.ts';
import type { UndiciCall } from './undici-call.ts';
import type { RequestTrace } from '../telemetry/tracing.ts';

/** The IncomingMessage property that holds the request's Flight (read by the proxy event handlers). */
export const FLIGHT = Symbol('flight');
/** An IncomingMessage of the gateway: maybe carrying its Flight. */
export type Req = http.IncomingMessage & { [FLIGHT]?: Flight };

/**
 * Per-request bookkeeping the proxy event handlers need. It is also the upstream call's abort source: undici accepts
 * any object with `on`/`once`/`removeListener` as `signal`, so no AbortController (and its EventTarget machinery) is
 * created per request; `RequestCtx.signal` makes one only for plugins that ask.
 */
export class Flight {
  ctx: RequestCtx;
  policy: CompiledPolicy;
  upstream: Upstream;
  stream: boolean;
  /** Gateway processing time after the upstream answered (ms). */
  postMs = 0;
  /** Responses streams: events written so far (the next event's `sequence_number`). */
  events = 0;
  ended = false;
  error: GatewayError | undefined = undefined;
  synthesized = false;
  upstreamCalled = false;
  proxyReq: http.ClientRequest | undefined = undefined;
  /** undici client: the upstream body once the head arrived. */
  upstreamBody: Readable | UndiciCall | undefined = undefined;
  /** undici client path: the upstream call (aborted through it when the client leaves). */
  call: UndiciCall | undefined = undefined;
  /** The client's body as received (decoded), when it may go upstream as sent (no repeated keys), and its layout. */
  rawBody: Buffer | undefined;
  scan: BodyScan | undefined;
  /** A member the gateway adds to the client's bytes (a stream's `stream_options`), if any. */
  addedMember: Buffer | undefined = undefined;
  /** The request's spans, when tracing is on. */
  trace: RequestTrace | undefined = undefined;
  /** The response, and the links of the gateway's list of open flights (cut when a graceful stop runs out of time). */
  res: http.ServerResponse | undefined = undefined;
  prev: Flight | undefined = undefined;
  next: Flight | undefined = undefined;

  constructor(ctx: RequestCtx, policy: CompiledPolicy, stream: boolean, rawBody: Buffer | undefined, scan: BodyScan | undefined) {
    this.ctx = ctx;
    this.policy = policy;
    this.upstream = undefined as unknown as Upstream;
    this.stream = stream;
    this.rawBody = rawBody;
    this.scan = scan;
  }

  /** The client went away: abort the request's signal (if a plugin made one) and the upstream call. */
  abort(reason: Error): void {
    this.ctx.abort(reason);
    this.call?.abort(reason);
  }
}
