// Tests the every-endpoint fake upstream (test/helpers/openai-upstream.ts): its answers are valid against OpenAI's
// schemas (built directly, and as the official openai SDK receives them over HTTP), its Responses streams follow
// OpenAI's event order, and it records schema violations and leaked policy fields in what it receives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import {
  chatChunks, chatCompletion, completionAnswer, completionChunks, embeddingAnswer, embeddingVector, FAKE_ANSWER, FAKE_REASONING,
  functionArguments, modelList, responseAnswer, responseEvents, startOpenAIUpstream, type OpenAIUpstream,
} from './openai-upstream.ts';
import { validateOpenAI, type OpenAISchemaName } from './openai-schema.ts';
import { parseSseText, sseJson } from './sse-text.ts';

const TOOL = { type: 'function', name: 'save_note', description: 'Saves a note', parameters: { type: 'object', properties: { note: { type: 'string' } }, required: ['note'] }, strict: true };

const expectValid = (schema: OpenAISchemaName, value: unknown, what: string) => expect(validateOpenAI(schema, value).errors, what).toEqual([]);

describe('answers are spec-valid', () => {
  const cases: { note: string; schema: OpenAISchemaName; values: () => unknown[] }[] = [
    { note: 'chat completion, n = 1 and n = 2', schema: 'CreateChatCompletionResponse', values: () => [chatCompletion({ model: 'm', messages: [] }, 'Hi'), chatCompletion({ model: 'm', n: 2 }, 'Hi')] },
    { note: 'chat chunks with a usage chunk', schema: 'CreateChatCompletionStreamResponse', values: () => chatChunks({ model: 'm', n: 2, stream_options: { include_usage: true } }, 'Hello there', 3) },
    { note: 'Response: reasoning, message and function call', schema: 'Response', values: () => [responseAnswer({ model: 'm', input: 'hi', tools: [TOOL] }, 'Hi', 'Think'), responseAnswer({ model: 'm', input: 'hi', instructions: 'Be brief' }, 'Hi', null)] },
    { note: 'Responses events, completed / failed / error endings', schema: 'ResponseStreamEvent', values: () => [
      ...responseEvents({ model: 'm', input: 'hi', tools: [TOOL] }, 'Hello there', 'Think hard', 4),
      ...responseEvents({ model: 'm', input: 'hi' }, 'Hello', null, 2, 1, 'failed'),
      ...responseEvents({ model: 'm', input: 'hi' }, 'Hello', 'x', 2, 1, 'error'),
    ] },
    { note: 'embeddings as floats, strings and token arrays', schema: 'CreateEmbeddingResponse', values: () => [embeddingAnswer({ model: 'e', input: 'one' }, 8), embeddingAnswer({ model: 'e', input: [[1, 2], [3]], dimensions: 4 }, 8)] },
    { note: 'legacy completion: string, strings with n = 2, token array, echo', schema: 'CreateCompletionResponse', values: () => [
      completionAnswer({ model: 'm', prompt: 'Say' }, 'Hi'), completionAnswer({ model: 'm', prompt: ['a', 'b'], n: 2 }, 'Hi'),
      completionAnswer({ model: 'm', prompt: [1, 2, 3] }, 'Hi'), completionAnswer({ model: 'm', prompt: 'Say ', echo: true }, 'Hi')] },
    { note: 'legacy completion chunks (finish_reason null until the last)', schema: 'CreateCompletionStreamResponse', values: () => completionChunks({ model: 'm', prompt: ['a', 'b'], stream_options: { include_usage: true } }, 'Hello', 2) },
    { note: 'model list', schema: 'ListModelsResponse', values: () => [modelList(['a', 'b'])] },
  ];
  it.each(cases)('$note', ({ schema, values }) => {
    const all = values();
    expect(all.length).toBeGreaterThan(0);
    for (const [i, v] of all.entries()) expectValid(schema, v, `${schema} #${i}`);
  });
});

describe('Responses event streams', () => {
  const events = responseEvents({ model: 'm', input: 'hi', tools: [TOOL] }, 'Hello there', 'Think hard', 4);

  it('follow OpenAI order: created, in_progress, each item added/parts/deltas/done, completed', () => {
    const types = events.map((e) => e.type);
    expect(types).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done', 'response.reasoning_summary_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added',
      ...Array(Math.ceil(functionArguments('Hello there').length / 4)).fill('response.function_call_arguments.delta'),
      'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  });

  it('deltas add up to the done texts, and the completed Response carries usage', () => {
    const join = (type: string) => events.filter((e) => e.type === type).map((e) => e.delta).join('');
    expect(join('response.output_text.delta')).toBe('Hello there');
    expect(join('response.reasoning_summary_text.delta')).toBe('Think hard');
    expect(join('response.function_call_arguments.delta')).toBe(JSON.stringify({ note: 'Hello there' }));
    const done = events.find((e) => e.type === 'response.function_call_arguments.done')!;
    expect(done).toMatchObject({ name: 'save_note', arguments: JSON.stringify({ note: 'Hello there' }) });
    const completed = events.at(-1)!.response as Record<string, any>;
    expect(completed.status).toBe('completed');
    expect(completed.usage).toMatchObject({ output_tokens_details: { reasoning_tokens: 2 } });
    expect(completed.usage.total_tokens).toBe(completed.usage.input_tokens + completed.usage.output_tokens);
  });

  it('the local-answer sequence of docs/notes/openai-endpoints.md is spec-valid with a policy block and zero usage', () => {
    const local = responseEvents({ model: 'm', input: 'hi' }, 'Sorry, I cannot help with that.', null, 1000);
    expect(local.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    const policy = { policy_id: 'p', decision: 'refuse', effective_decision: 'refuse', reason_code: 'REFUSE' };
    const zero = { input_tokens: 0, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
    const completed: Record<string, unknown> = { ...local.at(-1)!, policy, response: { ...(local.at(-1)!.response as object), usage: zero, policy } };
    for (const e of [...local.slice(0, -1), completed]) expectValid('ResponseStreamEvent', e, String(e.type));
    expectValid('Response', completed.response, 'the non-streamed local answer');
  });

  it('a failed or errored stream stops after the first text delta', () => {
    expect(responseEvents({ model: 'm', input: 'hi' }, 'Hello', null, 2, 1, 'failed').map((e) => e.type).slice(-2)).toEqual(['response.output_text.delta', 'response.failed']);
    expect(responseEvents({ model: 'm', input: 'hi' }, 'Hello', null, 2, 1, 'error').map((e) => e.type).slice(-2)).toEqual(['response.output_text.delta', 'error']);
  });
});

describe('over HTTP with the official openai SDK', () => {
  let up: OpenAIUpstream;
  let client: OpenAI;
  beforeAll(async () => {
    up = await startOpenAIUpstream({ models: ['fake-model', 'fake-embed'] });
    client = new OpenAI({ baseURL: up.baseUrl, apiKey: 'sk-test', maxRetries: 0 });
  });
  afterAll(async () => { await up?.close(); });

  it('responses.create: a spec-valid Response the SDK reads (output_text)', async () => {
    const r = await client.responses.create({ model: 'fake-model', instructions: 'Be brief', input: [{ role: 'user', content: 'Hi' }] });
    expect(r.output_text).toBe(FAKE_ANSWER);
    expectValid('Response', JSON.parse(JSON.stringify({ ...r, output_text: undefined })), 'Response');
    expect(r.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
  });

  it('responses.create with stream: true: the SDK iterates every event, each spec-valid', async () => {
    const stream = await client.responses.create({ model: 'fake-model', input: 'Hi', stream: true, tools: [TOOL as OpenAI.Responses.FunctionTool] });
    const seen: Record<string, any>[] = [];
    for await (const ev of stream) seen.push(ev);
    for (const ev of seen) expectValid('ResponseStreamEvent', ev, ev.type);
    expect(seen[0]!.type).toBe('response.created');
    expect(seen.at(-1)!.type).toBe('response.completed');
    expect(seen.filter((e) => e.type === 'response.reasoning_summary_text.delta').map((e) => e.delta).join('')).toBe(FAKE_REASONING);
    expect(seen.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('')).toBe(functionArguments(FAKE_ANSWER));
  });

  it('the Responses SSE names every event after its type and ends without [DONE]', async () => {
    const r = await fetch(`${up.baseUrl}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'fake-model', input: 'Hi', stream: true }) });
    const messages = parseSseText(await r.text());
    expect(messages.length).toBeGreaterThan(10);
    for (const m of messages) expect(m.event).toBe(JSON.parse(m.data).type);
    expect(messages.some((m) => m.data === '[DONE]')).toBe(false);
  });

  it('embeddings.create: the SDK asks for base64 and decodes the vectors the fake computed', async () => {
    const r = await client.embeddings.create({ model: 'fake-embed', input: ['first', 'second'] });
    expect(up.received.at(-1)!.body.encoding_format).toBe('base64');
    expect(r.data.map((d) => d.embedding)).toEqual([embeddingVector('first', 8), embeddingVector('second', 8)]);
    // What OpenAI's schema describes (float arrays) is what the fake answers when no encoding is asked for.
    const raw = await (await fetch(`${up.baseUrl}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'fake-embed', input: 'x' }) })).json();
    expectValid('CreateEmbeddingResponse', raw, 'float embeddings');
  });

  it('completions.create, JSON and streamed: spec-valid, the stream adds up to the answer', async () => {
    const r = await client.completions.create({ model: 'fake-model', prompt: ['Say hi', 'Say bye'], n: 2 });
    expectValid('CreateCompletionResponse', r, 'completion');
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    const stream = await client.completions.create({ model: 'fake-model', prompt: 'Say hi', stream: true, stream_options: { include_usage: true } });
    const chunks: Record<string, any>[] = [];
    for await (const c of stream) chunks.push(c);
    for (const c of chunks) expectValid('CreateCompletionStreamResponse', c, 'completion chunk');
    expect(chunks.flatMap((c) => c.choices.map((x: { text: string }) => x.text)).join('')).toBe(FAKE_ANSWER);
    expect(chunks.at(-1)!.usage).toBeDefined();
  });

  it('chat.completions.create, JSON and streamed: spec-valid', async () => {
    const r = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'Hi' }] });
    expectValid('CreateChatCompletionResponse', r, 'chat completion');
    const stream = await client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    for await (const c of stream) { expectValid('CreateChatCompletionStreamResponse', c, 'chunk'); text += c.choices[0]?.delta?.content ?? ''; }
    expect(text).toBe(FAKE_ANSWER);
  });

  it('models.list and models.retrieve; an unknown model is an OpenAI-shaped 404', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['fake-model', 'fake-embed']);
    expectValid('Model', await client.models.retrieve('fake-embed'), 'model');
    const r = await fetch(`${up.baseUrl}/models/nope`);
    expect(r.status).toBe(404);
    expectValid('ErrorResponse', await r.json(), '404 body');
  });

  it('everything the SDK sent above was spec-valid and carried no policy field', () => {
    expect(up.received.length).toBeGreaterThanOrEqual(10);
    expect(up.problems()).toEqual([]);
  });
});

describe('request checks and failure models', () => {
  let up: OpenAIUpstream;
  beforeAll(async () => { up = await startOpenAIUpstream({ pieceChars: 5 }); });
  afterAll(async () => { await up?.close(); });
  const post = (path: string, body: unknown, id: string, type = 'application/json') =>
    fetch(`${up.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': type, 'x-request-id': id }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('records schema violations and leaked policy fields, and still answers', async () => {
    const r = await post('/chat/completions', { model: 'fake-model', messages: 'Hi', policy_id: 'demo', policy_user: 'u1' }, 'bad-1');
    expect(r.status).toBe(200);
    expect(up.problems().filter((p) => p.includes('[bad-1]'))).toEqual(expect.arrayContaining([
      'POST /v1/chat/completions [bad-1]: /messages: must be array',
      'POST /v1/chat/completions [bad-1]: policy field "policy_id" reached the upstream',
      'POST /v1/chat/completions [bad-1]: policy field "policy_user" reached the upstream',
    ]));
    await post('/responses', { model: 'fake-model', input: [{ role: 'robot', content: 'Hi' }] }, 'bad-2');
    expect(up.problems().some((p) => p.startsWith('POST /v1/responses [bad-2]: ') && p.includes('role'))).toBe(true);
    await post('/embeddings', { model: 'e' }, 'bad-3');
    expect(up.problems()).toContain("POST /v1/embeddings [bad-3]: (root): must have required property 'input'");
  });

  it('a body that is not JSON is a violation and an OpenAI-shaped 400', async () => {
    const r = await post('/completions', '{"model":', 'bad-4', 'text/plain');
    expect(r.status).toBe(400);
    expect(validateOpenAI('ErrorResponse', await r.json()).ok).toBe(true);
    expect(up.problems().filter((p) => p.includes('[bad-4]'))).toEqual([
      'POST /v1/completions [bad-4]: content-type is "text/plain", not application/json',
      'POST /v1/completions [bad-4]: body is not JSON',
    ]);
  });

  it('an unknown path is an OpenAI-shaped 404', async () => {
    const r = await post('/assistants', {}, 'x-1');
    expect(r.status).toBe(404);
    expect(validateOpenAI('ErrorResponse', await r.json()).ok).toBe(true);
  });

  it.each(['/chat/completions', '/responses', '/embeddings', '/completions'])('fail-500 and fail-400 on %s answer spec-valid errors', async (path) => {
    for (const [model, status] of [['fail-500', 500], ['fail-400', 400]] as const) {
      const r = await post(path, { model, input: 'x', prompt: 'x', messages: [] }, `fail-${path}`);
      expect(r.status).toBe(status);
      expect(validateOpenAI('ErrorResponse', await r.json()).ok).toBe(true);
    }
  });

  it('split-sse writes the same Responses events as an unsplit stream', async () => {
    const body = (model: string) => ({ model, input: 'Hi', stream: true });
    const whole = sseJson(await (await post('/responses', body('fake-model'), 's-1')).text());
    const split = sseJson(await (await post('/responses', body('split-sse'), 's-2')).text());
    const norm = (events: Record<string, any>[]) => JSON.parse(JSON.stringify(events).replaceAll(/_fake_\d+/g, '_fake_N').replaceAll('"split-sse"', '"fake-model"'));
    expect(norm(split)).toEqual(norm(whole));
    expect(split.length).toBeGreaterThan(10);
  });

  it('stream-failed and stream-error end a Responses stream with response.failed / error (each spec-valid)', async () => {
    for (const [model, last] of [['stream-failed', 'response.failed'], ['stream-error', 'error']] as const) {
      const events = sseJson(await (await post('/responses', { model, input: 'Hi', stream: true }, model)).text());
      expect(events.at(-1)!.type).toBe(last);
      for (const e of events) expectValid('ResponseStreamEvent', e, e.type);
    }
  });
});
