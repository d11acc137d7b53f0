// Hook tests: the compiled plugin driven through a real RequestContext (ctxFor) — request redaction before upstream,
// non-streaming answers, SSE-like chunk sequences (values split across chunks, several choices, tool-call
// arguments, finish_reason flushes, streams that end without one), audit counts and the redactions metric.
import { describe, expect, it } from 'vitest';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../../src/sdk/types.ts';
import type { Outcome, PluginHooks } from '../../../src/sdk/plugin.ts';
import { redactionKey, redactorPlugin } from '../../../plugins/redactor/index.ts';
import { compileRedactText } from './helpers.ts';

const OK: Outcome = { status: 200, upstreamCalled: true, aborted: false, synthesized: false };

function hooksFor(body: string): PluginHooks {
  const { config, diagnostics } = compileRedactText(body, 'support-bot');
  expect(diagnostics).toEqual([]);
  return redactorPlugin.hooks(config!);
}

function request(extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra };
}

function chunk(choices: ChatCompletionChunk['choices']): ChatCompletionChunk {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices };
}

/** Feeds content pieces as chunks of choice 0, the last one with finish_reason; returns the content the client sees. */
function runStream(hooks: PluginHooks, ctx: ReturnType<typeof ctxFor>, pieces: string[], finish = true): { text: string; chunks: ChatCompletionChunk[] } {
  const seen: ChatCompletionChunk[] = [];
  pieces.forEach((p, i) => {
    const c = chunk([{ index: 0, delta: { content: p }, finish_reason: finish && i === pieces.length - 1 ? 'stop' : null }]);
    const r = hooks.onChunk!(c, ctx);
    if (r !== 'drop') seen.push(c);
  });
  const extra = hooks.onStreamEnd!(ctx) ?? [];
  seen.push(...(extra as ChatCompletionChunk[]));
  const text = seen.map((c) => c.choices.map((ch) => ch.delta.content ?? '').join('')).join('');
  return { text, chunks: seen };
}

describe('redactor hooks', () => {
  it('registers only the hooks its scope needs', () => {
    const res = hooksFor('redact { email }');
    expect(Object.keys(res).sort()).toEqual(['onChunk', 'onComplete', 'onResponse', 'onStreamEnd', 'responseAccess']);
    const req = hooksFor('redact request { email }');
    expect(Object.keys(req).sort()).toEqual(['onComplete', 'onRequest', 'requestAccess']);
  });

  it('onRequest redacts messages before they go upstream: strings, parts and tool-call arguments', async () => {
    const hooks = hooksFor('redact request { email, credit_card }');
    const ctx = ctxFor(request({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'I am john@example.com' },
        { role: 'user', content: [{ type: 'text', text: 'card 4111 1111 1111 1111' }, { type: 'image_url', image_url: { url: 'x' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'pay', arguments: '{"card":"4111111111111111"}' } }] },
      ],
    }));
    await hooks.onRequest!(ctx);
    expect((ctx.request as ChatRequest).messages[1]!.content).toBe('I am [EMAIL]');
    expect(((ctx.request as ChatRequest).messages[2]!.content as { text?: string }[])[0]!.text).toBe('card [CREDIT_CARD]');
    expect((ctx.request as ChatRequest).messages[3]!.tool_calls![0]!.function!.arguments).toBe('{"card":"[CREDIT_CARD]"}');
    await hooks.onComplete!(OK, ctx);
    expect(ctx.get(redactionKey)).toEqual({ response: {}, request: { email: 1, credit_card: 2 } });
  });

  it('onResponse marks the answer changed only when it redacted something or dropped logprobs', () => {
    const hooks = hooksFor('redact response { email }');
    expect(hooks.responseAccess).toBe('marked');
    const answer = (content: string, logprobs: unknown = null): ChatCompletion => ({
      id: 'c', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs } as never],
    });
    const run = (body: ChatCompletion) => {
      const ctx = ctxFor(request()) as ReturnType<typeof ctxFor> & { responseChanged?: boolean };
      hooks.onResponse!(body, ctx);
      return ctx.responseChanged === true;
    };
    expect(run(answer('Nothing sensitive here, see section 4.2.'))).toBe(false);
    expect(run(answer('Write to alice@example.com.'))).toBe(true);
    expect(run(answer('Nothing sensitive.', { content: [] }))).toBe(true);
  });

  it('onResponse redacts every choice, tool-call arguments, and drops logprobs', async () => {
    const hooks = hooksFor('redact { email, phone }');
    const ctx = ctxFor(request());
    const body: ChatCompletion = {
      id: 'x', object: 'chat.completion', created: 1, model: 'm',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'mail john@example.com' }, finish_reason: 'stop', logprobs: { content: [{ token: 'john' }] } },
        { index: 1, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'call', arguments: '{"n":"+1 415 555 0132"}' } }] }, finish_reason: 'tool_calls' },
      ],
    };
    hooks.onResponse!(body, ctx);
    expect(body.choices[0]!.message.content).toBe('mail [EMAIL]');
    expect(body.choices[0]!.logprobs).toBeNull();
    expect(JSON.parse(body.choices[1]!.message.tool_calls![0]!.function!.arguments!)).toEqual({ n: '[PHONE]' });
    await hooks.onComplete!(OK, ctx);
    expect(ctx.get(redactionKey)?.response).toEqual({ email: 1, phone: 1 });
    expect(ctx.get(redactionKey)).toEqual({ response: { email: 1, phone: 1 }, request: {} });
  });

  it('JSON response format: a bare number in content is replaced by a JSON string', () => {
    const hooks = hooksFor('redact { credit_card }');
    const ctx = ctxFor(request({ response_format: { type: 'json_object' } }));
    const body: ChatCompletion = { id: 'x', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: '{"card": 4111111111111111}' }, finish_reason: 'stop' }] };
    hooks.onResponse!(body, ctx);
    expect(JSON.parse(body.choices[0]!.message.content as string)).toEqual({ card: '[CREDIT_CARD]' });
  });

  it.each([
    { note: 'a value split over many small chunks', pieces: ['Mail jo', 'hn.smi', 'th@exa', 'mple.c', 'om now.'], want: 'Mail [EMAIL] now.' },
    { note: 'one character per chunk', pieces: [...'card 4111-1111-1111-1111 ok'], want: 'card [CREDIT_CARD] ok' },
    { note: 'the value ends in the finish chunk', pieces: ['SSN ', '078-05-', '1123'], want: 'SSN [US_SSN]' },
    { note: 'long text around the value', pieces: ['x'.repeat(300), ' call +44 20 ', '7946 0958 ', 'y'.repeat(300)], want: `${'x'.repeat(300)} call [PHONE] ${'y'.repeat(300)}` },
  ])('streaming: $note', ({ pieces, want }) => {
    const hooks = hooksFor('redact { all }');
    const ctx = ctxFor(request({ stream: true }));
    expect(runStream(hooks, ctx, pieces).text).toBe(want);
  });

  it('streaming: no released chunk contains a byte of the value, and the finish chunk carries the held tail', () => {
    const hooks = hooksFor('redact { email }');
    const ctx = ctxFor(request({ stream: true }));
    const { chunks } = runStream(hooks, ctx, ['hello ', 'john@', 'example', '.com', ' bye']);
    const contents = chunks.map((c) => c.choices[0]?.delta.content ?? '');
    for (const c of contents) expect(c).not.toMatch(/john|example/);
    expect(contents.join('')).toBe('hello [EMAIL] bye');
    expect(chunks[chunks.length - 1]!.choices[0]!.finish_reason).toBe('stop');
  });

  it('streaming: upstream ends without finish_reason → onStreamEnd emits the held text', () => {
    const hooks = hooksFor('redact { email }');
    const ctx = ctxFor(request({ stream: true }));
    const { text, chunks } = runStream(hooks, ctx, ['tail john@example.com'], false);
    expect(text).toBe('tail [EMAIL]');
    const last = chunks[chunks.length - 1]!;
    expect(last.id).toBe('chatcmpl-1');
    expect(last.choices[0]).toEqual({ index: 0, delta: { content: 'tail [EMAIL]' }, finish_reason: null });
  });

  it('streaming: several choices and tool-call argument deltas are redacted independently', () => {
    const hooks = hooksFor('redact { email, credit_card }');
    const ctx = ctxFor(request({ stream: true, n: 2 }));
    const seq: ChatCompletionChunk[] = [
      chunk([{ index: 0, delta: { role: 'assistant', content: 'a: john@' }, finish_reason: null }, { index: 1, delta: { content: 'b: jane@' }, finish_reason: null }]),
      chunk([{ index: 1, delta: { content: 'example.org' }, finish_reason: null }, { index: 0, delta: { content: 'example.com' }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'pay', arguments: '{"card":"4111 11' } }] }, finish_reason: null }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '11 1111 1111"}' } }] }, finish_reason: 'tool_calls' }]),
      chunk([{ index: 1, delta: {}, finish_reason: 'stop' }]),
    ];
    for (const c of seq) expect(hooks.onChunk!(c, ctx)).not.toBe('drop');
    expect(hooks.onStreamEnd!(ctx)).toBeUndefined();
    const content = (i: number) => seq.flatMap((c) => c.choices.filter((ch) => ch.index === i).map((ch) => ch.delta.content ?? '')).join('');
    const args = seq.flatMap((c) => c.choices.flatMap((ch) => (ch.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? ''))).join('');
    expect(content(0)).toBe('a: [EMAIL]');
    expect(content(1)).toBe('b: [EMAIL]');
    expect(JSON.parse(args)).toEqual({ card: '[CREDIT_CARD]' });
  });

  it('streaming: chunks without text pass untouched', () => {
    const hooks = hooksFor('redact { email }');
    const ctx = ctxFor(request({ stream: true }));
    expect(hooks.onChunk!(chunk([{ index: 0, delta: { role: 'assistant' }, finish_reason: null }]), ctx)).toBe('pass');
    expect(hooks.onChunk!(chunk([]), ctx)).toBe('pass');
  });

  it('onComplete writes the redactions metric once per type with the policy id', async () => {
    const services = testServices();
    const hooks = hooksFor('redact both { email }');
    const ctx = ctxFor(request({ messages: [{ role: 'user', content: 'me: a@example.com' }] }), { services });
    await hooks.onRequest!(ctx);
    runStream(hooks, ctx, ['x b@example.com y c@example.com']);
    await hooks.onComplete!(OK, ctx);
    const metric = await services.registry.getSingleMetricAsString('policy_gateway_redactions_total');
    expect(metric).toContain('policy_gateway_redactions_total{policy_id="support-bot",type="email"} 3');
    expect(ctx.get(redactionKey)).toEqual({ response: { email: 2 }, request: { email: 1 } });
  });

  it('no redactions: no counts published and no metric sample', async () => {
    const services = testServices();
    const hooks = hooksFor('redact { email }');
    const ctx = ctxFor(request(), { services });
    runStream(hooks, ctx, ['nothing to see']);
    await hooks.onComplete!(OK, ctx);
    expect(ctx.get(redactionKey)?.response ?? {}).toEqual({});
    const metric = await services.registry.getSingleMetricAsString('policy_gateway_redactions_total');
    expect(metric).not.toContain('type=');
  });

  it('hash tokens use POLICY_GATEWAY_REDACT_KEY: stable across requests of one deployment, different across keys', () => {
    const hooks = hooksFor('redact { email\n style hash }');
    const tokenWith = (env: Record<string, string>) => {
      const ctx = ctxFor(request(), { services: testServices({ env }) });
      const body: ChatCompletion = { id: 'x', object: 'chat.completion', created: 1, model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'a@example.com' }, finish_reason: 'stop' }] };
      hooks.onResponse!(body, ctx);
      return body.choices[0]!.message.content as string;
    };
    const a1 = tokenWith({ POLICY_GATEWAY_REDACT_KEY: 'deploy-1' });
    expect(a1).toMatch(/^\[EMAIL:[0-9a-f]{8}\]$/);
    expect(tokenWith({ POLICY_GATEWAY_REDACT_KEY: 'deploy-1' })).toBe(a1);
    expect(tokenWith({ POLICY_GATEWAY_REDACT_KEY: 'deploy-2' })).not.toBe(a1);
    // without the variable: a per-process random key, stable within this process
    expect(tokenWith({})).toBe(tokenWith({}));
    expect(tokenWith({})).not.toBe(a1);
  });
});
