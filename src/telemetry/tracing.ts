// OpenTelemetry tracing of the request path (off unless --otlp-endpoint is set): a SERVER span per chained request,
// an INTERNAL child per plugin hook and a CLIENT child for the upstream call, batched and exported over OTLP/HTTP.
// Attributes follow the GenAI semantic conventions plus the policy's decision; no prompt or answer text, ever.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Verdict } from '../sdk/context.ts';
import type { Endpoint, Usage } from '../sdk/types.ts';

/** How tracing is set up: where spans go and how much may wait for export. */
export interface TracingOptions {
  /** OTLP/HTTP traces URL (`…/v1/traces`). */
  readonly url: string;
  readonly serviceName: string;
  readonly version: string;
  readonly log: Logger;
  /** Spans held for export at most (more are dropped, counted in the warning); default 2048. */
  readonly maxQueueSize?: number;
  /** Delay between two batch exports (ms); default 1000. */
  readonly scheduleDelayMs?: number;
  /** Longest wait for one export request (ms); default 10 000. */
  readonly exportTimeoutMs?: number;
  /** Share of new traces recorded (0..1, default 1); a client's sampled flag is followed (parent-based sampling). */
  readonly sampleRatio?: number;
  /** Extra resource attributes (e.g. the worker id). */
  readonly resource?: Attributes;
}

/** `gen_ai.operation.name` of each endpoint (GenAI semantic conventions: chat, text_completion, embeddings). */
const OPERATION: Record<Endpoint, string> = { chat: 'chat', responses: 'chat', embeddings: 'embeddings', completions: 'text_completion' };
/** The path each endpoint serves, for span names (`POST /v1/chat/completions`). */
const PATH: Record<Endpoint, string> = { chat: '/chat/completions', responses: '/responses', embeddings: '/embeddings', completions: '/completions' };

/** Longest attribute value (and model name in a span name) exported: client-sent strings stay bounded. */
const MAX_VALUE = 256;

const propagator = new W3CTraceContextPropagator();
const headerSetter = { set: (h: Record<string, string>, key: string, value: string) => { h[key] = value; } };
const headerGetter = {
  keys: (h: IncomingHttpHeaders) => Object.keys(h),
  get: (h: IncomingHttpHeaders, key: string) => h[key],
};

/** What the end of a request tells its trace. */
export interface TraceEnd {
  readonly status: number;
  readonly errorCode: string | undefined;
  /** Undefined when the request never got a decision (failed before its hooks finished). */
  readonly verdict: Verdict | undefined;
  readonly usage: Usage | undefined;
  readonly model: string | undefined;
  readonly aborted: boolean;
  /** performance.now() timestamps. */
  readonly upstreamStart: number;
  readonly upstreamFirstByte: number;
  readonly upstreamEnd: number;
  readonly end: number;
}

/** The spans of one request. Made by Tracing.startRequest; every method is cheap and never throws. */
export class RequestTrace {
  readonly #tracer: Tracer;
  readonly root: Span;
  readonly #ctx: Context;
  readonly #operation: string;
  /** Sampled (the root span records): hook spans are made; fixed at the start, as the root span ends before onComplete. */
  readonly #recording: boolean;
  #upstream: Span | undefined = undefined;

  constructor(tracer: Tracer, root: Span, ctx: Context, operation: string) {
    this.#tracer = tracer;
    this.root = root;
    this.#recording = root.isRecording();
    this.#ctx = ctx;
    this.#operation = operation;
  }

  /** A finished plugin hook: a child span from `t0` to `t1` (performance.now() times), in error when `failed`. */
  hook(plugin: string, hook: string, t0: number, t1: number, failed: boolean): void {
    if (!this.#recording) return;
    const s = this.#tracer.startSpan(`${plugin} ${hook}`, {
      kind: SpanKind.INTERNAL, startTime: t0,
      attributes: { 'policy_gateway.plugin': plugin, 'policy_gateway.hook': hook },
    }, this.#ctx);
    if (failed) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(t1);
  }

  /**
   * The upstream call starts: opens its CLIENT span and writes the W3C Trace Context headers that carry it to the
   * upstream (`traceparent`, and the client's `tracestate` if it sent one) into `headers`, so a traced model server
   * joins the same trace.
   */
  startUpstream(model: string, upstream: string, host: string, stream: boolean, t0: number, headers: Record<string, string>): void {
    const parent = this.#ctx;
    const attributes: Attributes = {
      'gen_ai.operation.name': this.#operation, 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': model,
      'gen_ai.request.stream': stream, 'policy_gateway.upstream': upstream,
    };
    const colon = host.lastIndexOf(':');
    if (colon > 0 && !host.endsWith(']')) {
      attributes['server.address'] = host.slice(0, colon);
      attributes['server.port'] = Number(host.slice(colon + 1));
    } else attributes['server.address'] = host;
    // The model name comes from the client: clipped in the span name (attributes are clipped by the span limits).
    const name = `${this.#operation} ${model.length > MAX_VALUE ? model.slice(0, MAX_VALUE) : model}`;
    const s = (this.#upstream = this.#tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: t0, attributes }, parent));
    propagator.inject(trace.setSpan(parent, s), headers, headerSetter);
  }

  /** The request ended: the upstream span and the request's span get their results and end. */
  end(e: TraceEnd): void {
    const root = this.root;
    const up = this.#upstream;
    if (up !== undefined) {
      if (up.isRecording()) {
        if (e.upstreamFirstByte > 0 && e.upstreamStart > 0) up.setAttribute('gen_ai.response.time_to_first_chunk', (e.upstreamFirstByte - e.upstreamStart) / 1000);
        if (e.usage) setUsage(up, e.usage);
        if (e.errorCode !== undefined && e.errorCode.startsWith('GW_ERR_UPSTREAM')) {
          up.setAttribute('error.type', e.errorCode);
          up.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      up.end(e.upstreamEnd > 0 ? e.upstreamEnd : e.end);
    }
    if (root.isRecording()) {
      const a: Attributes = { 'http.response.status_code': e.status };
      if (e.model !== undefined) a['gen_ai.request.model'] = e.model;
      const v = e.verdict;
      if (v !== undefined) {
        a['policy_gateway.decision'] = v.decision;
        a['policy_gateway.effective_decision'] = v.effectiveDecision;
        a['policy_gateway.reason_code'] = v.reasonCode;
        a['policy_gateway.rollout_mode'] = v.rolloutMode;
        if (v.rule !== null) a['policy_gateway.rule'] = v.rule;
        if (v.triggeredCategories.length > 0) a['policy_gateway.triggered_categories'] = [...v.triggeredCategories];
      }
      if (e.aborted) a['policy_gateway.aborted'] = true;
      if (e.errorCode !== undefined) a['error.type'] = e.errorCode;
      root.setAttributes(a);
      if (e.usage) setUsage(root, e.usage);
      if (e.status >= 500 || e.status === 0) root.setStatus({ code: SpanStatusCode.ERROR });
    }
    root.end(e.end);
  }
}

function setUsage(s: Span, u: Usage): void {
  if (typeof u.prompt_tokens === 'number') s.setAttribute('gen_ai.usage.input_tokens', u.prompt_tokens);
  if (typeof u.completion_tokens === 'number') s.setAttribute('gen_ai.usage.output_tokens', u.completion_tokens);
}

/**
 * Wraps the OTLP exporter: a failed export (collector down, slow, refusing) is logged as a warning at most once a
 * minute, never thrown at the request path. The export itself (serialising the batch to JSON, sending it) starts on
 * the next turn of the event loop: the batch processor exports as soon as a batch fills, from inside the `span.end()`
 * of whichever request filled it, and that request must not pay for serialising 512 spans.
 */
class WarningExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #log: Logger;
  #lastWarn = 0;
  #failed = 0;
  constructor(inner: SpanExporter, log: Logger) { this.#inner = inner; this.#log = log; }
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    setImmediate(() => this.#send(spans, done));
  }
  #send(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.#inner.export(spans, (r) => {
      if (r.code !== ExportResultCode.SUCCESS) {
        this.#failed += spans.length;
        const now = Date.now();
        if (now - this.#lastWarn >= 60_000) {
          this.#lastWarn = now;
          this.#log.warn({ spansLost: this.#failed, err: r.error?.message }, 'trace export failed');
          this.#failed = 0;
        }
      }
      done(r);
    });
  }
  shutdown(): Promise<void> { return this.#inner.shutdown(); }
  forceFlush(): Promise<void> { return this.#inner.forceFlush?.() ?? Promise.resolve(); }
}

/**
 * The gateway's tracer: one per process. The request path passes contexts explicitly (no global context manager or
 * tracer provider is installed), so nothing else in the process is affected.
 */
export class Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;

  constructor(o: TracingOptions) {
    const exporter = new WarningExporter(new OTLPTraceExporter({ url: o.url, timeoutMillis: o.exportTimeoutMs ?? 10_000, concurrencyLimit: 4 }), o.log);
    this.#provider = new TracerProvider({
      spanLimits: { attributeValueLengthLimit: MAX_VALUE, attributeCountLimit: 64 },
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(o.sampleRatio ?? 1) }),
      resource: resourceFromAttributes({ 'service.name': o.serviceName, 'service.version': o.version, ...o.resource }),
      spanProcessors: [new BatchSpanProcessor({
        exporter,
        maxQueueSize: o.maxQueueSize ?? 2048,
        maxExportBatchSize: 512,
        scheduledDelayMillis: o.scheduleDelayMs ?? 1000,
        exportTimeoutMillis: o.exportTimeoutMs ?? 10_000,
      })],
    });
    this.#tracer = this.#provider.getTracer('policy-gateway', o.version);
  }

  /**
   * A chained request's trace: its SERVER span starts at `t0` (performance.now()), child of the client's
   * `traceparent` when it sent a valid one.
   */
  startRequest(headers: IncomingHttpHeaders, route: 'policy' | 'v1', endpoint: Endpoint, policyId: string, revision: string, t0: number): RequestTrace {
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const operation = OPERATION[endpoint];
    const path = `/${route}${PATH[endpoint]}`;
    const root = this.#tracer.startSpan(`POST ${path}`, {
      kind: SpanKind.SERVER, startTime: t0,
      attributes: {
        'http.request.method': 'POST', 'http.route': path, 'url.path': path,
        'gen_ai.operation.name': operation, 'gen_ai.provider.name': 'openai',
        'policy_gateway.policy.id': policyId, 'policy_gateway.policy.revision': revision,
      },
    }, parent);
    return new RequestTrace(this.#tracer, root, trace.setSpan(parent, root), operation);
  }

  /**
   * A request answered before any policy chain (bad JSON, unknown route or policy, 413, …): one SERVER span from `t0`
   * to `t1`, named after its route (`POST v1`, `GET unknown`: bounded names, never the raw path).
   */
  recordUnchained(headers: IncomingHttpHeaders, method: string, route: string, status: number, errorCode: string, t0: number, t1: number): void {
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const m = method === 'GET' || method === 'POST' || method === 'HEAD' ? method : 'OTHER';
    const s = this.#tracer.startSpan(`${m} ${route}`, {
      kind: SpanKind.SERVER, startTime: t0,
      attributes: { 'http.request.method': m, 'policy_gateway.route': route, 'http.response.status_code': status, 'error.type': errorCode },
    }, parent);
    if (status >= 500) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(t1);
  }

  /**
   * Exports what is queued and stops; waits at most `maxWaitMs` (default 5 s) so a stalled collector never holds up a
   * graceful stop (spans still queued then are lost).
   */
  async shutdown(maxWaitMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, maxWaitMs); timer.unref(); });
    try {
      await Promise.race([this.#provider.shutdown().catch(() => undefined), gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The traces URL for an --otlp-endpoint value: a bare collector address gets the standard `/v1/traces` path. */
export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.toString();
}
