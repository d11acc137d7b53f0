// Applies a compiled RedactionEngine to the wire objects of chat and legacy completions: requests of every endpoint
// (before upstream), non-streaming chat and text completions, and their stream chunks (one StreamRedactor per choice and
// field, flushed at finish_reason or stream end). The Responses API's answers are in responses.ts.
import type { RedactionEngine, RedactSink, StreamRedactor } from './engine.ts';
import type {
  ApiRequest, ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ChunkChoice, CompletionsRequest, EmbeddingsRequest, Endpoint,
  ResponsesRequest, TextChoice, TextCompletion, ToolCall,
} from '../../src/sdk/types.ts';

/**
 * Free-text fields of a message or stream delta that are redacted besides `content`: the model's refusal text and
 * the reasoning fields some OpenAI-compatible servers add (vLLM / DeepSeek `reasoning_content`, Ollama `reasoning`).
 */
export const TEXT_FIELDS: readonly string[] = Object.freeze(['content', 'refusal', 'reasoning_content', 'reasoning']);

/**
 * True when the request asks for JSON output (chat `response_format`, Responses `text.format`), so the answer text is
 * JSON source and replacements must keep it valid.
 */
export function jsonContent(req: ApiRequest | undefined): boolean {
  const rf = (req?.response_format ?? (req?.text as { format?: unknown } | undefined)?.format) as { type?: unknown } | undefined;
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

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Redacts text content parts (`text`, `input_text`, `output_text`) of a Responses content or tool output. */
function redactParts(engine: RedactionEngine, v: unknown, sink: RedactSink): unknown {
  if (typeof v === 'string') return engine.redact(v, sink);
  if (Array.isArray(v)) for (const p of v as unknown[]) if (isRec(p) && typeof p.text === 'string') p.text = engine.redact(p.text, sink);
  return v;
}

/** Redacts strings (embeddings `input`, completions `prompt`); token ids are left as they are. */
function redactStrings(engine: RedactionEngine, v: unknown, sink: RedactSink): unknown {
  if (typeof v === 'string') return engine.redact(v, sink);
  if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'string') return (v as unknown[]).map((x) => (typeof x === 'string' ? engine.redact(x, sink) : x));
  return v;
}

/** Redacts a Responses request in place: `instructions`, the input (text, message parts, tool calls and results), prompt variables. */
function redactResponsesRequest(engine: RedactionEngine, req: ResponsesRequest, sink: RedactSink): void {
  if (typeof req.instructions === 'string') req.instructions = engine.redact(req.instructions, sink);
  if (typeof req.input === 'string') req.input = engine.redact(req.input, sink);
  else if (Array.isArray(req.input)) {
    for (const it of req.input as unknown[]) {
      if (!isRec(it)) continue;
      if (it.content !== undefined) it.content = redactParts(engine, it.content, sink);
      if (it.output !== undefined) it.output = redactParts(engine, it.output, sink);
      if (typeof it.arguments === 'string') it.arguments = engine.redact(it.arguments, sink, true);
      if (typeof it.input === 'string') it.input = engine.redact(it.input, sink);
      if (Array.isArray(it.summary)) for (const x of it.summary as unknown[]) if (isRec(x) && typeof x.text === 'string') x.text = engine.redact(x.text, sink);
    }
  }
  const vars = isRec(req.prompt) ? req.prompt.variables : undefined;
  if (isRec(vars)) {
    for (const k in vars) {
      const v = vars[k];
      if (typeof v === 'string') vars[k] = engine.redact(v, sink);
      else if (isRec(v) && typeof v.text === 'string') v.text = engine.redact(v.text, sink);
    }
  }
}

/**
 * Redacts the prompt of a request in place (before it goes upstream), whatever its endpoint: chat messages; Responses
 * instructions and input; embeddings input strings; completions prompt strings and suffix. Token ids are left alone.
 * Returns true when it changed anything.
 */
export function redactRequest(engine: RedactionEngine, endpoint: Endpoint, req: ApiRequest, sink: RedactSink): boolean {
  const before = countOf(sink.counts);
  redactRequestIn(engine, endpoint, req, sink);
  return countOf(sink.counts) !== before;
}

function redactRequestIn(engine: RedactionEngine, endpoint: Endpoint, req: ApiRequest, sink: RedactSink): void {
  switch (endpoint) {
    case 'chat': {
      const msgs = (req as ChatRequest).messages;
      if (Array.isArray(msgs)) for (const m of msgs) redactMessage(engine, m, sink);
      return;
    }
    case 'responses': redactResponsesRequest(engine, req as ResponsesRequest, sink); return;
    case 'embeddings': {
      const r = req as EmbeddingsRequest;
      r.input = redactStrings(engine, r.input, sink) as EmbeddingsRequest['input'];
      return;
    }
    case 'completions': {
      const r = req as CompletionsRequest;
      r.prompt = redactStrings(engine, r.prompt, sink) as CompletionsRequest['prompt'];
      if (typeof r.suffix === 'string') r.suffix = engine.redact(r.suffix, sink);
    }
  }
}

function countOf(counts: Record<string, number>): number {
  let n = 0;
  for (const k in counts) n += counts[k]!;
  return n;
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

/**
 * Redacts every choice of a non-streaming legacy completion in place (`choices[].text`; `logprobs` set to null, as they
 * spell out the raw text). Returns true when it changed anything.
 */
export function redactTextCompletion(engine: RedactionEngine, body: TextCompletion, sink: RedactSink): boolean {
  if (!Array.isArray(body.choices)) return false;
  let changed = false;
  for (const c of body.choices) {
    if (!c || typeof c !== 'object') continue;
    if (typeof c.text === 'string') {
      const t = engine.redact(c.text, sink);
      if (t !== c.text) { c.text = t; changed = true; }
    }
    if (c.logprobs != null) { c.logprobs = null; changed = true; }
  }
  return changed;
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
  /** Legacy completions: the text is `choices[].text`, not `choices[].delta.*`. */
  readonly #text: boolean;
  readonly #choices = new Map<number, ChoiceStreams>();
  #meta: { id: string; created: number; model: string } | undefined;

  constructor(engine: RedactionEngine, sink: RedactSink, json: boolean, endpoint: 'chat' | 'completions' = 'chat') {
    this.#engine = engine;
    this.#sink = sink;
    this.#json = json;
    this.#text = endpoint === 'completions';
  }

  #streams(index: number): ChoiceStreams {
    let cs = this.#choices.get(index);
    if (!cs) this.#choices.set(index, (cs = { fields: new Map(), tools: new Map() }));
    return cs;
  }

  /** Redacts one chunk (a chat chunk, or a legacy completion chunk) in place; returns true when it changed. */
  chunk(chunk: ChatCompletionChunk | TextCompletion): boolean {
    if (this.#text) return this.#textChunk(chunk as TextCompletion);
    return this.#chatChunk(chunk as ChatCompletionChunk);
  }

  #textChunk(chunk: TextCompletion): boolean {
    if (this.#meta === undefined && typeof chunk.id === 'string') this.#meta = { id: chunk.id, created: chunk.created, model: chunk.model };
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return false;
    let modified = false;
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i]!;
      if (!c || typeof c !== 'object') continue;
      const index = typeof c.index === 'number' ? c.index : i;
      if (typeof c.text === 'string' && c.text.length > 0) {
        const cs = this.#streams(index);
        let s = cs.fields.get('text');
        if (!s) cs.fields.set('text', (s = this.#engine.stream(this.#sink)));
        c.text = s.push(c.text);
        modified = true;
      }
      if (c.logprobs != null) { c.logprobs = null; modified = true; }
      if (c.finish_reason != null && this.#flushInto(index, c)) modified = true;
    }
    return modified;
  }

  #chatChunk(chunk: ChatCompletionChunk): boolean {
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

  /** Appends everything held for choice `index` to the choice's delta (or text); returns true when anything was added. */
  #flushInto(index: number, c: ChunkChoice | TextChoice): boolean {
    const cs = this.#choices.get(index);
    if (!cs) return false;
    this.#choices.delete(index);
    let added = false;
    if (this.#text) {
      const rest = cs.fields.get('text')?.flush() ?? '';
      if (rest.length === 0) return false;
      const t = c as TextChoice;
      t.text = (typeof t.text === 'string' ? t.text : '') + rest;
      return true;
    }
    c = c as ChunkChoice;
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
  end(fallback: { id: string; created: number; model: string }): ChatCompletionChunk | TextCompletion | undefined {
    if (this.#choices.size === 0) return undefined;
    const meta = this.#meta ?? fallback;
    const choices: (ChunkChoice | TextChoice)[] = [];
    for (const index of [...this.#choices.keys()].sort((a, b) => a - b)) {
      const c: ChunkChoice | TextChoice = this.#text ? { index, text: '', logprobs: null, finish_reason: null } : { index, delta: {}, finish_reason: null };
      if (this.#flushInto(index, c)) choices.push(c);
    }
    if (choices.length === 0) return undefined;
    if (this.#text) return { id: meta.id, object: 'text_completion', created: meta.created, model: meta.model, choices: choices as TextChoice[] };
    return { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: choices as ChunkChoice[] };
  }
}
