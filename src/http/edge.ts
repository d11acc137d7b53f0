// What every step of the HTTP edge shares for one gateway: its options, the chain runner, request ids and the count
// of requests being answered (a graceful stop waits for it). Built once by the Gateway; the step modules read it.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatewayError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { ChainRunner } from '../chain/run-chain.ts';
import { DEFAULT_MAX_JSON_DEPTH } from '../json-depth.ts';
import type { UpstreamRouter } from '../upstream/router.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { RequestCtx } from '../chain/request-context.ts';
import type { Flight } from './flight.ts';
import type { RequestTrace, Tracing } from '../telemetry/tracing.ts';

/** Where the serving rule set comes from (the hot-reloading PolicyStore in production). */
export interface PolicySource {
  readonly current: CompiledPolicySet | undefined;
}

/** Record written for every request that ends, whatever happened (the auditor and access log build on it). */
export interface RequestEnd {
  readonly ctx: RequestCtx | undefined;
  readonly reqId: string;
  readonly route: string;
  readonly status: number;
  readonly error: GatewayError | undefined;
  readonly durationMs: number;
  /** Revision of the rule set serving when the request ended, if any is loaded. */
  readonly revision: string | undefined;
}

/** How a Gateway is built: the rule set, upstreams, telemetry and every limit of the edge. */
export interface GatewayOptions {
  readonly policies: PolicySource;
  readonly router: UpstreamRouter;
  readonly metrics: Metrics;
  readonly services: GatewayServices;
  readonly log: Logger;
  readonly bodyLimit: number;
  /** Deepest nesting of arrays and objects accepted in a request body and in upstream JSON (default 64). */
  readonly maxJsonDepth?: number;
  /** Time a client has to send a request's headers and body; then 408 (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** A connection with no bytes moving either way for this long is closed (default 0: never). */
  readonly idleTimeoutMs?: number;
  /** Open client connections on the main listener; beyond it new ones get a fast 503 (default: unlimited). */
  readonly maxConnections?: number;
  /** Connections accepted past maxConnections that may only use /healthz, /readyz and /metrics (default 32). */
  readonly opsReserve?: number;
  /** Largest upstream answer held at once: a JSON answer or error body, one SSE event, decoded (default 64 MiB). */
  readonly upstreamBodyLimit?: number;
  readonly upstreamTimeoutMs: number;
  readonly pluginTimeoutMs: number;
  /**
   * The upstream client: `undici` (default) dispatches each call on an undici Pool (`UndiciCall`: less CPU per
   * request), `http` proxies with http-proxy-3 on node:http with a keep-alive Agent.
   */
  readonly upstreamClient?: 'undici' | 'http';
  readonly defaultPolicy: string | undefined;
  readonly now?: () => number;
  /** /metrics text (cluster workers ask the primary for the aggregate). */
  readonly metricsText?: () => Promise<string>;
  /** Models to list when an upstream's /models cannot be read (the demo's, or configured exact names). */
  readonly fallbackModels?: readonly string[];
  /** Projects that keep their own value of the `project` metric label; any other becomes `other` (bounded labels). */
  readonly metricProjects?: ReadonlySet<string>;
  /** Called once per finished request that did not reach a policy chain (the auditor records those too). */
  readonly onUnchainedEnd?: (end: RequestEnd) => void;
  /** OpenTelemetry tracing (--otlp-endpoint); undefined: off, and the request path pays nothing for it. */
  readonly tracing?: Tracing;
}

/** Request ids: a random per-process prefix plus a counter — unique across replicas, no entropy drawn per request. */
const REQ_ID_PREFIX = `${randomBytes(6).toString('hex')}-`;
let reqSeq = 0;

/** The state the steps of the request path share. One per Gateway. */
export class Edge {
  readonly o: GatewayOptions;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly runner: ChainRunner;
  readonly now: () => number;
  readonly maxDepth: number;
  readonly upstreamLimit: number;
  readonly tracing: Tracing | undefined;
  /** The trace of each traced request's context (the chain runner reports hooks by context). */
  readonly traces = new WeakMap<object, RequestTrace>();
  /** Requests being answered (chained or not). */
  inflight = 0;
  /** Chained requests not yet complete: an intrusive list (no allocation per request), newest first. */
  flights: Flight | undefined = undefined;
  shuttingDown = false;
  #drainWaiters: (() => void)[] = [];

  constructor(o: GatewayOptions) {
    this.o = o;
    this.metrics = o.metrics;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.maxDepth = o.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
    this.upstreamLimit = o.upstreamBodyLimit ?? 64 * 1024 * 1024;
    this.tracing = o.tracing;
    this.runner = new ChainRunner(o.metrics, o.pluginTimeoutMs, o.tracing === undefined ? undefined
      : (ctx, plugin, hook, t0, t1, failed) => this.traces.get(ctx)?.hook(plugin, hook, t0, t1, failed));
  }

  /** A fresh request id. */
  nextRequestId(): string {
    return REQ_ID_PREFIX + (++reqSeq).toString(36);
  }

  /** One request finished: wakes a graceful stop waiting for the last one. */
  done(): void {
    if (--this.inflight === 0 && this.#drainWaiters.length) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  /** Resolves true when no request is in flight any more, false after `ms`. */
  drained(ms: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#drainWaiters.push(() => { clearTimeout(timer); resolve(true); });
    });
  }

  /** Adds a chained request to the list of open flights. */
  open(f: Flight): void {
    const head = this.flights;
    if (head !== undefined) { f.next = head; head.prev = f; }
    this.flights = f;
  }

  /** Removes a finished flight from the list. */
  close(f: Flight): void {
    if (f.prev !== undefined) f.prev.next = f.next; else this.flights = f.next;
    if (f.next !== undefined) f.next.prev = f.prev;
    f.prev = f.next = undefined;
  }
}
