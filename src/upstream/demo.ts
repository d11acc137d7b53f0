// The embedded demo upstream: an in-process OpenAI-compatible stand-in model on a loopback port, used when no
// real upstream is configured. Deterministic answers, `usage` counts, SSE streamed word by word at a model's pace;
// the gateway proxies to it exactly as to a real backend, so the demo exercises the real path.
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
    if (req.method !== 'POST' || url !== '/v1/chat/completions') {
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
