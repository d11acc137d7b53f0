// Applies a compiled RedactionEngine to the wire objects: request messages (before upstream), non-streaming chat
// completions, and stream chunks (one StreamRedactor per choice and field, flushed at finish_reason or stream end).
import type { RedactionEngine, RedactSink, StreamRedactor } from './engine.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ChunkChoice, ToolCall } from '../../src/sdk/types.ts';

/**
 * Free-text fields of a message or stream delta that are redacted besides `content`: the model's refusal text and
 * the reasoning fields some OpenAI-compatible servers add (vLLM / DeepSeek `reasoning_content`, Ollama `reasoning`).
 */
export const TEXT_FIELDS: readonly string[] = Object.freeze(['content', 'refusal', 'reasoning_content', 'reasoning']);

/** True when the request asks for JSON output, so `content` is JSON source and replacements must keep it valid. */
export function jsonContent(req: ChatRequest | undefined): boolean {
  const rf = req?.response_format as { type?: unknown } | undefined;
  return rf !== undefined && rf !== null && (rf.type === 'json_object' || rf.type === 'json_schema');
}

function redactToolCalls(engine: RedactionEngine, calls: unknown, sink: RedactSink): void {
  if (!Array.isArray(calls)) return;
  for (const tc of calls as ToolCall[]) {
    const fn = tc?.function;
    if (fn && typeof fn.arguments === 'string') fn.arguments = engine.redact(fn.arguments, sink, true);
  }
}

/** Redacts one message in place: string content or text parts, refusal/reasoning text, tool-call arguments. */
export function redactMessage(engine: RedactionEngine, msg: ChatMessage, sink: RedactSink, json = false): void {
  if (msg === null || typeof msg !== 'object') return;
  const rec = msg as Record<string, unknown>;
  for (const f of TEXT_FIELDS) {
    const v = rec[f];
    if (typeof v === 'string') rec[f] = engine.redact(v, sink, f === 'content' && json);
    else if (f === 'content' && Array.isArray(v)) {
      for (const part of v as { type?: unknown; text?: unknown }[]) {
        if (part && typeof part.text === 'string') part.text = engine.redact(part.text, sink);
      }
    }
  }
  redactToolCalls(engine, msg.tool_calls, sink);
  const legacy = rec.function_call as { arguments?: unknown } | undefined;
  if (legacy && typeof legacy.arguments === 'string') legacy.arguments = engine.redact(legacy.arguments, sink, true);
}

function countOf(counts: Record<string, number>): number {
  let n = 0;
  for (const k in counts) n += counts[k]!;
  return n;
}

/** Redacts every message of a request in place (before it goes upstream). Returns true when it changed anything. */
export function redactRequest(engine: RedactionEngine, req: ChatRequest, sink: RedactSink): boolean {
  if (!Array.isArray(req.messages)) return false;
  const before = countOf(sink.counts);
  for (const m of req.messages) redactMessage(engine, m, sink);
  return countOf(sink.counts) !== before;
}

/**
 * Redacts every choice of a non-streaming completion in place. Token log-probabilities spell out the raw text,
 * so a choice's `logprobs` is set to null. Returns true when it changed anything.
 */
export function redactCompletion(engine: RedactionEngine, body: ChatCompletion, sink: RedactSink, json: boolean): boolean {
  if (!Array.isArray(body.choices)) return false;
  const before = countOf(sink.counts);
  let changed = false;
  for (const c of body.choices) {
    if (!c || typeof c !== 'object') continue;
    if (c.message) redactMessage(engine, c.message, sink, json);
    if ((c as { logprobs?: unknown }).logprobs != null) { (c as { logprobs?: unknown }).logprobs = null; changed = true; }
  }
  return changed || countOf(sink.counts) !== before;
}

/** The streams of one choice: one per text field, one per tool call (by tool-call index). */
interface ChoiceStreams {
  readonly fields: Map<string, StreamRedactor>;
  readonly tools: Map<number, StreamRedactor>;
}

/**
 * Per-request streaming redaction state: routes each chunk's text pieces to the right StreamRedactor, releases
 * what is safe, and flushes held text into the chunk that carries a choice's finish_reason (or into an extra chunk
 * at the end of the stream).
 */
export class ChunkRedactor {
  readonly #engine: RedactionEngine;
  readonly #sink: RedactSink;
  readonly #json: boolean;
  readonly #choices = new Map<number, ChoiceStreams>();
  #meta: { id: string; created: number; model: string } | undefined;

  constructor(engine: RedactionEngine, sink: RedactSink, json: boolean) {
    this.#engine = engine;
    this.#sink = sink;
    this.#json = json;
  }

  #streams(index: number): ChoiceStreams {
    let cs = this.#choices.get(index);
    if (!cs) this.#choices.set(index, (cs = { fields: new Map(), tools: new Map() }));
    return cs;
  }

  /** Redacts one chunk in place; returns true when it changed. */
  chunk(chunk: ChatCompletionChunk): boolean {
    if (this.#meta === undefined && typeof chunk.id === 'string') this.#meta = { id: chunk.id, created: chunk.created, model: chunk.model };
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return false;
    let modified = false;
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i]!;
      if (!c || typeof c !== 'object') continue;
      const index = typeof c.index === 'number' ? c.index : i;
      const delta = c.delta as Record<string, unknown> | undefined;
      if (delta && typeof delta === 'object') {
        for (let f = 0; f < TEXT_FIELDS.length; f++) {
          const name = TEXT_FIELDS[f]!;
          const v = delta[name];
          if (typeof v !== 'string' || v.length === 0) continue;
          const cs = this.#streams(index);
          let s = cs.fields.get(name);
          if (!s) cs.fields.set(name, (s = this.#engine.stream(this.#sink, name === 'content' && this.#json)));
          delta[name] = s.push(v);
          modified = true;
        }
        const tcs = delta.tool_calls;
        if (Array.isArray(tcs)) {
          for (let k = 0; k < tcs.length; k++) {
            const tc = tcs[k] as ToolCall;
            const fn = tc?.function;
            if (!fn || typeof fn.arguments !== 'string' || fn.arguments.length === 0) continue;
            const ti = typeof tc.index === 'number' ? tc.index : k;
            const cs = this.#streams(index);
            let s = cs.tools.get(ti);
            if (!s) cs.tools.set(ti, (s = this.#engine.stream(this.#sink, true)));
            fn.arguments = s.push(fn.arguments);
            modified = true;
          }
        }
      }
      if ((c as { logprobs?: unknown }).logprobs != null) { (c as { logprobs?: unknown }).logprobs = null; modified = true; }
      if (c.finish_reason != null && this.#flushInto(index, c)) modified = true;
    }
    return modified;
  }

  /** Appends everything held for choice `index` to the choice's delta; returns true when anything was added. */
  #flushInto(index: number, c: ChunkChoice): boolean {
    const cs = this.#choices.get(index);
    if (!cs) return false;
    this.#choices.delete(index);
    let added = false;
    const delta = (c.delta ??= {}) as Record<string, unknown>;
    for (const [name, s] of cs.fields) {
      const rest = s.flush();
      if (rest.length === 0) continue;
      const cur = delta[name];
      delta[name] = (typeof cur === 'string' ? cur : '') + rest;
      added = true;
    }
    for (const [ti, s] of cs.tools) {
      const rest = s.flush();
      if (rest.length === 0) continue;
      const list = (Array.isArray(delta.tool_calls) ? delta.tool_calls : (delta.tool_calls = [])) as ToolCall[];
      const entry = list.find((t) => t?.index === ti);
      if (entry) {
        const fn = (entry.function ??= {});
        fn.arguments = (fn.arguments ?? '') + rest;
      } else list.push({ index: ti, function: { arguments: rest } });
      added = true;
    }
    return added;
  }

  /** Held text of every choice that has not finished, as one extra chunk (or nothing when nothing is held). */
  end(fallback: { id: string; created: number; model: string }): ChatCompletionChunk | undefined {
    if (this.#choices.size === 0) return undefined;
    const meta = this.#meta ?? fallback;
    const choices: ChunkChoice[] = [];
    for (const index of [...this.#choices.keys()].sort((a, b) => a - b)) {
      const c: ChunkChoice = { index, delta: {}, finish_reason: null };
      if (this.#flushInto(index, c)) choices.push(c);
    }
    if (choices.length === 0) return undefined;
    return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices };
  }
}
