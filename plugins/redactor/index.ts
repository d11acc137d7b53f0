// The redactor plugin (block `redact`): step 5 of the decision flow. Redacts sensitive spans in responses (and
// optionally requests) of every endpoint with built-in validated detectors and custom patterns; streaming-safe across
// chunk splits (chat and legacy completions: apply.ts; Responses: responses.ts; embeddings answers have no text).
import { randomBytes } from 'node:crypto';
import { definePlugin, type PluginHooks } from '../../src/sdk/plugin.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';
import { stateKey, type GatewayServices, type RequestContext } from '../../src/sdk/context.ts';
import type { ChatCompletion, ChatCompletionChunk, ResponseObject, ResponseStreamEvent, TextCompletion } from '../../src/sdk/types.ts';
import { redactionKey, type RedactionReport } from '../../src/sdk/state-keys.ts';

export { redactionKey, type RedactionReport } from '../../src/sdk/state-keys.ts';
import { compileRedact, type RedactConfig, type RedactSide } from './block.ts';
import { ChunkRedactor, jsonContent, redactCompletion, redactRequest, redactTextCompletion } from './apply.ts';
import { redactResponseObject, ResponseStreamRedactor } from './responses.ts';
import type { RedactSink } from './engine.ts';

/** Every metric this plugin writes. */
export const REDACTOR_METRICS = defineMetrics({
  /** Spans redacted, per policy and detector type (request and response). */
  redactions: { type: 'counter', name: 'policy_gateway_redactions_total', help: 'Sensitive spans redacted, by policy and detector type.', labels: ['policy_id', 'type'] },
});

/** Environment variable holding the deployment key of the `hash` style (any non-empty string). */
export const REDACT_KEY_ENV = 'POLICY_GATEWAY_REDACT_KEY';


interface RedactState {
  readonly report: RedactionReport;
  readonly responseSink: RedactSink;
  readonly requestSink: RedactSink;
  chunks: ChunkRedactor | undefined;
  events: ResponseStreamRedactor | undefined;
  /** Traced requests only: whether the response step was added to the trace. */
  responseTraced: boolean;
}
const internalKey = stateKey<RedactState>('redactor.state');

// NOTE: without POLICY_GATEWAY_REDACT_KEY, hash tokens use a random key made once per process: stable within a
// process, different across processes and restarts (set the variable for tokens stable across a deployment).
const PROCESS_KEY = randomBytes(32);
const keys = new WeakMap<GatewayServices, string | Uint8Array>();

/** The `hash` style key for a gateway: POLICY_GATEWAY_REDACT_KEY when set, else the per-process random key. */
export function redactKey(services: GatewayServices): string | Uint8Array {
  let k = keys.get(services);
  if (k === undefined) {
    const fromEnv = services.env[REDACT_KEY_ENV];
    k = fromEnv !== undefined && fromEnv !== '' ? fromEnv : PROCESS_KEY;
    keys.set(services, k);
  }
  return k;
}

function stateOf(ctx: RequestContext): RedactState {
  let st = ctx.get(internalKey);
  if (st === undefined) {
    const key = redactKey(ctx.services);
    const report: RedactionReport = { response: {}, request: {} };
    const traced = ctx.trace !== undefined;
    st = {
      report, responseSink: traced ? traceSink(key, report.response) : { key, counts: report.response },
      requestSink: traced ? traceSink(key, report.request) : { key, counts: report.request }, chunks: undefined, events: undefined, responseTraced: false,
    };
    ctx.set(internalKey, st);
    ctx.set(redactionKey, report);
  }
  return st;
}

/** A sink that also records each span and its original text (traced requests only). */
function traceSink(key: string | Uint8Array, counts: Record<string, number>): RedactSink {
  return { key, counts, spans: [], spanText: true };
}

/**
 * Adds the redactor's response step to a traced request's trace, once: it points at the sink's span list, which keeps
 * growing as stream chunks are redacted (a span found across chunks is recorded when it is decided). Read at snapshot.
 */
function traceResponse(st: RedactState, ctx: RequestContext): void {
  if (st.responseTraced || ctx.trace === undefined) return;
  st.responseTraced = true;
  ctx.trace.add({ plugin: 'redactor', kind: 'redaction', scope: 'response', field_spans: st.responseSink.spans });
}

function chunksOf(side: RedactSide, ctx: RequestContext): ChunkRedactor {
  const st = stateOf(ctx);
  if (st.chunks === undefined) {
    st.chunks = new ChunkRedactor(side.engine, st.responseSink, jsonContent(ctx.request), ctx.endpoint === 'completions' ? 'completions' : 'chat');
  }
  return st.chunks;
}

function eventsOf(side: RedactSide, ctx: RequestContext): ResponseStreamRedactor {
  const st = stateOf(ctx);
  if (st.events === undefined) st.events = new ResponseStreamRedactor(side.engine, st.responseSink, jsonContent(ctx.request));
  return st.events;
}

/** Builds the hooks for one compiled config (called once per policy load). */
export function redactorHooks(config: RedactConfig): PluginHooks {
  const hooks: { -readonly [K in keyof PluginHooks]: PluginHooks[K] } = {};
  const req = config.request;
  const res = config.response;
  if (req) {
    hooks.requestAccess = 'marked';
    hooks.onRequest = (ctx) => {
      if (redactRequest(req.engine, ctx.endpoint, ctx.request, stateOf(ctx).requestSink)) ctx.markRequestChanged();
      if (ctx.trace !== undefined) {
        const spans = stateOf(ctx).requestSink.spans!;
        if (spans.length > 0) ctx.trace.requestRedacted();
        ctx.trace.add({ plugin: 'redactor', kind: 'redaction', scope: 'request', field_spans: spans });
      }
    };
  }
  if (res) {
    hooks.responseAccess = 'marked';
    hooks.onResponse = (body, ctx) => {
      if (ctx.trace !== undefined) traceResponse(stateOf(ctx), ctx);
      let changed: boolean;
      switch (ctx.endpoint) {
        case 'chat': changed = redactCompletion(res.engine, body as ChatCompletion, stateOf(ctx).responseSink, jsonContent(ctx.request)); break;
        case 'completions': changed = redactTextCompletion(res.engine, body as TextCompletion, stateOf(ctx).responseSink); break;
        case 'responses': changed = redactResponseObject(res.engine, body as ResponseObject, stateOf(ctx).responseSink, jsonContent(ctx.request)); break;
        case 'embeddings': return; // vectors: no text to redact
      }
      if (changed) ctx.markResponseChanged();
    };
    hooks.onChunk = (chunk, ctx) => {
      if (ctx.trace !== undefined) traceResponse(stateOf(ctx), ctx);
      if (ctx.endpoint === 'responses') return eventsOf(res, ctx).event(chunk as ResponseStreamEvent, ctx) ? 'modified' : 'pass';
      return chunksOf(res, ctx).chunk(chunk as ChatCompletionChunk | TextCompletion) ? 'modified' : 'pass';
    };
    hooks.onStreamEnd = (ctx) => {
      // Responses streams release held text before each part's .done event and at the terminal event.
      const st = ctx.get(internalKey);
      const prefix = ctx.endpoint === 'completions' ? 'cmpl' : 'chatcmpl';
      const extra = st?.chunks?.end({ id: `${prefix}-${ctx.id}`, created: Math.floor(ctx.timings.startedAt / 1000), model: ctx.request.model });
      return extra ? [extra] : undefined;
    };
  }
  hooks.onComplete = (_outcome, ctx) => {
    const st = ctx.get(internalKey);
    if (st === undefined) return;
    const { response, request } = st.report;
    const total: Record<string, number> = {};
    for (const k in response) total[k] = response[k]!;
    for (const k in request) total[k] = (total[k] ?? 0) + request[k]!;
    for (const type in total) ctx.services.metricsOf(REDACTOR_METRICS).redactions.inc({ policy_id: config.policyId, type }, total[type]!);
  };
  return Object.freeze(hooks);
}

/**
 * The redactor plugin. Off (no hooks) for a policy without a `redact` block. Chain position: after decide, before
 * the auditor, so nothing that records or emits output sees unredacted text.
 */
export const redactorPlugin = definePlugin<RedactConfig>({
  name: 'redactor',
  blocks: ['redact'],
  // Redacts the answer a decision let through; nothing that records output (the auditor) may come before it.
  after: ['decide'],
  metrics: REDACTOR_METRICS,
  diagnostics: [440, 459],
  compile: (blocks, env) => compileRedact(blocks, env),
  hooks: (config) => redactorHooks(config),
});

export default redactorPlugin;
export { compileRedact, type RedactConfig, type RedactSide };
export { RedactionEngine, StreamRedactor, type RedactSink, type RedactStyle } from './engine.ts';
export { BUILTIN_DETECTORS, DETECTOR_GROUPS, DETECTOR_NAMES } from './detectors.ts';
export { ChunkRedactor, redactCompletion, redactRequest, redactTextCompletion } from './apply.ts';
export { redactOutputItem, redactResponseObject, ResponseStreamRedactor, TERMINAL_EVENTS } from './responses.ts';
