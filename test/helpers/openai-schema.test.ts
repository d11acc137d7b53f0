// Tests the OpenAI spec fixture and its validator (test/helpers/openai-schema.ts): provenance and completeness of the
// fixture, each adaptation ajv needs, readable errors, the spec's own examples (with every place where the spec's
// examples and schemas disagree listed exactly), hand-written valid objects and broken ones.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { adaptOpenAPISchemas, assertOpenAI, openAIAdaptations, openAISpecSource, validateOpenAI, type OpenAISchemaName } from './openai-schema.ts';
import { collectExamples, collectSchemaClosure, ROOT_SCHEMAS, type OperationExample } from '../fixtures/openai-openapi/generate.ts';

const FIXTURE_DIR = new URL('../fixtures/openai-openapi/', import.meta.url);
const schemasDoc = JSON.parse(readFileSync(new URL('schemas.json', FIXTURE_DIR), 'utf8'));
const examples = JSON.parse(readFileSync(new URL('examples.json', FIXTURE_DIR), 'utf8')).examples as OperationExample[];
const SCHEMAS = schemasDoc.components.schemas as Record<string, any>;

describe('the fixture', () => {
  it('names its source, and SOURCES.md names the same repository, path and commit', () => {
    const src = openAISpecSource();
    expect(src).toMatchObject({ repository: 'openai/openai-openapi', path: 'openapi.yaml', openapi: '3.1.0' });
    expect(src.commit).toMatch(/^[0-9a-f]{40}$/);
    const sources = readFileSync(new URL('SOURCES.md', FIXTURE_DIR), 'utf8');
    for (const s of [src.repository, src.path, src.commit, src.date]) expect(sources).toContain(s);
  });

  it('holds exactly the roots and everything they reference (every $ref resolves inside it)', () => {
    expect(schemasDoc['x-roots']).toEqual([...ROOT_SCHEMAS]);
    expect(collectSchemaClosure(SCHEMAS, ROOT_SCHEMAS)).toEqual(Object.keys(SCHEMAS).sort());
  });

  it('keeps the documented examples of every endpoint the gateway serves', () => {
    const byEndpoint = Object.groupBy(examples, (e) => `${e.method.toUpperCase()} ${e.path}`);
    expect(Object.keys(byEndpoint).sort()).toEqual(['GET /models', 'POST /chat/completions', 'POST /completions', 'POST /embeddings', 'POST /responses']);
    // The Responses streaming example is a real event sequence.
    const stream = examples.find((e) => e.path === '/responses' && e.title === 'Streaming')!;
    expect((stream.events as { type: string }[]).map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
      'response.output_item.done', 'response.completed',
    ]);
    // Three answers in the spec are not JSON (an elided vector, trailing and missing commas): kept as text, not repaired.
    expect(examples.flatMap((e) => e.unparsed)).toHaveLength(3);
  });
});

describe('the generator', () => {
  const spec = {
    paths: {
      '/chat/completions': { post: { 'x-oaiMeta': { examples: [{ title: 'Default', request: { curl: `curl https://x \\\n  -d '{"model": "m", "messages": [{"role": "user", "content": "it'\\''s"}]}'` }, response: '{"id": "c"}' }] } } },
      '/responses': { post: { 'x-oaiMeta': { examples: { title: 'Streaming', request: { curl: 'curl x' }, response: 'event: response.created\ndata: {"type":"response.created"}\n\n...\n\nevent: response.completed\ndata: {"type":"response.completed"}\n' } } } },
      '/embeddings': { post: { 'x-oaiMeta': { examples: [{ request: { curl: "curl -d '{bad'" }, response: '{"object": "list", "data": [0.1, ....]}' }] } } },
      '/completions': { post: {} },
      '/models': { get: {} },
    },
  };

  it('collects the closure of $refs and refuses a dangling one', () => {
    const s = { A: { properties: { b: { $ref: '#/components/schemas/B' } } }, B: { items: { $ref: '#/components/schemas/A' } }, C: {} };
    expect(collectSchemaClosure(s, ['A'])).toEqual(['A', 'B']);
    expect(() => collectSchemaClosure({ A: { $ref: '#/components/schemas/Z' } }, ['A'])).toThrow(/"Z" is not in the spec/);
  });

  it('parses curl bodies (shell-quoted apostrophes included), JSON answers and SSE streams; keeps bad JSON as text', () => {
    const out = collectExamples(spec as never);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ title: 'Default', request: { model: 'm', messages: [{ role: 'user', content: "it's" }] }, response: { id: 'c' }, events: null, unparsed: [] });
    expect(out[1]).toMatchObject({ title: 'Streaming', request: null, response: null, events: [{ type: 'response.created' }, { type: 'response.completed' }], unparsed: [] });
    expect(out[2]!.request).toBeNull();
    expect(out[2]!.unparsed).toEqual(['{bad', '{"object": "list", "data": [0.1, ....]}']);
  });
});

describe('adapting the spec for ajv', () => {
  it('counts every rewrite and leaves its input unchanged', () => {
    const before = JSON.stringify(schemasDoc);
    const { adaptations } = adaptOpenAPISchemas(schemasDoc);
    expect(JSON.stringify(schemasDoc)).toBe(before);
    expect(adaptations).toEqual(openAIAdaptations());
    expect(adaptations).toEqual({ nullableTyped: 31, nullableWrapped: 4, nullableFalse: 0, discriminatorDispatch: 36, discriminatorDropped: 3, oneOfAsAnyOf: 35, recursiveRef: 1 });
  });

  const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'x' }, ...choice }], ...extra });

  it('nullable next to a type and an enum: null is allowed, other values still checked', () => {
    expect(validateOpenAI('CreateChatCompletionStreamResponse', chunk({ finish_reason: null }))).toEqual({ ok: true, errors: [] });
    expect(validateOpenAI('CreateChatCompletionStreamResponse', chunk({ finish_reason: 'done' })).errors)
      .toEqual(['/choices/0/finish_reason: must be one of "stop", "length", "tool_calls", "content_filter", "function_call", null']);
  });

  it('nullable next to a $ref: null is allowed, the referenced schema still applies', () => {
    expect(validateOpenAI('CreateChatCompletionStreamResponse', chunk({ finish_reason: null }, { usage: null })).ok).toBe(true);
    expect(validateOpenAI('CreateChatCompletionStreamResponse', chunk({ finish_reason: null }, { usage: { prompt_tokens: 1 } })).errors)
      .toContain("/usage: must have required property 'completion_tokens'");
  });

  it('a discriminated union reports the errors of the branch its tag names, not of every branch', () => {
    const r = validateOpenAI('ResponseStreamEvent', { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, sequence_number: 3, logprobs: [] });
    expect(r.errors).toEqual(["(root): must have required property 'delta'"]);
    const unknown = validateOpenAI('ResponseStreamEvent', { type: 'response.output_text.delta_typo', sequence_number: 1 });
    expect(unknown.errors).toHaveLength(1);
    expect(unknown.errors[0]).toMatch(/^\/type: must be one of "response\.audio\.delta", .*, … \(58 values\)$/);
    expect(validateOpenAI('ResponseStreamEvent', 'response.completed').errors).toEqual(['(root): must be object']);
  });

  it('oneOf is read as a union: a {role, content} input message matches two branches and is valid', () => {
    const body = { model: 'gpt-5', input: [{ role: 'user', content: 'Hi' }, { role: 'user', content: [{ type: 'input_text', text: 'there' }] }] };
    expect(validateOpenAI('CreateResponse', body)).toEqual({ ok: true, errors: [] });
  });

  it('$recursiveRef: compound file-search filters nest, and a bad nested filter is found', () => {
    const tool = (inner: unknown) => ({ model: 'gpt-5', input: 'q', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'], filters: { type: 'and', filters: [{ type: 'eq', key: 'a', value: 1 }, inner] } }] });
    expect(validateOpenAI('CreateResponse', tool({ type: 'or', filters: [{ type: 'ne', key: 'b', value: 'x' }] })).ok).toBe(true);
    const bad = validateOpenAI('CreateResponse', tool({ type: 'xor', filters: [] }));
    expect(bad.ok).toBe(false);
    expect(bad.errors).toContain('/tools/0/filters/filters/1/type: must be one of "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "and", "or"');
  });
});

/**
 * Where OpenAI's documented examples disagree with OpenAI's own schemas (the examples show older answers). Each line
 * is a cause: the example lacks a field the schema requires, or has `null` where the schema says string/object.
 * Every other example must validate; an example listed here must fail with at least these lines.
 */
export const SPEC_EXAMPLE_MISMATCHES: Readonly<Record<string, readonly string[]>> = {
  'POST /chat/completions · Functions · response': ["/choices/0/message: must have required property 'refusal'"],
  'POST /chat/completions · Logprobs · response': ["/choices/0/message: must have required property 'refusal'", "/choices/0/logprobs: must have required property 'refusal'", '/system_fingerprint: must be string'],
  'POST /responses · Text input · response': ["/output/0/content/0: must have required property 'logprobs'", '/user: must be string'],
  'POST /responses · Image input · request': ["/input/0/content/1: must have required property 'detail'"],
  'POST /responses · Image input · response': ["/output/0/content/0: must have required property 'logprobs'", '/user: must be string'],
  'POST /responses · File input · response': ['/user: must be string'],
  'POST /responses · Web search · response': ["/output/1/content/0: must have required property 'logprobs'", "/output/0: must have required property 'action'", '/user: must be string'],
  'POST /responses · File search · response': ["/output/1/content/0: must have required property 'logprobs'", '/user: must be string'],
  'POST /responses · Streaming · event 0': ['/response/user: must be string', '/response/usage: must be object', "(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 1': ['/response/user: must be string', '/response/usage: must be object', "(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 2': ["(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 3': ["/part: must have required property 'logprobs'", "(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 4': ["(root): must have required property 'sequence_number'", "(root): must have required property 'logprobs'"],
  'POST /responses · Streaming · event 5': ["(root): must have required property 'sequence_number'", "(root): must have required property 'logprobs'"],
  'POST /responses · Streaming · event 6': ["/part: must have required property 'logprobs'", "(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 7': ["/item/content/0: must have required property 'logprobs'", "(root): must have required property 'sequence_number'"],
  'POST /responses · Streaming · event 8': ["/response/output/0/content/0: must have required property 'logprobs'", '/response/user: must be string', "/response/usage: must have required property 'input_tokens_details'", "(root): must have required property 'sequence_number'"],
  'POST /responses · Functions · request': ["/tools/0: must have required property 'strict'"],
  'POST /responses · Functions · response': ['/user: must be string', "/usage: must have required property 'input_tokens_details'"],
  'POST /responses · Reasoning · response': ["/output/0/content/0: must have required property 'logprobs'", '/user: must be string'],
  // Schema-level examples (x-oaiMeta.example of the event schemas).
  'ResponseCompletedEvent': ["/response/output/0/content/0: must have required property 'logprobs'", "/response/output/0: must have required property 'status'", '/response/user: must be string', "/response/usage: must have required property 'input_tokens_details'", "/response: must have required property 'parallel_tool_calls'"],
  'ResponseContentPartAddedEvent': ["/part: must have required property 'logprobs'"],
  'ResponseContentPartDoneEvent': ["/part: must have required property 'logprobs'"],
  'ResponseCreatedEvent': ['/response/user: must be string', '/response/usage: must be object'],
  'ResponseCustomToolCallInputDeltaEvent': ["(root): must have required property 'sequence_number'"],
  'ResponseCustomToolCallInputDoneEvent': ["(root): must have required property 'sequence_number'"],
  'ResponseFailedEvent': ['/response/user: must be string', '/response/usage: must be object', "/response: must have required property 'parallel_tool_calls'", "(root): must have required property 'sequence_number'"],
  'ResponseInProgressEvent': ['/response/user: must be string', '/response/usage: must be object'],
  'ResponseIncompleteEvent': ['/response/incomplete_details/reason: must be one of "max_output_tokens", "content_filter"', '/response/user: must be string', '/response/usage: must be object', "/response: must have required property 'parallel_tool_calls'"],
  'ResponseOutputItemDoneEvent': ["/item/content/0: must have required property 'logprobs'"],
  'ResponseQueuedEvent': ['/response/created_at: must be number', "/response: must have required property 'object'", "/response: must have required property 'output'"],
  'ResponseTextDeltaEvent': ["(root): must have required property 'logprobs'"],
  'ResponseTextDoneEvent': ["(root): must have required property 'logprobs'"],
};

interface Sample { readonly note: string; readonly key: string; readonly schema: string; readonly value: unknown }

/** Every parsed example of the fixture: the endpoints' requests, answers and stream events, and the schemas' own. */
function specSamples(): Sample[] {
  const out: Sample[] = [];
  for (const e of examples) {
    const k = `${e.method.toUpperCase()} ${e.path} · ${e.title}`;
    if (e.request && e.requestSchema) out.push({ note: `${k} · request`, key: `${k} · request`, schema: e.requestSchema, value: e.request });
    if (e.response) out.push({ note: `${k} · response`, key: `${k} · response`, schema: e.responseSchema, value: e.response });
    for (const [i, ev] of (e.events ?? []).entries()) out.push({ note: `${k} · event ${i}`, key: `${k} · event ${i}`, schema: e.streamSchema!, value: ev });
  }
  for (const [name, s] of Object.entries(SCHEMAS)) {
    const text = s['x-oaiMeta']?.example;
    if (typeof text !== 'string') continue;
    let value: unknown;
    try { value = JSON.parse(text); } catch { continue; }
    out.push({ note: `${name} (its own example)`, key: name, schema: name, value });
  }
  return out;
}

describe("the spec's own examples", () => {
  const samples = specSamples();

  it('there are enough of them to matter, for every endpoint and most stream events', () => {
    expect(samples.length).toBeGreaterThanOrEqual(80);
    const valid = samples.filter((s) => !(s.key in SPEC_EXAMPLE_MISMATCHES));
    expect(valid.length).toBeGreaterThanOrEqual(50);
    for (const name of ['ResponseReasoningSummaryTextDeltaEvent', 'ResponseFunctionCallArgumentsDoneEvent', 'ResponseOutputItemAddedEvent', 'ResponseErrorEvent', 'ResponseReasoningSummaryPartAddedEvent'])
      expect(valid.map((s) => s.key), name).toContain(name);
  });

  it('every listed mismatch still exists (so the list cannot go stale)', () => {
    const keys = new Set(samples.map((s) => s.key));
    for (const k of Object.keys(SPEC_EXAMPLE_MISMATCHES)) expect(keys, k).toContain(k);
  });

  it.each(samples)('$note', ({ key, schema, value }) => {
    const r = validateOpenAI(schema, value);
    const expected = SPEC_EXAMPLE_MISMATCHES[key];
    if (expected === undefined) expect(r.errors).toEqual([]);
    else {
      expect(r.ok).toBe(false);
      expect(r.errors).toEqual(expect.arrayContaining([...expected]));
    }
  });
});

// ---- hand-written objects: what a conforming gateway writes, and typical ways to get it wrong ----------------------

const completion = {
  id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'gpt-5',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};
const response = {
  id: 'resp_1', object: 'response', created_at: 1700000000, status: 'completed', error: null, incomplete_details: null,
  instructions: null, model: 'gpt-5', tools: [], tool_choice: 'auto', parallel_tool_calls: true, metadata: {}, temperature: 1, top_p: 1,
  output: [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hi', annotations: [], logprobs: [] }] }],
  usage: { input_tokens: 3, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 1, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 4 },
};

const VALID: readonly { note: string; schema: OpenAISchemaName; value: unknown }[] = [
  { note: 'a chat completion with refusal and logprobs null', schema: 'CreateChatCompletionResponse', value: completion },
  { note: 'a chat completion with an extra top-level policy block (the spec does not close the object)', schema: 'CreateChatCompletionResponse', value: { ...completion, policy: { decision: 'allow' } } },
  { note: 'a usage-only chunk', schema: 'CreateChatCompletionStreamResponse', value: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } } },
  { note: 'a Response with a message output', schema: 'Response', value: response },
  { note: 'a response.completed event', schema: 'ResponseStreamEvent', value: { type: 'response.completed', sequence_number: 9, response } },
  { note: 'a reasoning summary delta', schema: 'ResponseStreamEvent', value: { type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'Th', sequence_number: 4 } },
  { note: 'a function call arguments delta', schema: 'ResponseStreamEvent', value: { type: 'response.function_call_arguments.delta', item_id: 'fc_1', output_index: 1, delta: '{"a', sequence_number: 5 } },
  { note: 'an error event', schema: 'ResponseStreamEvent', value: { type: 'error', code: 'server_error', message: 'boom', param: null, sequence_number: 2 } },
  { note: 'an embeddings request with token arrays', schema: 'CreateEmbeddingRequest', value: { model: 'text-embedding-3-small', input: [[1, 2, 3], [4]] } },
  { note: 'an embeddings answer', schema: 'CreateEmbeddingResponse', value: { object: 'list', model: 'e', data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.2] }], usage: { prompt_tokens: 2, total_tokens: 2 } } },
  { note: 'a legacy completion request with a prompt array', schema: 'CreateCompletionRequest', value: { model: 'gpt-3.5-turbo-instruct', prompt: ['a', 'b'], n: 2 } },
  { note: 'a legacy completion stream chunk with finish_reason null (derived schema)', schema: 'CreateCompletionStreamResponse', value: { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ text: 'Hi', index: 0, logprobs: null, finish_reason: null }] } },
  { note: 'a model list', schema: 'ListModelsResponse', value: { object: 'list', data: [{ id: 'gpt-5', object: 'model', created: 1, owned_by: 'openai' }] } },
  { note: 'an error body', schema: 'ErrorResponse', value: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } } },
];

const INVALID: readonly { note: string; schema: OpenAISchemaName; value: unknown; errors: string[] }[] = [
  { note: 'a completion without logprobs and refusal (what the gateway writes today)', schema: 'CreateChatCompletionResponse',
    value: { ...completion, choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] },
    errors: ["/choices/0/message: must have required property 'refusal'", "/choices/0: must have required property 'logprobs'"] },
  { note: 'a completion whose role is wrong', schema: 'CreateChatCompletionResponse',
    value: { ...completion, choices: [{ ...completion.choices[0], message: { role: 'user', content: 'Hi', refusal: null } }] },
    errors: ['/choices/0/message/role: must be one of "assistant"'] },
  { note: 'a chunk with a string created', schema: 'CreateChatCompletionStreamResponse',
    value: { id: 'c', object: 'chat.completion.chunk', created: '1', model: 'm', choices: [] }, errors: ['/created: must be integer'] },
  { note: 'a Response whose output_text has no annotations', schema: 'Response',
    value: { ...response, output: [{ ...response.output[0], content: [{ type: 'output_text', text: 'Hi', logprobs: [] }] }] },
    errors: ["/output/0/content/0: must have required property 'annotations'"] },
  { note: 'a Response with usage in chat-completions names', schema: 'Response',
    value: { ...response, usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
    errors: ["/usage: must have required property 'input_tokens'", "/usage: must have required property 'output_tokens'"] },
  { note: 'an embeddings request without input', schema: 'CreateEmbeddingRequest', value: { model: 'e' }, errors: ["(root): must have required property 'input'"] },
  { note: 'an embeddings request with an empty list', schema: 'CreateEmbeddingRequest', value: { model: 'e', input: [] }, errors: ['/input: must NOT have fewer than 1 items'] },
  { note: 'a legacy completion whose final finish_reason is null', schema: 'CreateCompletionResponse',
    value: { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ text: 'Hi', index: 0, logprobs: null, finish_reason: null }] },
    errors: ['/choices/0/finish_reason: must be one of "stop", "length", "content_filter"'] },
  { note: 'a model without owned_by', schema: 'Model', value: { id: 'm', object: 'model', created: 1 }, errors: ["(root): must have required property 'owned_by'"] },
  { note: 'an error without param and code', schema: 'ErrorResponse', value: { error: { message: 'bad', type: 'x' } },
    errors: ["/error: must have required property 'param'", "/error: must have required property 'code'"] },
];

describe('hand-written objects', () => {
  it.each(VALID)('valid: $note', ({ schema, value }) => {
    expect(validateOpenAI(schema, value)).toEqual({ ok: true, errors: [] });
  });

  it.each(INVALID)('invalid: $note', ({ schema, value, errors }) => {
    const r = validateOpenAI(schema, value);
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual(expect.arrayContaining(errors));
  });

  it('assertOpenAI throws one message naming the value, the schema and every violation', () => {
    expect(() => assertOpenAI('ErrorResponse', { error: { message: 'bad', type: 'x' } }, 'the 401 body'))
      .toThrow("the 401 body is not a valid OpenAI ErrorResponse:\n  /error: must have required property 'param'\n  /error: must have required property 'code'");
    expect(() => assertOpenAI('ErrorResponse', { error: { message: 'ok', type: 'x', param: null, code: null } })).not.toThrow();
  });

  it('an unknown schema name is a mistake in the test, not a failed validation', () => {
    expect(() => validateOpenAI('ChatCompletionsResponse', {})).toThrow(/no schema "ChatCompletionsResponse"/);
  });
});
