// A fast fake OpenAI-compatible upstream for the benchmarks (loopback only, keep-alive): pre-serialised JSON
// chat completions with `usage`, SSE streams of a few chunks ending in `data: [DONE]`, and GET /v1/models.
// Run as a process: node bench/upstream.ts --port 0 [--delay MS] [--sse-gap MS]; prints one JSON "listening" line.
import http from 'node:http';
import { parseArgs } from 'node:util';

/** Options of the fake upstream. */
export interface UpstreamOptions {
  /** Port to listen on (0 = any free port). */
  port: number;
  /** Delay before the response head (time to first byte), ms; 0 = none. */
  delayMs: number;
  /** Gap between SSE chunks, ms; 0 = write them back to back. */
  sseGapMs: number;
}

const ANSWER_WORDS = (
  'Our refund policy lets you return most items within thirty days of delivery for a full refund to the ' +
  'original payment method. Items must be unused and in their original packaging, and the receipt or order ' +
  'number is required. Shipping costs are not refundable unless the item arrived damaged or was not what you ordered.'
).split(' ');

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench0000000000000000000000',
    object: 'chat.completion',
    created: 1735689600,
    model: 'bench-model',
    choices: [
      { index: 0, message: { role: 'assistant', content: ANSWER_WORDS.join(' ') }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 42, completion_tokens: ANSWER_WORDS.length, total_tokens: 42 + ANSWER_WORDS.length },
    system_fingerprint: 'fp_bench',
  }),
);

/** The SSE chunks of one streamed answer: role, 6 content pieces, finish + usage, [DONE]. */
function buildSseChunks(): Buffer[] {
  const base = { id: 'chatcmpl-bench0000000000000000000000', object: 'chat.completion.chunk', created: 1735689600, model: 'bench-model' };
  const chunks: string[] = [];
  chunks.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
  const per = Math.ceil(ANSWER_WORDS.length / 6);
  for (let i = 0; i < ANSWER_WORDS.length; i += per) {
    const text = (i === 0 ? '' : ' ') + ANSWER_WORDS.slice(i, i + per).join(' ');
    chunks.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }));
  }
  chunks.push(
    JSON.stringify({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      usage: { prompt_tokens: 42, completion_tokens: ANSWER_WORDS.length, total_tokens: 42 + ANSWER_WORDS.length },
    }),
  );
  return [...chunks.map((c) => Buffer.from(`data: ${c}\n\n`)), Buffer.from('data: [DONE]\n\n')];
}

const SSE_CHUNKS = buildSseChunks();
const MODELS = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model', created: 1735689600, owned_by: 'bench' }] }));
const STREAM_TRUE = /"stream"\s*:\s*true/;
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(COMPLETION.length) };

function sendSse(res: http.ServerResponse, gapMs: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (gapMs <= 0) {
    for (let i = 0; i < SSE_CHUNKS.length - 1; i++) res.write(SSE_CHUNKS[i]);
    res.end(SSE_CHUNKS[SSE_CHUNKS.length - 1]);
    return;
  }
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i === SSE_CHUNKS.length - 1) {
      res.end(SSE_CHUNKS[i]);
      return;
    }
    res.write(SSE_CHUNKS[i++]);
    setTimeout(next, gapMs);
  };
  next();
}

/** Create (not start) the fake upstream server. */
export function createUpstream(opts: UpstreamOptions): http.Server {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 65_000 }, (req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'POST' && url.endsWith('/chat/completions')) {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = parts.length === 1 ? parts[0].toString('latin1') : Buffer.concat(parts).toString('latin1');
        const stream = STREAM_TRUE.test(body);
        const reply = (): void => {
          if (stream) sendSse(res, opts.sseGapMs);
          else {
            res.writeHead(200, JSON_HEADERS);
            res.end(COMPLETION);
          }
        };
        if (opts.delayMs > 0) setTimeout(reply, opts.delayMs);
        else reply();
      });
      return;
    }
    if (req.method === 'GET' && (url === '/v1/models' || url === '/models')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MODELS.length) });
      res.end(MODELS);
      return;
    }
    if (req.method === 'GET' && (url === '/healthz' || url === '/health' || url === '/')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
      return;
    }
    req.resume();
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}

/** Number of `data:` events (including [DONE]) in one streamed answer, for client-side checks. */
export const SSE_EVENT_COUNT = SSE_CHUNKS.length;

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      delay: { type: 'string', default: '0' },
      'sse-gap': { type: 'string', default: '0' },
    },
  });
  const server = createUpstream({ port: Number(values.port), delayMs: Number(values.delay), sseGapMs: Number(values['sse-gap']) });
  server.listen(Number(values.port), '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    process.stdout.write(JSON.stringify({ msg: 'listening', port }) + '\n');
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
