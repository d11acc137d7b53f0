// Applies a compiled RedactionEngine to Responses API answers: the Response object (and the snapshots events carry) and
// the streamed deltas of text, refusals, tool-call arguments and reasoning, exact across event boundaries (held text is
// released as one more `.delta` event right before its part's `.done` event).
import type { RedactionEngine, RedactSink, StreamRedactor } from './engine.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import type { ResponseObject, ResponseStreamEvent } from '../../src/sdk/types.ts';

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A streamed text field: its delta event type, the done event that ends it and the done event's whole-text field,
 * the index that names its part within the output item, and whether its text is JSON (`format`: when the request asks
 * for JSON output).
 */
interface DeltaKind {
  readonly code: number;
  readonly delta: string;
  readonly done: string;
  readonly field: string;
  readonly sub: 'content_index' | 'summary_index' | null;
  readonly json: boolean | 'format';
}

/** Every streamed text field of the Responses API the redactor rewrites (ResponseStreamEvent in the spec). */
const KINDS: readonly DeltaKind[] = [
  { code: 0, delta: 'response.output_text.delta', done: 'response.output_text.done', field: 'text', sub: 'content_index', json: 'format' },
  { code: 1, delta: 'response.refusal.delta', done: 'response.refusal.done', field: 'refusal', sub: 'content_index', json: false },
  { code: 2, delta: 'response.function_call_arguments.delta', done: 'response.function_call_arguments.done', field: 'arguments', sub: null, json: true },
  { code: 3, delta: 'response.mcp_call_arguments.delta', done: 'response.mcp_call_arguments.done', field: 'arguments', sub: null, json: true },
  { code: 4, delta: 'response.custom_tool_call_input.delta', done: 'response.custom_tool_call_input.done', field: 'input', sub: null, json: false },
  { code: 5, delta: 'response.reasoning_summary_text.delta', done: 'response.reasoning_summary_text.done', field: 'text', sub: 'summary_index', json: false },
  { code: 6, delta: 'response.reasoning_text.delta', done: 'response.reasoning_text.done', field: 'text', sub: 'content_index', json: false },
];
const BY_DELTA: ReadonlyMap<string, DeltaKind> = new Map(KINDS.map((k) => [k.delta, k]));
const BY_DONE: ReadonlyMap<string, DeltaKind> = new Map(KINDS.map((k) => [k.done, k]));

/** The event types that end a Response stream (and carry the whole Response). */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Redacts one string field of `o` in place; true when it changed. */
function field(engine: RedactionEngine, o: Rec, name: string, sink: RedactSink, json: boolean): boolean {
  const v = o[name];
  if (typeof v !== 'string' || v.length === 0) return false;
  const r = engine.redact(v, sink, json);
  if (r === v) return false;
  o[name] = r;
  return true;
}

/** Redacts a content part (`output_text`, `refusal`, `reasoning_text`, `summary_text`); token logprobs are emptied. */
function redactPart(engine: RedactionEngine, part: Rec, sink: RedactSink, json: boolean): boolean {
  let changed = field(engine, part, 'text', sink, json && part.type === 'output_text');
  if (field(engine, part, 'refusal', sink, false)) changed = true;
  if (Array.isArray(part.logprobs) && part.logprobs.length > 0) { part.logprobs = []; changed = true; }
  return changed;
}

function redactParts(engine: RedactionEngine, parts: unknown, sink: RedactSink, json: boolean): boolean {
  let changed = false;
  if (Array.isArray(parts)) for (const p of parts as unknown[]) if (isRec(p) && redactPart(engine, p, sink, json)) changed = true;
  return changed;
}

/**
 * Redacts one output item in place: a message's text and refusal parts, function-call and MCP arguments (as JSON), an
 * MCP call's output, custom tool input, a reasoning item's summary and text. True when it changed.
 */
export function redactOutputItem(engine: RedactionEngine, item: Rec, sink: RedactSink, json: boolean): boolean {
  switch (item.type) {
    case 'message': return redactParts(engine, item.content, sink, json);
    case 'function_call': return field(engine, item, 'arguments', sink, true);
    case 'custom_tool_call': return field(engine, item, 'input', sink, false);
    case 'mcp_call': {
      const a = field(engine, item, 'arguments', sink, true);
      return field(engine, item, 'output', sink, false) || a;
    }
    case 'reasoning': {
      const a = redactParts(engine, item.summary, sink, false);
      return redactParts(engine, item.content, sink, false) || a;
    }
    default: return false;
  }
}

/** Redacts every output item of a Response in place (and `output_text`, which some servers add). True when it changed. */
export function redactResponseObject(engine: RedactionEngine, resp: ResponseObject | Rec, sink: RedactSink, json: boolean): boolean {
  let changed = false;
  const output = resp.output;
  if (Array.isArray(output)) for (const it of output as unknown[]) if (isRec(it) && redactOutputItem(engine, it, sink, json)) changed = true;
  if (field(engine, resp as Rec, 'output_text', sink, json)) changed = true;
  return changed;
}

/** One streamed part being redacted, and what its released tail is addressed to. */
interface OpenPart {
  readonly kind: DeltaKind;
  readonly stream: StreamRedactor;
  readonly itemId: unknown;
  readonly outputIndex: unknown;
  readonly subIndex: unknown;
}

/** The map key of a part: kind, output index and part index packed in one number (one bucket per kind for odd indexes). */
function partKey(k: DeltaKind, ev: ResponseStreamEvent): number {
  const oi = ev.output_index;
  const si = k.sub === null ? 0 : ev[k.sub];
  if (typeof oi === 'number' && typeof si === 'number' && Number.isInteger(oi) && Number.isInteger(si) && oi >= 0 && si >= 0 && oi < 1 << 20 && si < 4096) {
    return k.code + 8 * (si + 4096 * oi);
  }
  return -1 - k.code;
}

/**
 * Per-request redaction of a streamed Response. Deltas go through one StreamRedactor per part (counted in the request's
 * report); a `.done` event first releases what its part still holds (`ctx.emitBefore`, a `.delta` event), then its
 * whole text is redacted in one pass — the same text the deltas add up to (the engine redacts a text split anywhere as
 * it redacts it whole). Snapshots (content parts, output items, the Response on created/completed events) are redacted
 * whole, uncounted: their text was counted as deltas. A terminal event first releases every part still open.
 */
export class ResponseStreamRedactor {
  readonly #engine: RedactionEngine;
  readonly #sink: RedactSink;
  /** Snapshots repeat text the deltas carried: redacted with counts that are thrown away. */
  readonly #scratch: RedactSink;
  readonly #json: boolean;
  readonly #open = new Map<number, OpenPart>();

  constructor(engine: RedactionEngine, sink: RedactSink, json: boolean) {
    this.#engine = engine;
    this.#sink = sink;
    this.#scratch = { key: sink.key, counts: {} };
    this.#json = json;
  }

  #jsonOf(k: DeltaKind): boolean {
    return k.json === 'format' ? this.#json : k.json;
  }

  /** Redacts one event in place; returns true when it changed. */
  event(ev: ResponseStreamEvent, ctx: RequestContext): boolean {
    const t = ev.type;
    const delta = BY_DELTA.get(t);
    if (delta !== undefined) return this.#delta(delta, ev);
    const done = BY_DONE.get(t);
    if (done !== undefined) return this.#done(done, ev, ctx);
    switch (t) {
      case 'response.content_part.added': case 'response.content_part.done':
      case 'response.reasoning_summary_part.added': case 'response.reasoning_summary_part.done':
        return isRec(ev.part) && redactPart(this.#engine, ev.part, this.#scratch, this.#json);
      case 'response.output_item.added': case 'response.output_item.done':
        return isRec(ev.item) && redactOutputItem(this.#engine, ev.item, this.#scratch, this.#json);
      case 'response.completed': case 'response.incomplete': case 'response.failed':
        this.#releaseAll(ctx);
        return isRec(ev.response) && redactResponseObject(this.#engine, ev.response, this.#scratch, this.#json);
      case 'error': {
        // An upstream's error message can quote what the model or the client wrote: redacted like answer text.
        const a = field(this.#engine, ev, 'message', this.#scratch, false);
        const b = isRec(ev.error) && field(this.#engine, ev.error, 'message', this.#scratch, false);
        const c = isRec(ev.response) && redactResponseObject(this.#engine, ev.response, this.#scratch, this.#json);
        return a || b || c;
      }
      default:
        // response.created / in_progress / queued, and any event type not known here that carries a Response.
        return isRec(ev.response) && redactResponseObject(this.#engine, ev.response, this.#scratch, this.#json);
    }
  }

  #delta(k: DeltaKind, ev: ResponseStreamEvent): boolean {
    let modified = false;
    const d = ev.delta;
    if (typeof d === 'string' && d.length > 0) {
      const key = partKey(k, ev);
      let p = this.#open.get(key);
      if (p === undefined) {
        p = { kind: k, stream: this.#engine.stream(this.#sink, this.#jsonOf(k)), itemId: ev.item_id, outputIndex: ev.output_index, subIndex: k.sub === null ? undefined : ev[k.sub] };
        this.#open.set(key, p);
      }
      ev.delta = p.stream.push(d);
      modified = true;
    }
    if (Array.isArray(ev.logprobs) && ev.logprobs.length > 0) { ev.logprobs = []; modified = true; }
    return modified;
  }

  #done(k: DeltaKind, ev: ResponseStreamEvent, ctx: RequestContext): boolean {
    const key = partKey(k, ev);
    const p = this.#open.get(key);
    if (p !== undefined) { this.#open.delete(key); this.#release(p, ctx); }
    let modified = field(this.#engine, ev, k.field, this.#scratch, this.#jsonOf(k));
    if (Array.isArray(ev.logprobs) && ev.logprobs.length > 0) { ev.logprobs = []; modified = true; }
    return modified;
  }

  /** Writes what a part still holds as one more delta event, before the event being processed. */
  #release(p: OpenPart, ctx: RequestContext): void {
    const rest = p.stream.flush();
    if (rest.length === 0) return;
    const k = p.kind;
    const ev: ResponseStreamEvent = { type: k.delta, item_id: p.itemId, output_index: p.outputIndex };
    if (k.sub !== null) ev[k.sub] = p.subIndex;
    ev.delta = rest;
    if (k.code === 0) ev.logprobs = [];
    ev.sequence_number = 0; // numbered by the gateway as it writes the stream
    ctx.emitBefore(ev);
  }

  #releaseAll(ctx: RequestContext): void {
    if (this.#open.size === 0) return;
    for (const key of [...this.#open.keys()].sort((a, b) => a - b)) this.#release(this.#open.get(key)!, ctx);
    this.#open.clear();
  }
}
