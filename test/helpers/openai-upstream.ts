// A fake OpenAI-compatible upstream that speaks every endpoint the gateway fronts — chat completions, Responses (JSON
// and SSE), embeddings, legacy completions, models — with spec-valid answers, and that validates every request it
// receives against the endpoint's OpenAI request schema, recording violations and any `policy_*` field that leaked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateOpenAI, type OpenAISchemaName } from './openai-schema.ts';

/** The endpoints this upstream serves (`model` is `GET /v1/models/{id}`). */
export type Endpoint = 'chat' | 'responses' | 'embeddings' | 'completions' | 'models' | 'model';

/** The request schema each POST endpoint validates its body against. */
export const REQUEST_SCHEMAS: Readonly<Partial<Record<Endpoint, OpenAISchemaName>>> = {
  chat: 'CreateChatCompletionRequest', responses: 'CreateResponse', embeddings: 'CreateEmbeddingRequest', completions: 'CreateCompletionRequest',
};

/** One request as it arrived, with what was wrong with it. */
export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** `null` for a path this upstream does not serve (answered 404). */
  readonly endpoint: Endpoint | null;
  readonly headers: http.IncomingHttpHeaders;
  /** The body exactly as it arrived (UTF-8). */
  readonly raw: string;
  /** The parsed body (`{}` when it was not a JSON object). */
  readonly body: Record<string, unknown>;
  /** Schema violations of the body (readable lines from validateOpenAI), plus "body is not JSON" and the like. */
  readonly violations: readonly string[];
  /** Top-level body fields named `policy` or `policy_*`: the gateway must strip them before forwarding. */
  readonly policyFields: readonly string[];
}

/** A running fake upstream. */
export interface OpenAIUpstream {
  readonly baseUrl: string;
  readonly port: number;
  readonly received: UpstreamRequest[];
  /** Requests whose connection was closed by the client before the answer ended. */
  readonly aborted: number;
  /** Every received request that broke its schema or carried a policy field, as `METHOD path [x-request-id]: problem`. */
  problems(): string[];
  close(): Promise<void>;
}

/** Options: the texts the fake model answers with and the pacing of streams. */
export interface OpenAIUpstreamOptions {
  /** The answer text (chat content, Responses output_text, completion text). */
  readonly answer?: string;
  /** The reasoning summary of a Responses answer; `null` for none. */
  readonly reasoning?: string | null;
  /** Wait of the `slow` model before answering, and between chunks of `slow-stream` (default 2000 ms). */
  readonly slowMs?: number;
  /** Delay between SSE events for every other model (default 0: the stream is written at once). */
  readonly chunkDelayMs?: number;
  /** Characters per streamed text delta (default 6). */
  readonly pieceChars?: number;
  /** The models `GET /v1/models` lists (default `['fake-model']`). */
  readonly models?: readonly string[];
  /** Embedding length when the request names no `dimensions` (default 8). */
  readonly dimensions?: number;
}

/** The default answer text (with an e-mail address, so redaction has something to find). */
export const FAKE_ANSWER = 'Hello from the fake upstream. Contact me at alice@example.com.';
/** The default reasoning summary of a Responses answer. */
export const FAKE_REASONING = 'The user greets me; reply politely and mention bob@example.com as the contact.';
/** `created` / `created_at` of every answer (deterministic). */
export const CREATED = 1700000000;

type Body = Record<string, unknown>;
type Json = Record<string, unknown>;

const words = (s: string): number => (s.trim() === '' ? 0 : s.trim().split(/\s+/).length);
/** Deterministic prompt token count of a request value: a quarter of its JSON length. */
const promptTokens = (v: unknown): number => JSON.stringify(v ?? '').length >> 2;

/** Splits `text` into pieces of `n` characters (never splitting a surrogate pair). */
export function pieces(text: string, n: number): string[] {
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += n) out.push(chars.slice(i, i + n).join(''));
  return out;
}

// ---- answers (exported so tests can check them against the spec without a server) --------------------------------

/** A chat completion for `body` answered with `text`: `n` choices, `refusal` and `logprobs` null, `usage` set. */
export function chatCompletion(body: Body, text: string, id = 'chatcmpl-fake'): Json {
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  const completion = words(text) * n;
  const prompt = promptTokens(body.messages);
  return {
    id, object: 'chat.completion', created: CREATED, model: String(body.model),
    choices: Array.from({ length: n }, (_, index) => ({ index, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' })),
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

/** The chunks of a streamed chat completion (role, content pieces, finish; a usage chunk when asked for). */
export function chatChunks(body: Body, text: string, pieceChars: number, id = 'chatcmpl-fake'): Json[] {
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model: String(body.model) };
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  const out: Json[] = [];
  for (let index = 0; index < n; index++) {
    out.push({ ...base, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
    for (const p of pieces(text, pieceChars)) out.push({ ...base, choices: [{ index, delta: { content: p }, logprobs: null, finish_reason: null }] });
    out.push({ ...base, choices: [{ index, delta: {}, logprobs: null, finish_reason: 'stop' }] });
  }
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
    out.push({ ...base, choices: [], usage: (chatCompletion(body, text, id).usage) });
  }
  return out;
}

/** The ids of one Responses answer. */
interface ResponseIds { readonly resp: string; readonly rs: string; readonly msg: string; readonly fc: string; readonly call: string }
const idsFor = (n: number): ResponseIds => ({ resp: `resp_fake_${n}`, rs: `rs_fake_${n}`, msg: `msg_fake_${n}`, fc: `fc_fake_${n}`, call: `call_fake_${n}` });

/** The first function tool of a Responses request, if any (the fake model then calls it). */
function functionTool(body: Body): { name: string } | undefined {
  const tools = Array.isArray(body.tools) ? body.tools as Json[] : [];
  const t = tools.find((x) => x && x.type === 'function' && typeof x.name === 'string');
  return body.tool_choice === 'none' || !t ? undefined : { name: String(t.name) };
}

/** The arguments the fake model passes to a called function (JSON text carrying the answer text). */
export const functionArguments = (text: string): string => JSON.stringify({ note: text });

/** The output items of a Responses answer: reasoning (unless `reasoning` is null), the message, a function call. */
function responseOutput(body: Body, text: string, reasoning: string | null, ids: ResponseIds): Json[] {
  const out: Json[] = [];
  if (reasoning !== null) out.push({ type: 'reasoning', id: ids.rs, summary: [{ type: 'summary_text', text: reasoning }] });
  out.push({ type: 'message', id: ids.msg, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] });
  const fn = functionTool(body);
  if (fn) out.push({ type: 'function_call', id: ids.fc, call_id: ids.call, name: fn.name, arguments: functionArguments(text), status: 'completed' });
  return out;
}

/** The Response object for `body` in a given state; `output`/`usage` only once completed. */
function responseObject(body: Body, ids: ResponseIds, status: 'in_progress' | 'completed' | 'failed', output: Json[], usage?: Json, error: Json | null = null): Json {
  const r: Json = {
    id: ids.resp, object: 'response', created_at: CREATED, status, error, incomplete_details: null,
    instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, model: String(body.model),
    output, parallel_tool_calls: body.parallel_tool_calls ?? true, previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null }, store: body.store ?? true, temperature: body.temperature ?? 1,
    text: { format: { type: 'text' } }, tool_choice: body.tool_choice ?? 'auto', tools: body.tools ?? [], top_p: body.top_p ?? 1,
    truncation: 'disabled', metadata: body.metadata ?? {},
  };
  if (status === 'completed') r.completed_at = CREATED + 1;
  if (usage) r.usage = usage;
  return r;
}

/** `usage` of a Responses answer: input from `instructions` + `input`, output from every output text. */
function responseUsage(body: Body, text: string, reasoning: string | null, withCall: boolean): Json {
  const input = promptTokens([body.instructions ?? null, body.input]);
  const reasoningTokens = reasoning === null ? 0 : words(reasoning);
  const output = words(text) + reasoningTokens + (withCall ? words(functionArguments(text)) : 0);
  return {
    input_tokens: input, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: output, output_tokens_details: { reasoning_tokens: reasoningTokens }, total_tokens: input + output,
  };
}

/** A complete (non-streamed) Response for `body`. */
export function responseAnswer(body: Body, text: string, reasoning: string | null, n = 1): Json {
  const ids = idsFor(n);
  const output = responseOutput(body, text, reasoning, ids);
  return responseObject(body, ids, 'completed', output, responseUsage(body, text, reasoning, functionTool(body) !== undefined));
}

/**
 * The events of a streamed Response, in the order OpenAI sends them: created, in_progress; per output item
 * output_item.added, its parts and deltas (reasoning summary part/text, content part/output_text, function call
 * arguments), their done events, output_item.done; then completed with `usage`. `end: 'failed'` stops after the first
 * text delta with response.failed; `end: 'error'` with an `error` event.
 */
export function responseEvents(body: Body, text: string, reasoning: string | null, pieceChars: number, n = 1, end: 'completed' | 'failed' | 'error' = 'completed'): Json[] {
  const ids = idsFor(n);
  const output = responseOutput(body, text, reasoning, ids);
  const events: Json[] = [];
  const ev = (e: Json) => events.push({ ...e, sequence_number: events.length });
  ev({ type: 'response.created', response: responseObject(body, ids, 'in_progress', []) });
  ev({ type: 'response.in_progress', response: responseObject(body, ids, 'in_progress', []) });
  for (const [output_index, item] of output.entries()) {
    if (item.type === 'reasoning') {
      const summary = (item.summary as { text: string }[])[0]!.text;
      ev({ type: 'response.output_item.added', output_index, item: { ...item, summary: [] } });
      ev({ type: 'response.reasoning_summary_part.added', item_id: ids.rs, output_index, summary_index: 0, part: { type: 'summary_text', text: '' } });
      for (const delta of pieces(summary, pieceChars)) ev({ type: 'response.reasoning_summary_text.delta', item_id: ids.rs, output_index, summary_index: 0, delta });
      ev({ type: 'response.reasoning_summary_text.done', item_id: ids.rs, output_index, summary_index: 0, text: summary });
      ev({ type: 'response.reasoning_summary_part.done', item_id: ids.rs, output_index, summary_index: 0, part: { type: 'summary_text', text: summary } });
    } else if (item.type === 'message') {
      ev({ type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', content: [] } });
      ev({ type: 'response.content_part.added', item_id: ids.msg, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
      for (const delta of pieces(text, pieceChars)) {
        ev({ type: 'response.output_text.delta', item_id: ids.msg, output_index, content_index: 0, delta, logprobs: [] });
        if (end === 'failed') {
          ev({ type: 'response.failed', response: responseObject(body, ids, 'failed', [], undefined, { code: 'server_error', message: 'The model failed mid-answer.' }) });
          return events;
        }
        if (end === 'error') {
          ev({ type: 'error', code: 'server_error', message: 'The model failed mid-answer.', param: null });
          return events;
        }
      }
      ev({ type: 'response.output_text.done', item_id: ids.msg, output_index, content_index: 0, text, logprobs: [] });
      ev({ type: 'response.content_part.done', item_id: ids.msg, output_index, content_index: 0, part: { type: 'output_text', text, annotations: [], logprobs: [] } });
    } else {
      const args = String(item.arguments);
      ev({ type: 'response.output_item.added', output_index, item: { ...item, arguments: '', status: 'in_progress' } });
      for (const delta of pieces(args, pieceChars)) ev({ type: 'response.function_call_arguments.delta', item_id: ids.fc, output_index, delta });
      ev({ type: 'response.function_call_arguments.done', item_id: ids.fc, output_index, name: item.name, arguments: args });
    }
    ev({ type: 'response.output_item.done', output_index, item });
  }
  ev({ type: 'response.completed', response: responseObject(body, ids, 'completed', output, responseUsage(body, text, reasoning, functionTool(body) !== undefined)) });
  return events;
}

/** The inputs of an embeddings request, one entry per vector to return. */
function embeddingInputs(input: unknown): unknown[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'number')) return [input];
  return Array.isArray(input) ? input : [];
}

/** A deterministic unit-ish vector for one input (FNV-1a of its JSON, spread over `dims` floats in [-1, 1)). */
export function embeddingVector(input: unknown, dims: number): number[] {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(input)) { h ^= ch.codePointAt(0)!; h = Math.imul(h, 0x01000193) >>> 0; }
  const out: number[] = [];
  for (let i = 0; i < dims; i++) { h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0; out.push(Math.fround((h / 0x80000000) - 1)); }
  return out;
}

/** An embeddings answer; `encoding_format: "base64"` gives little-endian float32 bytes in base64, as OpenAI does. */
export function embeddingAnswer(body: Body, defaultDims: number): Json {
  const dims = typeof body.dimensions === 'number' && body.dimensions > 0 ? body.dimensions : defaultDims;
  const inputs = embeddingInputs(body.input);
  const tokens = inputs.reduce<number>((n, x) => n + (typeof x === 'string' ? words(x) : Array.isArray(x) ? x.length : 0), 0);
  return {
    object: 'list', model: String(body.model),
    data: inputs.map((x, index) => {
      const v = embeddingVector(x, dims);
      return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** The prompts of a legacy completions request (a string, strings, one token array, token arrays). */
function completionPrompts(prompt: unknown): unknown[] {
  if (typeof prompt === 'string') return [prompt];
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((x) => typeof x === 'number')) return [prompt];
  return Array.isArray(prompt) && prompt.length > 0 ? prompt : [''];
}

/** A legacy completion: `n` choices per prompt (index = prompt × n + j), `echo` prefixes a string prompt. */
export function completionAnswer(body: Body, text: string, id = 'cmpl-fake'): Json {
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  const prompts = completionPrompts(body.prompt);
  const choices = prompts.flatMap((p, i) => Array.from({ length: n }, (_, j) => ({
    index: i * n + j, text: body.echo === true && typeof p === 'string' ? p + text : text, logprobs: null, finish_reason: 'stop',
  })));
  const prompt = promptTokens(body.prompt);
  const completion = words(text) * choices.length;
  return { id, object: 'text_completion', created: CREATED, model: String(body.model), choices, usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
}

/** The chunks of a streamed legacy completion: text pieces per choice with `finish_reason: null`, then a final one. */
export function completionChunks(body: Body, text: string, pieceChars: number, id = 'cmpl-fake'): Json[] {
  const whole = completionAnswer(body, text, id);
  const base = { id, object: 'text_completion', created: CREATED, model: String(body.model) };
  const out: Json[] = [];
  for (const c of whole.choices as { index: number; text: string }[]) {
    for (const p of pieces(c.text, pieceChars)) out.push({ ...base, choices: [{ text: p, index: c.index, logprobs: null, finish_reason: null }] });
    out.push({ ...base, choices: [{ text: '', index: c.index, logprobs: null, finish_reason: 'stop' }] });
  }
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) out.push({ ...base, choices: [], usage: whole.usage });
  return out;
}

/** `GET /v1/models`. */
export const modelList = (models: readonly string[]): Json =>
  ({ object: 'list', data: models.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'fake-upstream' })) });

// ---- the server ----------------------------------------------------------------------------------------------------

const ROUTES: Readonly<Record<string, Endpoint>> = {
  'POST /v1/chat/completions': 'chat', 'POST /v1/responses': 'responses', 'POST /v1/embeddings': 'embeddings',
  'POST /v1/completions': 'completions', 'GET /v1/models': 'models',
};

const error = (message: string, type: string, code: string | null, param: string | null = null): string =>
  JSON.stringify({ error: { message, type, param, code } });

/** Which endpoint `method path` is (query string ignored), or null. */
export function endpointOf(method: string, url: string): Endpoint | null {
  const path = url.split('?')[0]!;
  const direct = ROUTES[`${method} ${path}`];
  if (direct) return direct;
  return method === 'GET' && /^\/v1\/models\/[^/]+$/.test(path) ? 'model' : null;
}

/** Checks one request: the body against its endpoint's schema, and no `policy`/`policy_*` field at the top. */
function inspect(endpoint: Endpoint | null, headers: http.IncomingHttpHeaders, raw: string): { body: Body; violations: string[]; policyFields: string[] } {
  const schema = endpoint ? REQUEST_SCHEMAS[endpoint] : undefined;
  if (!schema) return { body: {}, violations: [], policyFields: [] };
  const violations: string[] = [];
  if (!String(headers['content-type'] ?? '').includes('application/json')) violations.push(`content-type is ${JSON.stringify(headers['content-type'] ?? null)}, not application/json`);
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { return { body: {}, violations: [...violations, 'body is not JSON'], policyFields: [] }; }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { body: {}, violations: [...violations, 'body is not a JSON object'], policyFields: [] };
  const body = parsed as Body;
  violations.push(...validateOpenAI(schema, body).errors);
  const policyFields = Object.keys(body).filter((k) => k === 'policy' || k.startsWith('policy_'));
  return { body, violations, policyFields };
}

/**
 * Starts the fake upstream on a free loopback port. Models (the request's `model`), for every POST endpoint:
 * - any name: a normal answer, JSON or SSE per `stream`;
 * - `fail-500`: HTTP 500; `fail-400`: an OpenAI-shaped 400; `not-json`: 200 text/html;
 * - `slow`: waits `slowMs` before answering; `slow-stream`: one event, then `slowMs` between events;
 * - `split-sse`: the SSE stream written in 7-byte pieces (events split mid-line and mid-UTF-8);
 * - Responses only: `stream-failed` ends the stream with response.failed, `stream-error` with an `error` event.
 * Every request is recorded with its schema violations and leaked policy fields (see OpenAIUpstream.problems()).
 */
export async function startOpenAIUpstream(opts: OpenAIUpstreamOptions = {}): Promise<OpenAIUpstream> {
  const pieceChars = Math.max(1, Math.floor(opts.pieceChars ?? 6));
  const text = opts.answer ?? FAKE_ANSWER;
  const reasoning = opts.reasoning === undefined ? FAKE_REASONING : opts.reasoning;
  const received: UpstreamRequest[] = [];
  let aborted = 0;
  let seq = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const endpoint = endpointOf(method, path);
      const raw = Buffer.concat(chunks).toString('utf8');
      const { body, violations, policyFields } = inspect(endpoint, req.headers, raw);
      received.push({ method, path, endpoint, headers: req.headers, raw, body, violations, policyFields });
      res.on('close', () => { if (!res.writableFinished) aborted++; });
      const n = ++seq;

      const json = (status: number, value: unknown) => {
        const out = typeof value === 'string' ? value : JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      };
      if (endpoint === null) return json(404, error(`Unknown request URL: ${method} ${path}.`, 'invalid_request_error', 'unknown_url'));
      if (endpoint === 'models') return json(200, modelList(opts.models ?? ['fake-model']));
      if (endpoint === 'model') {
        const id = decodeURIComponent(path.split('?')[0]!.slice('/v1/models/'.length));
        const m = (modelList(opts.models ?? ['fake-model']).data as Json[]).find((x) => x.id === id);
        return m ? json(200, m) : json(404, error(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'));
      }
      if (violations.includes('body is not JSON') || violations.includes('body is not a JSON object')) {
        return json(400, error('We could not parse the JSON body of your request.', 'invalid_request_error', null));
      }
      const model = String(body.model ?? '');
      if (model === 'fail-500') return json(500, error('boom', 'server_error', null));
      if (model === 'fail-400') return json(400, error('bad temperature', 'invalid_request_error', null, 'temperature'));
      if (model === 'not-json') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>hi</html>'); return; }

      const sse = (events: string[]) => {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        if (model === 'split-sse') {
          const all = Buffer.from(events.join(''));
          for (let i = 0; i < all.length; i += 7) res.write(all.subarray(i, i + 7));
          res.end();
          return;
        }
        const delay = model === 'slow-stream' ? (opts.slowMs ?? 2000) : (opts.chunkDelayMs ?? 0);
        if (delay === 0) { res.end(events.join('')); return; }
        let i = 0;
        const next = () => {
          if (res.destroyed) return;
          if (i === events.length - 1) { res.end(events[i]); return; }
          res.write(events[i++]);
          setTimeout(next, delay);
        };
        next();
      };
      const data = (values: Json[]) => [...values.map((v) => `data: ${JSON.stringify(v)}\n\n`), 'data: [DONE]\n\n'];

      const answer = () => {
        const stream = body.stream === true;
        switch (endpoint) {
          case 'chat': return stream ? sse(data(chatChunks(body, text, pieceChars))) : json(200, chatCompletion(body, text));
          case 'completions': return stream ? sse(data(completionChunks(body, text, pieceChars))) : json(200, completionAnswer(body, text));
          case 'embeddings': return json(200, embeddingAnswer(body, opts.dimensions ?? 8));
          case 'responses': {
            if (!stream) return json(200, responseAnswer(body, text, reasoning, n));
            const end = model === 'stream-failed' ? 'failed' : model === 'stream-error' ? 'error' : 'completed';
            // Responses streams name each event and end without [DONE].
            return sse(responseEvents(body, text, reasoning, pieceChars, n, end).map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`));
          }
        }
      };
      if (model === 'slow') setTimeout(answer, opts.slowMs ?? 2000); else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    received,
    get aborted() { return aborted; },
    problems: () => received.flatMap((r) => {
      const who = `${r.method} ${r.path} [${String(r.headers['x-request-id'] ?? '-')}]`;
      return [...r.violations.map((v) => `${who}: ${v}`), ...r.policyFields.map((f) => `${who}: policy field "${f}" reached the upstream`)];
    }),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
