// Fuzzing the HTTP edge with fast-check against the real CLI (issue 13, Show): request bodies (any JSON, nesting past
// the limit, sizes past the limit, duplicate keys, __proto__, lone surrogates and invalid UTF-8, truncations, random
// bytes, gzip/deflate/br right and wrong), request heads (CRLF injection, huge and duplicated headers, framing headers)
// and upstream SSE streams of arbitrary bytes, split anywhere, compressed or not. Every request gets an answer — an
// OpenAI-shaped error or a well-formed success, never a 500 — and the process neither crashes nor logs an unhandled
// rejection. `npm test` runs a short profile; `npm run fuzz` the long one, and measures the gateway's memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { FC_PARAMS, LONG, RUNS, TIMEOUT_MS } from './profile.ts';

const RULES = {
  'open.policy': 'policy "open" {\n  default\n}\n',
  'red.policy': 'policy "red" {\n  topics { deny "forbidden topic", /^stop/ }\n  respond { when denylist refuse; otherwise allow }\n  redact request { email }\n  redact response { email, phone }\n  audit { prompts on }\n}\n',
};
/** Upstream SSE payloads by model name (`sse-<n>`): the chunks to write, their content-encoding, and how to end. */
const payloads = new Map<string, { chunks: Buffer[]; encoding?: string; reset?: boolean }>();
let upstream: http.Server;
let gw: GatewayProcess;
let seq = 0;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => { raw += c; });
    req.on('end', () => {
      let body: { model?: string; stream?: unknown } = {};
      try { body = JSON.parse(raw) as typeof body; } catch { /* answered like any other */ }
      const p = payloads.get(String(body.model));
      if (p) {
        payloads.delete(String(body.model));
        res.writeHead(200, { 'content-type': 'text/event-stream', ...(p.encoding ? { 'content-encoding': p.encoding } : {}) });
        let i = 0;
        const next = () => {
          if (res.destroyed) return;
          if (i === p.chunks.length) { if (p.reset) res.socket?.destroy(); else res.end(); return; }
          res.write(p.chunks[i++]);
          setImmediate(next);
        };
        next();
        return;
      }
      const base = { id: 'c', created: 1, model: String(body.model) };
      const json = (v: unknown) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
      if (req.url === '/v1/embeddings') return json({ object: 'list', model: base.model, data: [{ object: 'embedding', index: 0, embedding: [0.5] }], usage: { prompt_tokens: 1, total_tokens: 1 } });
      if (req.url === '/v1/completions') {
        if (body.stream !== true) return json({ ...base, object: 'text_completion', choices: [{ index: 0, text: 'hi a@b.example', logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ ...base, object: 'text_completion', choices: [{ index: 0, text: 'hi a@b.example', logprobs: null, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
        return;
      }
      if (req.url === '/v1/responses') {
        const message = { type: 'message', id: 'm', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'hi a@b.example', annotations: [], logprobs: [] }] };
        const resp = { id: 'r', object: 'response', created_at: 1, status: 'completed', model: base.model, output: [message], usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } };
        if (body.stream !== true) return json(resp);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const ev = (e: Record<string, unknown>, n: number) => `event: ${String(e.type)}\ndata: ${JSON.stringify({ ...e, sequence_number: n })}\n\n`;
        res.end(ev({ type: 'response.output_text.delta', item_id: 'm', output_index: 0, content_index: 0, delta: 'hi a@b.example', logprobs: [] }, 0)
          + ev({ type: 'response.output_text.done', item_id: 'm', output_index: 0, content_index: 0, text: 'hi a@b.example', logprobs: [] }, 1)
          + ev({ type: 'response.completed', response: resp }, 2));
        return;
      }
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hi a@b.example' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi a@b.example' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
    '--body-limit', '256kb', '--request-timeout', '1s', '--upstream-body-limit', '1mb', '--audit', 'off']);
});
afterAll(async () => {
  await gw?.stop();
  await new Promise((r) => upstream?.close(r));
});

const ALLOWED = new Set([200, 400, 404, 405, 408, 413, 415, 417, 431, 503]);

/** An error answer is OpenAI-shaped; a success is a chat completion with its policy block, or an SSE stream that ends. */
function checkAnswer(status: number, contentType: string, text: string, allowed: ReadonlySet<number> = ALLOWED): void {
  expect(allowed.has(status), `status ${status}: ${text.slice(0, 200)}`).toBe(true);
  if (status >= 400) {
    const e = (JSON.parse(text) as { error: { message: unknown; type: unknown; param: unknown; code: unknown } }).error;
    expect(typeof e.message).toBe('string');
    expect(typeof e.type).toBe('string');
    expect(e.param === null || typeof e.param === 'string').toBe(true);
    expect(typeof e.code).toBe('string');
    return;
  }
  if (contentType.startsWith('text/event-stream')) {
    const last = text.trimEnd().split('\n\n').at(-1)!;
    // Chat and legacy completions end with [DONE] or an error event; Responses streams with a terminal or error event.
    expect(last === 'data: [DONE]' || last.startsWith('data: {"error":') || /^event: (response\.(completed|incomplete|failed)|error)\n/.test(last),
      `stream ended with ${last.slice(0, 120)}`).toBe(true);
    return;
  }
  expect((JSON.parse(text) as { policy?: unknown }).policy).toBeDefined();
}

/** The gateway is alive, answers /healthz, and has printed nothing about crashes or unhandled rejections. */
async function checkAlive(): Promise<void> {
  expect(gw.proc.exitCode).toBeNull();
  expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  expect(gw.stderr()).not.toMatch(/unhandled|uncaught|RangeError|TypeError|stack size/i);
  expect(gw.stdout()).not.toMatch(/"level":(50|60)/);
}

// ---- request bodies ----------------------------------------------------------------------------------------------

const nested = (d: number, open: string, close: string, leaf = '0') => open.repeat(d) + leaf + close.repeat(d);
const message = fc.record({
  role: fc.constantFrom('user', 'system', 'assistant', 'tool', '', 'developer'),
  content: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('stop this', 'a forbidden topic', 'mail x@y.example', null),
    fc.array(fc.record({ type: fc.constantFrom('text', 'image_url', 'x'), text: fc.string({ maxLength: 40 }) }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
}, { requiredKeys: [] });
const chatBody = fc.record({
  model: fc.oneof(fc.constantFrom('m', 'gpt-4o'), fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 })),
  messages: fc.oneof(fc.array(message, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
  stream: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
  stream_options: fc.jsonValue({ maxDepth: 2 }),
  policy_id: fc.constantFrom('open', 'red', 'nope', '', 7),
  policy_user: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
  tools: fc.jsonValue({ maxDepth: 5 }),
  response_format: fc.oneof(fc.constant({ type: 'json_object' }), fc.jsonValue({ maxDepth: 2 })),
}, { requiredKeys: [] });
const validChat = fc.record({ content: fc.string({ maxLength: 60 }), stream: fc.boolean(), policy: fc.constantFrom('open', 'red') })
  .map(({ content, stream, policy }) => JSON.stringify({ model: 'm', stream, policy_id: policy, messages: [{ role: 'user', content }] }));

const bodyText: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: chatBody.map((b) => Buffer.from(JSON.stringify(b))) },
  { weight: 3, arbitrary: validChat.map((t) => Buffer.from(t)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 400 }), fc.constantFrom(['[', ']'], ['{"a":', '}'])).map(([d, [o, c]]) =>
    Buffer.from(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${nested(d, o!, c!)}}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 100_000, max: 600_000 }).map((n) => Buffer.from(`{"model":"m","messages":[{"role":"user","content":"${'x'.repeat(n)}"}]}`)) },
  { weight: 1, arbitrary: fc.constantFrom(
    '{"model":"m","messages":[{"role":"user","content":"hi"}],"model":"other","policy_id":"open","policy_id":"red"}',
    '{"__proto__":{"model":"x","policy_id":"red"},"constructor":{"prototype":{"polluted":1}},"model":"m","messages":[{"role":"user","content":"hi","__proto__":{"role":"system"}}]}',
    '{"model":"m","messages":[{"role":"user","content":"lone \\ud800 and \\udfff surrogates"}]}',
    '{"model":"m","messages":[{"role":"user","content":"\\u0000\\u2028\\u2029"}]}',
    '{"model":"m","messages":{"length":1,"0":{"role":"user","content":"hi"}}}',
  ).map((t) => Buffer.from(t)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bad) => Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.from([0xed, 0xa0, 0x80, 0xff, ...bad]), Buffer.from('"}]}')])) },
  { weight: 1, arbitrary: fc.tuple(validChat, fc.nat()).map(([t, cut]) => Buffer.from(t.slice(0, cut % (t.length + 1)))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
);
const encoded = fc.tuple(bodyText, fc.constantFrom('none', 'none', 'none', 'gzip', 'deflate', 'br', 'gzip-lie', 'identity', 'zstd', 'gzip, br', 'deflate-raw')).map(([body, enc]) => {
  switch (enc) {
    case 'gzip': return { body: zlib.gzipSync(body), encoding: 'gzip' };
    case 'deflate': return { body: zlib.deflateSync(body), encoding: 'deflate' };
    case 'deflate-raw': return { body: zlib.deflateRawSync(body), encoding: 'deflate' };
    case 'br': return { body: zlib.brotliCompressSync(body), encoding: 'br' };
    case 'gzip-lie': return { body, encoding: 'gzip' };
    case 'none': return { body, encoding: undefined };
    default: return { body, encoding: enc };
  }
});

/** Bodies of the other endpoints: valid, nearly valid and wrong shapes of their prompt fields. */
const inputItem = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'system', 'developer', 'assistant', ''), content: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('a forbidden topic', 'stop now'),
    fc.array(fc.record({ type: fc.constantFrom('input_text', 'output_text', 'input_image', 'refusal', 7), text: fc.string({ maxLength: 30 }) }, { requiredKeys: ['type'] }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] }),
  fc.record({ type: fc.constantFrom('function_call', 'function_call_output', 'item_reference', 'reasoning', 'message', 3), call_id: fc.string({ maxLength: 5 }),
    output: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 2 })), arguments: fc.string({ maxLength: 30 }), summary: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: ['type'] }),
  fc.jsonValue({ maxDepth: 2 }),
);
const tokens = fc.oneof(fc.array(fc.integer({ min: -5, max: 100_000 }), { maxLength: 8 }), fc.array(fc.array(fc.integer(), { maxLength: 4 }), { maxLength: 3 }));
const otherBody = fc.oneof(
  fc.record({
    route: fc.constant('/responses'), model: fc.constantFrom('m', ''), stream: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })), policy_id: fc.constantFrom('open', 'red', 'nope'),
    input: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('a forbidden topic'), fc.array(inputItem, { maxLength: 4 }), fc.jsonValue({ maxDepth: 3 })),
    instructions: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })), previous_response_id: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null)),
    max_output_tokens: fc.oneof(fc.integer(), fc.jsonValue({ maxDepth: 1 })), prompt: fc.jsonValue({ maxDepth: 3 }),
  }, { requiredKeys: ['route'] }),
  fc.record({
    route: fc.constant('/embeddings'), model: fc.constantFrom('m', ''), policy_id: fc.constantFrom('open', 'red'),
    input: fc.oneof(fc.string({ maxLength: 60 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), tokens, fc.jsonValue({ maxDepth: 3 })),
    encoding_format: fc.constantFrom('float', 'base64', 7), stream: fc.jsonValue({ maxDepth: 1 }),
  }, { requiredKeys: ['route'] }),
  fc.record({
    route: fc.constant('/completions'), model: fc.constantFrom('m', ''), stream: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })), policy_id: fc.constantFrom('open', 'red'),
    prompt: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('stop this'), fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), tokens, fc.jsonValue({ maxDepth: 3 })),
    suffix: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })), n: fc.oneof(fc.integer({ min: -2, max: 5000 }), fc.jsonValue({ maxDepth: 1 })),
    stream_options: fc.jsonValue({ maxDepth: 2 }),
  }, { requiredKeys: ['route'] }),
);

describe('fuzz: request bodies of the other endpoints (Responses, embeddings, legacy completions)', () => {
  it(`always an answer, never a 500 or a crash (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(otherBody, fc.constantFrom('/v1', '/policy'), async ({ route, ...body }, base) => {
      const r = await fetch(`${gw.url}${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      checkAnswer(r.status, r.headers.get('content-type') ?? '', await r.text());
    }), FC_PARAMS);
    await checkAlive();
  }, TIMEOUT_MS);
});

describe('fuzz: request bodies', () => {
  it(`always an answer, never a 500 or a crash (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(encoded, fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/vnd.x+json'),
      fc.constantFrom('/v1/chat/completions', '/policy/chat/completions'), async ({ body, encoding }, contentType, route) => {
        const headers: Record<string, string> = { 'content-type': contentType };
        if (encoding) headers['content-encoding'] = encoding;
        const r = await fetch(`${gw.url}${route}`, { method: 'POST', headers, body });
        checkAnswer(r.status, r.headers.get('content-type') ?? '', await r.text());
      }), FC_PARAMS);
    await checkAlive();
  }, TIMEOUT_MS);
});

// ---- request heads -----------------------------------------------------------------------------------------------

const headerName = fc.oneof(
  fc.constantFrom('X-Policy-Id', 'X-Policy-User', 'X-Policy-Project', 'X-Policy-Target', 'X-Request-Id', 'Content-Type', 'Content-Length',
    'Transfer-Encoding', 'Content-Encoding', 'Authorization', 'Host', 'Expect', 'Connection', 'User-Agent'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/),
  fc.constantFrom('Bad Name', 'X:Colon', '', 'X\u00e9'),
);
const headerValue = fc.oneof(
  fc.stringMatching(/^[ -~]{0,40}$/),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('v\r\nX-Injected: 1', 'v\nX-Injected: 1', 'v\rX-Injected: 1', 'a\0b', ' padded ', 'chunked', 'gzip', '100-continue',
    'close', '-1', '1e3', '99999999999', 'Bearer pgk_x', 'application/json', 'x'.repeat(20_000), 'é€😀'),
);

/** Raw-socket runs are slower (some wait for the 1 s request timeout): half as many. */
const HEAD_RUNS = Math.max(20, Math.floor(RUNS / 2));

describe('fuzz: request heads', () => {
  it(`always an answer on the socket, no header injected into it, never a 500 (${HEAD_RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }), validChat, fc.boolean(),
      async (hdrs, body, withLength) => {
        const lines = ['POST /v1/chat/completions HTTP/1.1', 'Host: x', 'Content-Type: application/json'];
        if (withLength) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
        for (const [n, v] of hdrs) lines.push(`${n}: ${v}`);
        const r = await rawExchange(gw.port, [`${lines.join('\r\n')}\r\n\r\n${body}`], { waitMs: 4000, untilResponse: true });
        expect(r.status, r.text.slice(0, 200)).not.toBe(0);
        // no header line the client smuggled in, in any response head (bodies are JSON: a CR LF there is escaped)
        expect(r.text).not.toMatch(/\r\nX-Injected:/i);
        const final = r.text.replace(/^(?:HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
        checkAnswer(r.status, r.headers['content-type'] ?? '', r.status === 200 && r.headers['content-type']?.startsWith('text/event-stream') ? final.slice(final.indexOf('\r\n\r\n') + 4).replace(/\r\n[0-9a-f]+\r\n/g, '') : r.body);
      }), { ...FC_PARAMS, numRuns: HEAD_RUNS });
    await checkAlive();
  }, TIMEOUT_MS);
});

// ---- upstream SSE bytes ------------------------------------------------------------------------------------------

const chunkJson = fc.record({ content: fc.string({ maxLength: 30 }), finish: fc.constantFrom(null, null, 'stop'), index: fc.constantFrom(0, 0, 1, 40) })
  .map(({ content, finish, index }) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index, delta: { content }, finish_reason: finish }] })}\n\n`);
const sseEvent: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 5, arbitrary: chunkJson.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constantFrom('data: [DONE]\n\n', ': ping\n\n', 'data: {\n\n', 'event: x\ndata: {}\n\n', '\r\n', 'data:', 'data: {"choices":null}\n\n',
    'retry: 10\n\n', 'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\n', 'data: a@b.example\n\n', `data: {"choices":[],"x":${nested(300, '[', ']')}}\n\n`,
    'data: {"id":"c","choices":[{"index":0,"delta":{"content":"john.doe@exa"}}]}\r\n\r\n').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
);
const ssePayload = fc.record({
  events: fc.array(sseEvent, { maxLength: 14 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  encoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'br', 'zstd', 'gzip-corrupt'),
  reset: fc.boolean(),
});

describe('fuzz: upstream SSE bytes', () => {
  it(`every stream ends with [DONE] or an error event, whatever the upstream sends (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(ssePayload, fc.constantFrom('open', 'red'), async ({ events, cuts, encoding, reset }, policy) => {
      let bytes = Buffer.concat(events);
      if (encoding === 'gzip') bytes = zlib.gzipSync(bytes);
      else if (encoding === 'br') bytes = zlib.brotliCompressSync(bytes);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) { chunks.push(bytes.subarray(prev, p)); prev = p; }
      chunks.push(bytes.subarray(prev));
      const model = `sse-${++seq}`;
      payloads.set(model, { chunks, encoding: encoding === 'gzip-corrupt' ? 'gzip' : encoding, reset });
      const r = await fetch(`${gw.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, policy_id: policy, messages: [{ role: 'user', content: 'hi' }] }) });
      const text = await r.text();
      // 502: an unknown or corrupt coding is refused before the stream starts
      checkAnswer(r.status, r.headers.get('content-type') ?? '', text, new Set([200, 502]));
    }).beforeEach(() => { payloads.clear(); }), FC_PARAMS);
    await checkAlive();
  }, TIMEOUT_MS);
});

/** Responses API events, well-formed or not: deltas (with values the redactor must catch), done events, terminal ones. */
const responseEventText = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('response.output_text.delta', 'response.function_call_arguments.delta', 'response.reasoning_summary_text.delta', 'response.refusal.delta'),
    delta: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('mail john.doe@exa', 'mple.com now', '{"a":"x@y.example"}', 7)),
    output_index: fc.constantFrom(0, 0, 1, -1, 1e9, 'x'), content_index: fc.constantFrom(0, 1, null), summary_index: fc.constantFrom(0, 2), sequence_number: fc.nat(50) }, { requiredKeys: ['type'] }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constantFrom('response.output_text.done', 'response.function_call_arguments.done', 'response.content_part.done', 'response.output_item.done'),
    text: fc.string({ maxLength: 30 }), arguments: fc.string({ maxLength: 30 }), part: fc.jsonValue({ maxDepth: 3 }), item: fc.jsonValue({ maxDepth: 3 }),
    output_index: fc.constantFrom(0, 1), content_index: fc.constantFrom(0, 1) }, { requiredKeys: ['type'] }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('response.completed', 'response.failed', 'response.incomplete', 'response.created', 'error'),
    response: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ output: [{ type: 'message', content: [{ type: 'output_text', text: 'a@b.example' }] }], usage: { input_tokens: 1, output_tokens: 2 } })),
    sequence_number: fc.nat(50) }, { requiredKeys: ['type'] }) },
).map((e) => `event: ${String((e as { type: string }).type)}\ndata: ${JSON.stringify(e)}\n\n`);
const responsePayload = fc.record({
  events: fc.array(fc.oneof({ weight: 6, arbitrary: responseEventText.map((s) => Buffer.from(s)) }, { weight: 1, arbitrary: sseEvent }), { maxLength: 14 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
});

describe('fuzz: upstream Responses streams', () => {
  it(`every Responses stream ends with a terminal or error event, whatever the upstream sends (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(responsePayload, fc.constantFrom('open', 'red'), async ({ events, cuts }, policy) => {
      const bytes = Buffer.concat(events);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) { chunks.push(bytes.subarray(prev, p)); prev = p; }
      chunks.push(bytes.subarray(prev));
      const model = `sse-${++seq}`;
      payloads.set(model, { chunks });
      const r = await fetch(`${gw.url}/policy/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, policy_id: policy, input: 'hi' }) });
      const text = await r.text();
      checkAnswer(r.status, r.headers.get('content-type') ?? '', text, new Set([200, 502]));
      if (policy === 'red') expect(text).not.toMatch(/john\.doe@exa\S*mple\.com|a@b\.example|x@y\.example/);
    }).beforeEach(() => { payloads.clear(); }), FC_PARAMS);
    await checkAlive();
  }, TIMEOUT_MS);
});

// ---- memory over the long profile ----------------------------------------------------------------------------------

/** The gateway process's resident set (kB, from /proc) and V8 heap in use (bytes, from /metrics). */
async function memory(): Promise<{ rssKb: number; heapUsed: number }> {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.proc.pid}/status`, 'utf8'))?.[1]);
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1]);
  return { rssKb, heapUsed };
}

describe('fuzz: memory', () => {
  it('stays flat over a repeated mixed load (figures printed; bounded under npm run fuzz)', async () => {
    const rounds = LONG ? 40 : 2;
    const perRound = 250;
    const mix = fc.sample(fc.tuple(encoded, fc.constantFrom('/v1/chat/completions', '/policy/chat/completions')), { numRuns: perRound, seed: 42 });
    const round = async () => {
      for (let i = 0; i < mix.length; i += 25) {
        await Promise.all(mix.slice(i, i + 25).map(async ([{ body, encoding }, route]) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (encoding) headers['content-encoding'] = encoding;
          const r = await fetch(`${gw.url}${route}`, { method: 'POST', headers, body });
          await r.arrayBuffer();
        }));
      }
    };
    await round(); // warm-up: JIT, pools, caches
    const samples: { rssKb: number; heapUsed: number }[] = [await memory()];
    for (let i = 0; i < rounds; i++) { await round(); samples.push(await memory()); }
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const maxRss = Math.max(...samples.map((s) => s.rssKb));
    process.stdout.write(`[fuzz memory] ${rounds} rounds x ${perRound} requests: RSS ${Math.round(first.rssKb / 1024)} -> ${Math.round(last.rssKb / 1024)} MB `
      + `(max ${Math.round(maxRss / 1024)} MB), heap used ${Math.round(first.heapUsed / 2 ** 20)} -> ${Math.round(last.heapUsed / 2 ** 20)} MB\n`);
    if (LONG) {
      // Flat: the second half of the run does not grow beyond the first half's peak by more than GC noise.
      const half = samples.slice(0, Math.ceil(samples.length / 2));
      const peakFirstHalf = Math.max(...half.map((s) => s.rssKb));
      expect(Math.max(...samples.slice(half.length).map((s) => s.rssKb))).toBeLessThan(peakFirstHalf + 48 * 1024);
    }
    await checkAlive();
  }, TIMEOUT_MS);
});
