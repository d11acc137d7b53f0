// A fake OpenAI-compatible upstream on loopback for tests: the far end of the wire, not a piece of the product.
// It records what it received and answers by model name: normal JSON/SSE, errors, slow answers, split SSE frames.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
  readonly path: string;
  /** The request body exactly as it arrived (bytes decoded as UTF-8), to check what went over the wire. */
  readonly raw: string;
}

export interface FakeUpstream {
  readonly baseUrl: string;
  readonly port: number;
  readonly received: Received[];
  /** Requests whose upstream connection was closed by the gateway before the answer ended. */
  readonly aborted: number;
  close(): Promise<void>;
}

/** The answer text the fake model gives (deterministic). Override per request with the `x-test-answer` body field. */
export const FAKE_ANSWER = 'Hello from the fake upstream. Contact me at alice@example.com.';

/** The `usage` the fake model reports for a request `body` answered with `text` (deterministic). */
export function usageFor(body: Record<string, unknown>, text: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = JSON.stringify(body.messages ?? '').length >> 2;
  const completion = text.split(/\s+/).length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/**
 * Starts the fake upstream. Models:
 * - any name: a normal answer (`answer` option or FAKE_ANSWER), JSON or SSE per `stream`;
 * - `fail-500`: HTTP 500; `fail-400`: an OpenAI-shaped 400; `not-json`: 200 text/html;
 * - `slow`: waits `slowMs` before answering; `slow-stream`: sends one chunk then stalls `slowMs` between chunks;
 * - `split-sse`: writes the SSE stream in 7-byte pieces (events split mid-line and mid-UTF-8).
 * Streams carry the answer text in pieces of `pieceChars` characters (default 6; 1 = one character per chunk).
 */
export async function startFakeUpstream(opts: { answer?: string; slowMs?: number; chunkDelayMs?: number; pieceChars?: number } = {}): Promise<FakeUpstream> {
  const piece = new RegExp(`.{1,${Math.max(1, Math.floor(opts.pieceChars ?? 6))}}`, 'gs');
  const received: Received[] = [];
  let aborted = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', created: 1, owned_by: 'test' }] }));
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(raw || '{}'); } catch { /* recorded as empty */ }
      received.push({ headers: req.headers, body, path: req.url ?? '', raw });
      res.on('close', () => { if (!res.writableFinished) aborted++; });
      const model = String(body.model ?? '');
      const text = opts.answer ?? FAKE_ANSWER;
      if (model === 'fail-500') { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"error":{"message":"boom","type":"server_error","param":null,"code":null}}'); return; }
      if (model === 'fail-400') { res.writeHead(400, { 'content-type': 'application/json' }); res.end('{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}'); return; }
      if (model === 'not-json') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>hi</html>'); return; }
      const answer = () => {
        const id = 'chatcmpl-fake';
        const created = 1700000000;
        if (body.stream === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const base = { id, object: 'chat.completion.chunk', created, model };
          const events: string[] = [`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`];
          for (const part of text.match(piece) ?? []) events.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: part }, finish_reason: null }] })}\n\n`);
          events.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
          if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
            events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: usageFor(body, text) })}\n\n`);
          }
          events.push('data: [DONE]\n\n');
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
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id, object: 'chat.completion', created, model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: usageFor(body, text),
        }));
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
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
