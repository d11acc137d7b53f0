// A fast fake OpenAI-compatible upstream for the benchmarks (loopback only, keep-alive): pre-serialised JSON
// chat completions with `usage`, SSE streams of a few chunks ending in `data: [DONE]`, the same answer as a Response
// (POST /v1/responses: JSON, or the Responses event stream ending with response.completed), and GET /v1/models.
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

/** The same answer as a Response (`/v1/responses`), pre-serialised: the JSON body and the events of its stream. */
function buildResponse(): { json: Buffer; events: Buffer[] } {
  const text = ANSWER_WORDS.join(' ');
  const part = { type: 'output_text', text, annotations: [], logprobs: [] };
  const message = { type: 'message', id: 'msg_bench0000', status: 'completed', role: 'assistant', content: [part] };
  const usage = { input_tokens: 42, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: ANSWER_WORDS.length, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 42 + ANSWER_WORDS.length };
  const resp = (done: boolean) => ({
    id: 'resp_bench0000', object: 'response', created_at: 1735689600, status: done ? 'completed' : 'in_progress', error: null, incomplete_details: null,
    instructions: null, model: 'bench-model', output: done ? [message] : [], parallel_tool_calls: true, temperature: 1, top_p: 1,
    tool_choice: 'auto', tools: [], metadata: {}, ...(done ? { usage } : {}),
  });
  const at = { item_id: 'msg_bench0000', output_index: 0, content_index: 0 };
  const events: Record<string, unknown>[] = [
    { type: 'response.created', response: resp(false) },
    { type: 'response.output_item.added', output_index: 0, item: { ...message, status: 'in_progress', content: [] } },
    { type: 'response.content_part.added', ...at, part: { ...part, text: '' } },
  ];
  const per = Math.ceil(ANSWER_WORDS.length / 6);
  for (let i = 0; i < ANSWER_WORDS.length; i += per) {
    events.push({ type: 'response.output_text.delta', ...at, delta: (i === 0 ? '' : ' ') + ANSWER_WORDS.slice(i, i + per).join(' '), logprobs: [] });
  }
  events.push({ type: 'response.output_text.done', ...at, text, logprobs: [] }, { type: 'response.content_part.done', ...at, part },
    { type: 'response.output_item.done', output_index: 0, item: message }, { type: 'response.completed', response: resp(true) });
  return {
    json: Buffer.from(JSON.stringify(resp(true))),
    events: events.map((e, i) => Buffer.from(`event: ${String(e.type)}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`)),
  };
}

const RESPONSE = buildResponse();
const MODELS = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model', created: 1735689600, owned_by: 'bench' }] }));
const STREAM_TRUE = /"stream"\s*:\s*true/;
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(COMPLETION.length) };

function sendSse(res: http.ServerResponse, gapMs: number, chunks: readonly Buffer[] = SSE_CHUNKS): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (gapMs <= 0) {
    for (let i = 0; i < chunks.length - 1; i++) res.write(chunks[i]);
    res.end(chunks[chunks.length - 1]);
    return;
  }
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i === chunks.length - 1) {
      res.end(chunks[i]);
      return;
    }
    res.write(chunks[i++]);
    setTimeout(next, gapMs);
  };
  next();
}

/** Create (not start) the fake upstream server. */
export function createUpstream(opts: UpstreamOptions): http.Server {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 65_000 }, (req, res) => {
    const url = req.url ?? '/';
    const responses = url.endsWith('/responses');
    if (req.method === 'POST' && (responses || url.endsWith('/chat/completions'))) {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = parts.length === 1 ? parts[0].toString('latin1') : Buffer.concat(parts).toString('latin1');
        const stream = STREAM_TRUE.test(body);
        const reply = (): void => {
          if (stream) sendSse(res, opts.sseGapMs, responses ? RESPONSE.events : SSE_CHUNKS);
          else if (responses) {
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(RESPONSE.json.length) });
            res.end(RESPONSE.json);
          } else {
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
