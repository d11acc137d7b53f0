// Compressed bodies (issue 13 item 7). Requests: gzip, deflate and br bodies are decoded with --body-limit applied to
// the decoded size (a 200 MB brotli bomb of a few hundred bytes is a fast 413), other encodings are a 415, corrupt data
// a 400. Upstream answers sent compressed despite `accept-encoding: identity` are decoded — JSON and SSE, redaction
// included — within --upstream-body-limit; an unknown or corrupt encoding is a 502. Real CLI, real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const RULES = { 'p.policy': 'policy "p" {\n  default\n  redact response { email }\n}\n' };
const chat = (content = 'hi') => JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] });

describe('compressed request bodies', () => {
  let up: FakeUpstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--body-limit', '64kb']);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const post = async (body: Buffer | string, encoding?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (encoding !== undefined) headers['content-encoding'] = encoding;
    const t = performance.now();
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body });
    return { status: r.status, ms: performance.now() - t, json: (await r.json()) as { error?: { code: string; message: string }; choices?: unknown[] } };
  };

  it.each([
    { note: 'gzip', encoding: 'gzip', encode: (b: Buffer) => zlib.gzipSync(b) },
    { note: 'x-gzip', encoding: 'x-gzip', encode: (b: Buffer) => zlib.gzipSync(b) },
    { note: 'deflate (zlib-wrapped, as RFC 9110 says)', encoding: 'deflate', encode: (b: Buffer) => zlib.deflateSync(b) },
    { note: 'deflate sent raw (as some clients do)', encoding: 'deflate', encode: (b: Buffer) => zlib.deflateRawSync(b) },
    { note: 'br', encoding: 'br', encode: (b: Buffer) => zlib.brotliCompressSync(b) },
    { note: 'identity', encoding: 'identity', encode: (b: Buffer) => b },
    { note: 'GZIP in capitals', encoding: 'GZIP', encode: (b: Buffer) => zlib.gzipSync(b) },
  ])('$note: decoded, checked and forwarded as plain JSON', async ({ encoding, encode }) => {
    const text = chat(`hello ${encoding}`);
    const r = await post(encode(Buffer.from(text)), encoding);
    expect(r.status).toBe(200);
    const got = up.received.at(-1)!;
    expect(got.raw).toBe(text);
    expect(got.headers['content-encoding']).toBeUndefined();
  });

  it('a decoded body over the limit is a 413, even when the compressed one is tiny (a 200 MB brotli bomb)', async () => {
    const bomb = zlib.brotliCompressSync(Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.alloc(200 * 1024 * 1024, 0x61), Buffer.from('"}]}')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post(bomb, 'br');
    expect(r.status).toBe(413);
    expect(r.json.error!.code).toBe('request_too_large');
    expect(r.ms).toBeLessThan(3000);
    const gz = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(gz.length).toBeLessThan(64 * 1024);
    expect((await post(gz, 'gzip')).status).toBe(413);
  });

  it.each([
    { note: 'an unsupported encoding', encoding: 'compress', code: 'unsupported_content_encoding', status: 415 },
    { note: 'stacked encodings', encoding: 'gzip, br', code: 'unsupported_content_encoding', status: 415 },
    { note: 'corrupt gzip data', encoding: 'gzip', code: 'invalid_content_encoding', status: 400 },
  ])('$note: $status $code', async ({ encoding, code, status }) => {
    const r = await post(Buffer.from(chat()), encoding);
    expect(r.status).toBe(status);
    expect(r.json.error!.code).toBe(code);
  });
});

describe('compressed upstream answers despite accept-encoding: identity', () => {
  let server: http.Server;
  let gw: GatewayProcess;
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => { raw += c; });
      req.on('end', () => {
        const { model, stream } = JSON.parse(raw) as { model: string; stream?: boolean };
        const [enc, kind] = model.split(':') as [string, string];
        const compress = (b: Buffer) => (enc === 'gzip' ? zlib.gzipSync(b) : enc === 'br' ? zlib.brotliCompressSync(b) : enc === 'deflate' ? zlib.deflateSync(b) : b);
        let body: Buffer;
        if (kind === 'bomb') body = Buffer.alloc(50 * 1024 * 1024, 0x20);
        else if (stream) {
          const parts = ['Write to ', 'alice@exam', 'ple.com now'].map((c) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })}\n\n`);
          parts.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
          body = Buffer.from(parts.join(''));
        } else body = Buffer.from(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'mail alice@example.com' }, finish_reason: 'stop' }] }));
        const out = kind === 'corrupt' ? Buffer.from('not compressed at all') : compress(body);
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json', 'content-encoding': enc });
        res.end(out);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, '--upstream-body-limit', '1mb']);
  });
  afterAll(async () => {
    await gw?.stop();
    await new Promise((r) => server.close(r));
  });

  const ask = async (model: string, stream = false) => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }) });
    return { status: r.status, text: await r.text() };
  };

  it.each(['gzip', 'br', 'deflate'])('a %s JSON answer is decoded and redacted', async (enc) => {
    const r = await ask(`${enc}:ok`);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('mail [EMAIL]');
  });

  it.each(['gzip', 'br'])('a %s SSE stream is decoded and redacted across chunks, and ends with [DONE]', async (enc) => {
    const r = await ask(`${enc}:ok`, true);
    expect(r.status).toBe(200);
    const text = r.text.split('\n\n').filter((e) => e.startsWith('data: {"id"')).map((e) => (JSON.parse(e.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Write to [EMAIL] now');
    expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it.each([
    { note: 'an unknown encoding', model: 'zstd:ok' },
    { note: 'corrupt gzip', model: 'gzip:corrupt' },
    { note: 'a gzip bomb past --upstream-body-limit', model: 'gzip:bomb' },
  ])('$note in a JSON answer is a 502 upstream_bad_response', async ({ model }) => {
    const r = await ask(model);
    expect(r.status).toBe(502);
    expect((JSON.parse(r.text) as { error: { code: string } }).error.code).toBe('upstream_bad_response');
  });

  it('corrupt gzip in a stream ends it with the upstream_bad_response error event', async () => {
    const r = await ask('gzip:corrupt', true);
    expect(r.text.trimEnd().split('\n\n').at(-1)).toMatch(/^data: \{"error":.*"code":"upstream_bad_response"/);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

describe('upstream answers past --upstream-body-limit', () => {
  let server: http.Server;
  let gw: GatewayProcess;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => { raw += c; });
      req.on('end', () => {
        const { stream } = JSON.parse(raw) as { stream?: boolean };
        if (stream) {
          // one event that never ends: 4 MB of data without a blank line
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: {"id":"c","choices":[{"index":0,"delta":{"content":"');
          for (let i = 0; i < 64; i++) res.write('x'.repeat(64 * 1024));
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(2 * 1024 * 1024) }, finish_reason: 'stop' }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, '--upstream-body-limit', '1mb']);
  });
  afterAll(async () => {
    await gw?.stop();
    await new Promise((r) => server.close(r));
  });

  it('a 2 MB JSON answer against a 1 MB limit is a 502', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat() });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('upstream_bad_response');
  });

  it('an SSE event growing past the limit ends the stream with an error event', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    const text = await r.text();
    expect(text.length).toBeLessThan(1024 * 1024);
    expect(text.trimEnd().split('\n\n').at(-1)).toMatch(/^data: \{"error":.*"code":"upstream_bad_response"/);
  });
});
