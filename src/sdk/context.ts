// The per-request context every hook receives, and the gateway services plugins may use at run time.
// Built by one constructor (src/chain/request-context.ts); plugins share data only through typed StateKeys.
import type { Logger } from 'pino';
import type { IncomingHttpHeaders } from 'node:http';
import type { MetricDecls, MetricsOf } from './metrics.ts';
import type { PromptView } from './prompt-view.ts';
import type { TraceRecorder } from './trace.ts';
import type { ApiRequest, Decision, Endpoint, RolloutMode, StreamChunk, Usage } from './types.ts';

/** Shared run-time services of one gateway instance. */
export interface GatewayServices {
  readonly log: Logger;
  /** The live metrics of a plugin's declaration (the object it registered as `metrics`). */
  metricsOf<D extends MetricDecls>(decls: D): MetricsOf<D>;
  /** Environment for secrets referenced by policies (`key env "OPENAI_API_KEY"`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Redis URL when the gateway runs with a shared store (`--redis-url` / REDIS_URL), else undefined. */
  readonly redisUrl: string | undefined;
  /** Audit destination (`stdout`, `stderr`, `off` or a file path) and format, from `--audit` / `--audit-format`. */
  readonly audit: { readonly destination: string; readonly format: 'logfmt' | 'json' };
  /** Registers a function run once at shutdown (close connections, flush queues). */
  onClose(fn: () => Promise<void> | void): void;
  /** Registers a function run on SIGHUP (reopen log files after rotation). */
  onReopen(fn: () => void): void;
  /** Runs a task off the request path (webhooks); shutdown waits for running tasks up to the grace period. */
  background(task: () => Promise<void>): void;
  /**
   * Where the auditor also hands each finished request's audit record (the console's live decisions), when the
   * gateway runs a console; undefined otherwise (then no record object is built for it).
   */
  readonly decisions?: DecisionTap;
}

/**
 * Receives audit records as requests end (src/console/feed.ts). `publish` MUST NOT block or throw: it is called on
 * the request path, after the answer went out.
 */
export interface DecisionTap {
  publish(record: Readonly<Record<string, unknown>>): void;
}

/** A typed key for per-request plugin state. The producing plugin exports it. */
export type StateKey<T> = symbol & { readonly __t?: T };
export const stateKey = <T>(name: string): StateKey<T> => Symbol(name) as StateKey<T>;

/**
 * The verdict of a request (the `policy` block's content): assembled by the chain, in one place, from what the plugins
 * published through their state keys (rollout mode, topic hits, moderation flags, the decision). Read-only: plugins
 * publish results, they never write the verdict.
 */
export interface Verdict {
  readonly decision: Decision;
  /** What was actually applied: equals `decision` when enforced, `allow` in shadow mode. */
  readonly effectiveDecision: Decision;
  readonly reasonCode: string;
  /** Flagged moderation categories, sorted. */
  readonly triggeredCategories: readonly string[];
  readonly allowlistHits: readonly string[];
  readonly denylistHits: readonly string[];
  readonly rolloutMode: RolloutMode;
  readonly enforced: boolean;
  /** The rule that fired, as `file:line`, or null. */
  readonly rule: string | null;
}

/** Request metadata from headers/body (README, "HTTP contract"); null when not given. */
export interface RequestMeta {
  readonly policyId: string;
  readonly user: string | null;
  readonly project: string | null;
  readonly target: string | null;
}

/** Wall-clock and monotonic times of one request, in milliseconds (`performance.now()` scale except `startedAt`). */
export interface Timings {
  /** Epoch ms when the request arrived (audit timestamp). */
  readonly startedAt: number;
  readonly start: number;
  upstreamStart: number;
  upstreamFirstByte: number;
  upstreamEnd: number;
  end: number;
}

/** What every hook receives. One per request; never shared. */
export interface RequestContext {
  /** Request id; also the X-Request-Id response header. */
  readonly id: string;
  readonly log: Logger;
  /** Aborted when the client goes away or the deadline passes. */
  readonly signal: AbortSignal;
  /** Injected clock (epoch ms): quota windows use it so tests can move time. */
  readonly now: () => number;
  readonly services: GatewayServices;
  /** The policy serving this request, from the rule-set snapshot taken at request start (reloads never change it). */
  readonly policy: { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
  readonly route: 'policy' | 'v1';
  /** The OpenAI endpoint called: `chat` (chat completions), `responses`, `embeddings`, `completions` (legacy). */
  readonly endpoint: Endpoint;
  readonly meta: RequestMeta;
  /** The raw request headers (read-only). */
  readonly headers: IncomingHttpHeaders;
  /**
   * The request as it will go upstream (re-serialised from this object); onRequest hooks MAY change it in place. Its
   * shape is the endpoint's (ChatRequest, ResponsesRequest, …): plugins that read the prompt read `prompt` instead.
   */
  request: ApiRequest;
  /**
   * The prompt as every plugin reads it, whatever the endpoint (src/sdk/prompt-view.ts), of the request as the client
   * sent it: computed on first use, once. A hook that changed `request` and needs its new text calls `readPrompt`.
   */
  readonly prompt: PromptView;
  /** Records that a hook declared `requestAccess: 'marked'` changed `request`, so it is re-serialised. */
  markRequestChanged(): void;
  /** Records that an `onResponse` hook declared `responseAccess: 'marked'` changed the answer, so it is re-serialised. */
  markResponseChanged(): void;
  /** True when the client itself asked for `stream_options.include_usage` (so the usage chunk is passed on). */
  readonly clientWantsUsage: boolean;
  /**
   * During `onChunk` only: writes `event` to the client before the event being processed (the redactor releases held
   * text as a `.delta` event before a Responses `.done` event). Inserted events pass through no other hook; the gateway
   * numbers Responses events (`sequence_number`) as it writes them.
   */
  emitBefore(event: StreamChunk): void;
  /**
   * The verdict assembled from the published state. Final once the request hooks have run (response hooks and
   * onComplete read it); read during onRequest it reflects what was published so far.
   */
  readonly verdict: Verdict;
  /** Extra response headers (x-ratelimit-*), set before the response head is sent. */
  readonly responseHeaders: Record<string, string>;
  /**
   * The evaluation trace, only when this request is traced (`explain`, the live debug header); else undefined. Plugins
   * record their steps as `if (ctx.trace !== undefined) …`: with tracing off that one check is all a hook pays.
   */
  readonly trace: TraceRecorder | undefined;
  /** Token usage reported by the upstream, once known. */
  usage: Usage | undefined;
  /** Upstream HTTP status, once known. */
  upstreamStatus: number;
  readonly timings: Timings;
  get<T>(key: StateKey<T>): T | undefined;
  set<T>(key: StateKey<T>, value: T): void;
}
