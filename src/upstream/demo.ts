// The embedded demo upstream: an in-process OpenAI-compatible stand-in model on a loopback port when no upstream is
// configured. Deterministic answers with `usage` for chat completions (SSE word by word, at a model's pace), Responses,
// embeddings and legacy completions; the gateway proxies to it exactly as to a real backend, so the demo is the real path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Model ids the demo serves. */
export const DEMO_MODELS = Object.freeze(['demo-model', 'demo-model-mini']);

/** The `created` time of every demo answer (fixed, so answers are deterministic). */
const DEMO_CREATED = 1735689600;

/** Pause before each streamed word: about the pace of a hosted model (~30 words a second). */
export const DEMO_WORD_PAUSE_MS = 30;

/** Rough token count used for demo `usage` (whitespace-separated words + punctuation runs). */
export function demoTokenCount(text: string): number {
  const m = text.match(/\w+|[^\w\s]+/g);
  return m ? m.length : 0;
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join(' ');
  return '';
}

/** The demo model's deterministic answer to a chat request body. */
export function demoAnswer(body: { messages?: unknown; max_tokens?: unknown; max_completion_tokens?: unknown }): { text: string; prompt: number; completion: number } {
  const messages = Array.isArray(body.messages) ? body.messages as { role?: unknown; content?: unknown }[] : [];
  const prompt = messages.reduce((n, m) => n + demoTokenCount(messageText(m?.content)) + 4, 0);
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const system = messages.find((m) => m?.role === 'system');
  const said = messageText(lastUser?.content).replace(/\s+/g, ' ').trim().slice(0, 400);
  // Long enough that a stream shows words arriving even through a redacting policy, which holds back the last
  // characters of a stream (66 for the bundled demo policy: the longest value it could still be in the middle of).
  let text = `This is the Policy Gateway demo model. You said: "${said}". A real model would answer here: start the gateway with --upstream to front one.`;
  if (system) text += ' (I also received a system instruction.)';
  const cap = Number(body.max_completion_tokens ?? body.max_tokens);
  if (Number.isInteger(cap) && cap > 0) {
    const words = text.split(' ');
    if (words.length > cap) text = words.slice(0, cap).join(' ');
  }
  return { text, prompt, completion: demoTokenCount(text) };
}

/** The SSE `data:` payloads of a streamed demo answer (`[DONE]` not included). */
export interface DemoStream {
  /** The role chunk: sent at once, as a model's first byte. */
  readonly first: unknown;
  /** One chunk per word, each with the white space before it (as model tokens come): one per pause. */
  readonly words: readonly unknown[];
  /** The finish chunk, then `usage` when the request set `stream_options.include_usage`: right after the last word. */
  readonly last: readonly unknown[];
}

/** The chunks the demo model streams for a chat request body. */
export function demoStream(body: Record<string, unknown>, id: string, model: string): DemoStream {
  const { text, prompt, completion } = demoAnswer(body);
  const base = { id, object: 'chat.completion.chunk', created: DEMO_CREATED, model };
  const words = (text.match(/\s*\S+/g) ?? []).map((piece) => ({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }));
  const last: unknown[] = [{ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }];
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  if (so?.include_usage === true) last.push({ ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });
  return { first: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }, words, last };
}

/** Options of the demo upstream; the defaults are what `policy-gateway serve` uses. */
export interface DemoUpstreamOptions {
  /** Pause before each streamed word, in ms (default DEMO_WORD_PAUSE_MS; 0: one word per event-loop turn). */
  readonly wordPauseMs?: number;
}

/** The user text of a Responses request (`input` as a string, or the last user message item's text). */
function responsesUserText(body: Record<string, unknown>): { said: string; prompt: number; system: boolean } {
  const input = body.input;
  const items = typeof input === 'string' ? [{ role: 'user', content: input }] : Array.isArray(input) ? input as { role?: unknown; content?: unknown }[] : [];
  const messages = [...(typeof body.instructions === 'string' ? [{ role: 'system', content: body.instructions }] : []), ...items];
  const { text, prompt } = demoAnswer({ messages, max_tokens: body.max_output_tokens });
  return { said: text, prompt, system: messages.some((m) => m?.role === 'system') };
}

/** A deterministic 8-dimension vector for one input (FNV-1a over its JSON, spread over [-1, 1)). */
function demoVector(input: unknown): number[] {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(input)) { h ^= ch.codePointAt(0)!; h = Math.imul(h, 0x01000193) >>> 0; }
  const out: number[] = [];
  for (let i = 0; i < 8; i++) { h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0; out.push(Math.round(((h / 0x80000000) - 1) * 1e6) / 1e6); }
  return out;
}

type Send = (status: number, body: unknown) => void;

/** `POST /v1/responses`: a Response with one message (SSE: the Responses event sequence, no [DONE]). */
function demoResponses(body: Record<string, unknown>, model: string, n: number, res: http.ServerResponse, send: Send): void {
  const { said: text, prompt } = responsesUserText(body);
  const completion = demoTokenCount(text);
  const created = 1735689600;
  const msgId = `msg_demo_${n}`;
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const message = { type: 'message', id: msgId, status: 'completed', role: 'assistant', content: [part] };
  const resp = (done: boolean) => ({
    id: `resp_demo_${n}`, object: 'response', created_at: created, status: done ? 'completed' : 'in_progress', error: null, incomplete_details: null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null, max_output_tokens: body.max_output_tokens ?? null, model,
    output: done ? [message] : [], parallel_tool_calls: true, previous_response_id: body.previous_response_id ?? null, store: body.store ?? true,
    temperature: 1, top_p: 1, tool_choice: 'auto', tools: [], metadata: {},
    ...(done ? { completed_at: created, usage: { input_tokens: prompt, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: completion, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: prompt + completion } } : {}),
  });
  if (body.stream !== true) return send(200, resp(true));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let seq = 0;
  const ev = (e: Record<string, unknown>) => res.write(`event: ${String(e.type)}\ndata: ${JSON.stringify({ ...e, sequence_number: seq++ })}\n\n`);
  const at = { item_id: msgId, output_index: 0, content_index: 0 };
  ev({ type: 'response.created', response: resp(false) });
  ev({ type: 'response.in_progress', response: resp(false) });
  ev({ type: 'response.output_item.added', output_index: 0, item: { ...message, status: 'in_progress', content: [] } });
  ev({ type: 'response.content_part.added', ...at, part: { ...part, text: '' } });
  for (const delta of text.match(/\S+\s*/g) ?? []) ev({ type: 'response.output_text.delta', ...at, delta, logprobs: [] });
  ev({ type: 'response.output_text.done', ...at, text, logprobs: [] });
  ev({ type: 'response.content_part.done', ...at, part });
  ev({ type: 'response.output_item.done', output_index: 0, item: message });
  ev({ type: 'response.completed', response: resp(true) });
  res.end();
}

/** `POST /v1/embeddings`: one 8-dimension vector per input. */
function demoEmbeddings(body: Record<string, unknown>, model: string, send: Send): void {
  const input = body.input;
  const inputs = typeof input === 'string' || (Array.isArray(input) && typeof input[0] === 'number') ? [input] : Array.isArray(input) ? input : [];
  const tokens = inputs.reduce<number>((t, x) => t + (typeof x === 'string' ? demoTokenCount(x) : Array.isArray(x) ? x.length : 0), 0);
  send(200, { object: 'list', model, data: inputs.map((x, index) => ({ object: 'embedding', index, embedding: demoVector(x) })), usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** `POST /v1/completions`: the demo answer to the (first) prompt, as a text completion (SSE: text chunks, [DONE]). */
function demoCompletions(body: Record<string, unknown>, model: string, n: number, res: http.ServerResponse, send: Send): void {
  const p = body.prompt;
  const first = typeof p === 'string' ? p : Array.isArray(p) && typeof p[0] === 'string' ? p[0] : '';
  const { text, prompt, completion } = demoAnswer({ messages: [{ role: 'user', content: first }], max_tokens: body.max_tokens });
  const id = `cmpl-demo-${n}`;
  const created = 1735689600;
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (body.stream !== true) return send(200, { id, object: 'text_completion', created, model, choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }], usage });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const base = { id, object: 'text_completion', created, model };
  for (const piece of text.match(/\S+\s*/g) ?? []) res.write(`data: ${JSON.stringify({ ...base, choices: [{ text: piece, index: 0, logprobs: null, finish_reason: null }] })}\n\n`);
  res.write(`data: ${JSON.stringify({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] })}\n\n`);
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

const DEMO_POSTS = new Set(['/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/completions']);

/** Starts the demo upstream on 127.0.0.1 (random port); resolves to its /v1 base URL and a close function. */
export async function startDemoUpstream(opts: DemoUpstreamOptions = {}): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  const pauseMs = opts.wordPauseMs ?? DEMO_WORD_PAUSE_MS;
  let seq = 0;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: DEMO_MODELS.map((id) => ({ id, object: 'model', created: DEMO_CREATED, owned_by: 'policy-gateway-demo' })) }));
      return;
    }
    if (req.method !== 'POST' || !DEMO_POSTS.has(url)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `demo upstream: no route ${req.method} ${url}`, type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error', param: null, code: null } }));
        return;
      }
      const model = typeof body.model === 'string' ? body.model : 'demo-model';
      if (!DEMO_MODELS.includes(model)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `The model \`${model}\` does not exist`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }));
        return;
      }
      const send: Send = (status, value) => {
        const out = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      };
      if (url === '/v1/responses') return demoResponses(body, model, ++seq, res, send);
      if (url === '/v1/embeddings') return demoEmbeddings(body, model, send);
      if (url === '/v1/completions') return demoCompletions(body, model, ++seq, res, send);
      const id = `chatcmpl-demo-${++seq}`;
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        // The role chunk at once, then one word per pause, the finish and usage right after the last word. A client
        // (or gateway) that goes away stops the timer; so does close(), which closes every connection.
        const { first, words, last } = demoStream(body, id, model);
        const write = (o: unknown): void => { res.write(`data: ${JSON.stringify(o)}\n\n`); };
        let next = 0;
        let timer: NodeJS.Timeout | undefined;
        res.on('close', () => clearTimeout(timer));
        const step = (): void => {
          if (res.destroyed) return;
          if (next < words.length) write(words[next++]);
          if (next < words.length) { timer = setTimeout(step, pauseMs); return; }
          for (const o of last) write(o);
          res.end('data: [DONE]\n\n');
        };
        write(first);
        timer = setTimeout(step, pauseMs);
        return;
      }
      const { text, prompt, completion } = demoAnswer(body);
      const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created: DEMO_CREATED, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage,
      }));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
