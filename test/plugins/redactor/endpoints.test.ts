// The redactor on every endpoint besides chat: Responses answers (JSON, and event streams: output text, function-call
// arguments, reasoning summaries; split at every boundary = unsplit, held text released as a delta right before each
// `.done`, snapshots redacted uncounted), legacy completions (JSON and chunks), and request-scope redaction of Responses,
// embeddings and completions prompts. Driven through the compiled plugin's hooks and a real RequestContext.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ctxFor } from '../../helpers/ctx.ts';
import type { PluginHooks } from '../../../src/sdk/plugin.ts';
import type {
  ApiRequest, Endpoint, ResponseObject, ResponseStreamEvent, TextCompletion,
} from '../../../src/sdk/types.ts';
import { redactionKey, redactorPlugin } from '../../../plugins/redactor/index.ts';
import type { RequestCtx } from '../../../src/chain/request-context.ts';
import { validateOpenAI } from '../../helpers/openai-schema.ts';
import { compileRedactText } from './helpers.ts';

function hooksFor(body: string): PluginHooks {
  const { config, diagnostics } = compileRedactText(body, 'endpoints');
  expect(diagnostics).toEqual([]);
  return redactorPlugin.hooks(config!);
}

const hooks = hooksFor('redact both { email, phone, credit_card }');
/** The engine the hooks use, for the whole-text reference. */
const engine = compileRedactText('redact response { email, phone, credit_card }').config!.response!.engine;
const whole = (text: string, json = false) => engine.redact(text, { key: 'k', counts: {} }, json);

const ctxOf = (endpoint: Endpoint, req: Record<string, unknown>): RequestCtx => ctxFor({ model: 'm', ...req } as ApiRequest, { endpoint });

// ---- a Responses event stream with chosen delta boundaries -----------------------------------------------------

/** Splits `text` at the sorted cut positions. */
const split = (text: string, cuts: readonly number[]): string[] => {
  const out: string[] = [];
  let prev = 0;
  for (const c of [...cuts, text.length]) { if (c > prev) out.push(text.slice(prev, c)); prev = c; }
  return out.length ? out : [''];
};

/**
 * The events of a streamed Response whose reasoning summary, message text and function-call arguments arrive in the
 * given pieces, in OpenAI's order (as the fake upstream of the e2e tests sends them).
 */
function responseStream(summary: string[], text: string[], args: string[]): ResponseStreamEvent[] {
  const join = (xs: string[]) => xs.join('');
  const resp = (status: string, output: unknown[]) => ({
    id: 'resp_1', object: 'response', created_at: 1, status, model: 'm', output,
    ...(status === 'completed' ? { usage: { input_tokens: 3, output_tokens: 9, total_tokens: 12, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens_details: { reasoning_tokens: 2 } } } : {}),
  });
  const reasoning = { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: join(summary) }] };
  const message = { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: join(text), annotations: [], logprobs: [] }] };
  const call = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'note', arguments: join(args), status: 'completed' };
  const ev: ResponseStreamEvent[] = [];
  const push = (e: Omit<ResponseStreamEvent, 'sequence_number'>) => ev.push({ ...e, sequence_number: ev.length } as ResponseStreamEvent);
  push({ type: 'response.created', response: resp('in_progress', []) });
  push({ type: 'response.output_item.added', output_index: 0, item: { ...reasoning, summary: [] } });
  push({ type: 'response.reasoning_summary_part.added', item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } });
  for (const d of summary) push({ type: 'response.reasoning_summary_text.delta', item_id: 'rs_1', output_index: 0, summary_index: 0, delta: d });
  push({ type: 'response.reasoning_summary_text.done', item_id: 'rs_1', output_index: 0, summary_index: 0, text: join(summary) });
  push({ type: 'response.reasoning_summary_part.done', item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: join(summary) } });
  push({ type: 'response.output_item.done', output_index: 0, item: reasoning });
  push({ type: 'response.output_item.added', output_index: 1, item: { ...message, status: 'in_progress', content: [] } });
  push({ type: 'response.content_part.added', item_id: 'msg_1', output_index: 1, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
  for (const d of text) push({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 1, content_index: 0, delta: d, logprobs: [] });
  push({ type: 'response.output_text.done', item_id: 'msg_1', output_index: 1, content_index: 0, text: join(text), logprobs: [] });
  push({ type: 'response.content_part.done', item_id: 'msg_1', output_index: 1, content_index: 0, part: message.content[0] });
  push({ type: 'response.output_item.done', output_index: 1, item: message });
  push({ type: 'response.output_item.added', output_index: 2, item: { ...call, arguments: '', status: 'in_progress' } });
  for (const d of args) push({ type: 'response.function_call_arguments.delta', item_id: 'fc_1', output_index: 2, delta: d });
  push({ type: 'response.function_call_arguments.done', item_id: 'fc_1', output_index: 2, name: 'note', arguments: join(args) });
  push({ type: 'response.output_item.done', output_index: 2, item: call });
  push({ type: 'response.completed', response: resp('completed', [reasoning, message, call]) });
  return structuredClone(ev);
}

/** Runs events through the redactor as the gateway does: each event's hook, then what it inserted, then the event. */
function runEvents(ctx: RequestCtx, events: ResponseStreamEvent[]): ResponseStreamEvent[] {
  const out: ResponseStreamEvent[] = [];
  for (const e of events) {
    expect(hooks.onChunk!(e, ctx)).not.toBe('drop');
    out.push(...((ctx.takeEmitted() ?? []) as ResponseStreamEvent[]), e);
  }
  return out;
}

/** What a client reading the stream gets: each field's deltas joined, each done event's text, the final Response. */
function read(out: ResponseStreamEvent[]) {
  const deltas = (type: string) => out.filter((e) => e.type === type).map((e) => e.delta as string).join('');
  const done = (type: string, field: string) => out.find((e) => e.type === type)?.[field] as string;
  const final = out.at(-1)!.response as ResponseObject;
  const item = (type: string) => final.output.find((o) => o.type === type) as Record<string, any>;
  return {
    summary: deltas('response.reasoning_summary_text.delta'), summaryDone: done('response.reasoning_summary_text.done', 'text'),
    text: deltas('response.output_text.delta'), textDone: done('response.output_text.done', 'text'),
    args: deltas('response.function_call_arguments.delta'), argsDone: done('response.function_call_arguments.done', 'arguments'),
    finalText: item('message').content[0].text as string, finalArgs: item('function_call').arguments as string,
    finalSummary: item('reasoning').summary[0].text as string,
  };
}

const TEXT = 'Write to alice@example.com or call +1 415 555 0132; the card 4111 1111 1111 1111 was declined.';
const ARGS = JSON.stringify({ to: 'bob@example.com', note: 'card 4012-8888-8888-1881' });
const SUMMARY = 'The user wants carol@example.com contacted.';

describe('Responses streams', () => {
  it('the unsplit stream: every delta, done event and snapshot redacted; counts once per value', () => {
    const ctx = ctxOf('responses', { input: 'hi', stream: true });
    const got = read(runEvents(ctx, responseStream([SUMMARY], [TEXT], [ARGS])));
    expect(got).toEqual({
      summary: whole(SUMMARY), summaryDone: whole(SUMMARY), text: whole(TEXT), textDone: whole(TEXT),
      args: whole(ARGS, true), argsDone: whole(ARGS, true), finalText: whole(TEXT), finalArgs: whole(ARGS, true), finalSummary: whole(SUMMARY),
    });
    expect(got.text).toBe('Write to [EMAIL] or call [PHONE]; the card [CREDIT_CARD] was declined.');
    expect(JSON.parse(got.args)).toEqual({ to: '[EMAIL]', note: 'card [CREDIT_CARD]' });
    // Counted as the deltas carried them; the done events and snapshots repeat the text and are not counted again.
    expect(ctx.get(redactionKey)!.response).toEqual({ email: 3, phone: 1, credit_card: 2 });
  });

  it('split at every boundary = unsplit (output text, arguments, summary)', () => {
    const unsplit = read(runEvents(ctxOf('responses', { input: 'hi' }), responseStream([SUMMARY], [TEXT], [ARGS])));
    for (let k = 1; k < TEXT.length; k++) {
      const events = responseStream(split(SUMMARY, [Math.min(k, SUMMARY.length - 1)]), split(TEXT, [k]), split(ARGS, [Math.min(k, ARGS.length - 1)]));
      expect(read(runEvents(ctxOf('responses', { input: 'hi' }), events)), `cut at ${k}`).toEqual(unsplit);
    }
  });

  it('random multi-splits = unsplit, and nothing sensitive is ever released', () => {
    const value = fc.constantFrom('dave@example.org', '+44 20 7946 0958', '4111111111111111', '(312) 515-2239', 'x.y+z@mail.example.com');
    const filler = fc.constantFrom('the', 'answer', 'Größe', '価格', '😀', 'ok', ',', ' ', '\n', '{', '"');
    const textArb = fc.array(fc.oneof(value, filler), { minLength: 1, maxLength: 16 }).map((xs) => xs.join(' '));
    const cuts = (len: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 10 }).map((a) => a.filter((x) => x < len).sort((x, y) => x - y));
    fc.assert(fc.property(textArb.chain((t) => fc.tuple(fc.constant(t), cuts(t.length))), ([text, c]) => {
      const args = JSON.stringify({ text });
      const out = runEvents(ctxOf('responses', { input: 'hi' }), responseStream(split(text, c), split(text, c), split(args, c)));
      const got = read(out);
      expect(got.text).toBe(whole(text));
      expect(got.textDone).toBe(whole(text));
      expect(got.summary).toBe(whole(text));
      expect(got.args).toBe(whole(args, true));
      expect(got.finalArgs).toBe(got.args);
      expect(() => JSON.parse(got.args)).not.toThrow();
      for (const e of out) expect(JSON.stringify(e)).not.toMatch(/dave@example|4111111111111111|7946 0958|515-2239|mail\.example\.com/);
    }), { numRuns: 150 });
  });

  it('held text is released as one delta event right before its .done event, addressed to the same part, spec-valid', () => {
    const ctx = ctxOf('responses', { input: 'hi' });
    // The text ends inside a possible phone number: the engine must hold it until the part is done.
    const out = runEvents(ctx, responseStream(['ok'], ['Call me at +1 415 ', '555 0132'], ['{}']));
    const doneAt = out.findIndex((e) => e.type === 'response.output_text.done');
    const released = out[doneAt - 1]!;
    expect(released).toMatchObject({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 1, content_index: 0, logprobs: [] });
    expect(out.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('')).toBe('Call me at [PHONE]');
    expect(validateOpenAI('ResponseStreamEvent', released).errors).toEqual([]);
  });

  it('token logprobs (which spell out the raw text) are emptied', () => {
    const ctx = ctxOf('responses', { input: 'hi' });
    const ev: ResponseStreamEvent = { type: 'response.output_text.delta', item_id: 'm', output_index: 0, content_index: 0, delta: 'x', logprobs: [{ token: 'alice', logprob: -1, top_logprobs: [] }], sequence_number: 3 };
    expect(hooks.onChunk!(ev, ctx)).toBe('modified');
    expect(ev.logprobs).toEqual([]);
  });

  it('events without text pass untouched (no re-encoding)', () => {
    const ctx = ctxOf('responses', { input: 'hi' });
    for (const ev of [
      { type: 'response.in_progress', response: { id: 'r', object: 'response', output: [] }, sequence_number: 1 },
      { type: 'response.web_search_call.searching', item_id: 'ws', output_index: 0, sequence_number: 2 },
      { type: 'error', code: 'server_error', message: 'boom', param: null, sequence_number: 3 },
    ]) expect(hooks.onChunk!(ev, ctx)).toBe('pass');
  });
});

describe('Responses JSON answers', () => {
  it('output text, refusals, function-call arguments (still JSON) and reasoning are redacted, and counted', () => {
    const ctx = ctxOf('responses', { input: 'hi' });
    const body: ResponseObject = {
      id: 'resp_1', object: 'response', status: 'completed', output: [
        { type: 'reasoning', id: 'rs', summary: [{ type: 'summary_text', text: SUMMARY }] },
        { type: 'message', id: 'msg', role: 'assistant', status: 'completed', content: [
          { type: 'output_text', text: TEXT, annotations: [], logprobs: [{ token: 'x', logprob: 0, bytes: [], top_logprobs: [] }] },
          { type: 'refusal', refusal: 'I will not call +1 415 555 0132.' },
        ] },
        { type: 'function_call', id: 'fc', call_id: 'c', name: 'note', arguments: ARGS, status: 'completed' },
      ],
    };
    hooks.onResponse!(body, ctx);
    expect(ctx.responseChanged).toBe(true);
    const [r, m, f] = body.output as Record<string, any>[];
    expect(r!.summary[0].text).toBe(whole(SUMMARY));
    expect(m!.content[0]).toMatchObject({ text: whole(TEXT), logprobs: [] });
    expect(m!.content[1].refusal).toBe('I will not call [PHONE].');
    expect(JSON.parse(f!.arguments)).toEqual({ to: '[EMAIL]', note: 'card [CREDIT_CARD]' });
    expect(ctx.get(redactionKey)!.response).toEqual({ email: 3, phone: 2, credit_card: 2 });
  });

  it('JSON output (text.format json_schema) keeps the text valid JSON', () => {
    const ctx = ctxOf('responses', { input: 'hi', text: { format: { type: 'json_schema', name: 'x', schema: {} } } });
    const body: ResponseObject = { id: 'r', object: 'response', output: [{ type: 'message', content: [{ type: 'output_text', text: '{"mail":"a@example.com"}' }] }] };
    hooks.onResponse!(body, ctx);
    expect(JSON.parse((body.output[0]!.content as { text: string }[])[0]!.text)).toEqual({ mail: '[EMAIL]' });
  });

  it('embeddings answers are left alone (vectors)', () => {
    const ctx = ctxOf('embeddings', { input: 'a@example.com' });
    const body = { object: 'list' as const, model: 'm', data: [{ object: 'embedding', index: 0, embedding: [0.1] }] };
    hooks.onResponse!(body, ctx);
    expect(ctx.responseChanged).toBe(false);
  });
});

describe('legacy completions', () => {
  const completion = (texts: string[]): TextCompletion => ({
    id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm',
    choices: texts.map((text, index) => ({ index, text, logprobs: { tokens: ['x'] }, finish_reason: 'stop' })),
  });

  it('JSON: every choice text redacted, logprobs dropped', () => {
    const ctx = ctxOf('completions', { prompt: 'hi' });
    const body = completion([TEXT, 'mail dave@example.org']);
    hooks.onResponse!(body, ctx);
    expect(body.choices.map((c) => c.text)).toEqual([whole(TEXT), 'mail [EMAIL]']);
    expect(body.choices.map((c) => c.logprobs)).toEqual([null, null]);
  });

  it('streams: choices[].text split at every boundary = unsplit, flushed at finish_reason or at the end', () => {
    for (let k = 1; k < TEXT.length; k++) {
      const ctx = ctxOf('completions', { prompt: 'hi', stream: true });
      const pieces = split(TEXT, [k]);
      const chunks = pieces.map((p, i) => ({ ...completion([p]), choices: [{ index: 0, text: p, logprobs: null, finish_reason: i === pieces.length - 1 ? 'stop' : null }] }));
      let seen = '';
      for (const c of chunks) { hooks.onChunk!(c, ctx); seen += c.choices[0]!.text; }
      expect(seen, `cut at ${k}`).toBe(whole(TEXT));
    }
    // No finish_reason: the held text comes as one extra text_completion chunk at the end.
    const ctx = ctxOf('completions', { prompt: 'hi', stream: true });
    const c1 = { ...completion(['call +1 415 ']), choices: [{ index: 0, text: 'call +1 415 ', logprobs: null, finish_reason: null }] };
    const c2 = { ...completion(['555 0132']), choices: [{ index: 0, text: '555 0132', logprobs: null, finish_reason: null }] };
    hooks.onChunk!(c1, ctx);
    hooks.onChunk!(c2, ctx);
    const extra = hooks.onStreamEnd!(ctx) as TextCompletion[];
    expect(extra).toHaveLength(1);
    expect(extra[0]!.object).toBe('text_completion');
    expect(c1.choices[0]!.text + c2.choices[0]!.text + extra[0]!.choices[0]!.text).toBe('call [PHONE]');
  });
});

describe('redact request on every endpoint', () => {
  it('responses: instructions, input text, message parts, tool calls and results, prompt variables', async () => {
    const ctx = ctxOf('responses', {
      instructions: 'Reply to a@example.com',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'I am b@example.com' }] },
        { type: 'function_call', call_id: 'c', name: 'pay', arguments: '{"card":"4111111111111111"}' },
        { type: 'function_call_output', call_id: 'c', output: 'charged 4111 1111 1111 1111' },
      ],
      prompt: { id: 'p', variables: { who: 'c@example.com' } },
    });
    await hooks.onRequest!(ctx);
    const r = ctx.request as Record<string, any>;
    expect(r.instructions).toBe('Reply to [EMAIL]');
    expect(r.input[0].content[0].text).toBe('I am [EMAIL]');
    expect(JSON.parse(r.input[1].arguments)).toEqual({ card: '[CREDIT_CARD]' });
    expect(r.input[2].output).toBe('charged [CREDIT_CARD]');
    expect(r.prompt.variables.who).toBe('[EMAIL]');
    expect(ctx.get(redactionKey)!.request).toEqual({ email: 3, credit_card: 2 });
  });

  it('embeddings: input strings (token ids untouched); completions: prompts and suffix', async () => {
    const e = ctxOf('embeddings', { input: ['x a@example.com', 'plain'] });
    await hooks.onRequest!(e);
    expect((e.request as Record<string, unknown>).input).toEqual(['x [EMAIL]', 'plain']);
    const ids = ctxOf('embeddings', { input: [[1, 2]] });
    await hooks.onRequest!(ids);
    expect((ids.request as Record<string, unknown>).input).toEqual([[1, 2]]);
    const c = ctxOf('completions', { prompt: 'Dear a@example.com', suffix: 'call +1 415 555 0132' });
    await hooks.onRequest!(c);
    expect(c.request).toMatchObject({ prompt: 'Dear [EMAIL]', suffix: 'call [PHONE]' });
  });
});
