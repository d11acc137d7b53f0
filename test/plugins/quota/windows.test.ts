// Pure helpers of the quota plugin: UTC-aligned windows, Retry-After and reset durations, the prompt estimate,
// the completion reservation, model globs and cost in micro-dollars.
import { describe, expect, it } from 'vitest';
import { formatResetDuration, retryAfterSeconds, windowAt } from '../../../plugins/quota/windows.ts';
import { completionReservation, costMicros, estimatePromptTokens, globMatch, priceFor } from '../../../plugins/quota/estimate.ts';
import { readPrompt } from '../../../src/sdk/prompt-view.ts';
import { subjectKey } from '../../../plugins/quota/index.ts';

const T = (iso: string) => Date.parse(iso);

describe('windows', () => {
  it.each([
    { note: 'a second starts on the whole second', w: 'second', now: '2026-03-05T10:11:12.345Z', start: '2026-03-05T10:11:12.000Z', end: '2026-03-05T10:11:13.000Z' },
    { note: 'a minute starts on :00', w: 'minute', now: '2026-03-05T10:11:12.345Z', start: '2026-03-05T10:11:00.000Z', end: '2026-03-05T10:12:00.000Z' },
    { note: 'an hour starts on the hour', w: 'hour', now: '2026-03-05T10:59:59.999Z', start: '2026-03-05T10:00:00.000Z', end: '2026-03-05T11:00:00.000Z' },
    { note: 'a day starts at 00:00Z', w: 'day', now: '2026-03-05T23:59:59.999Z', start: '2026-03-05T00:00:00.000Z', end: '2026-03-06T00:00:00.000Z' },
    { note: 'a month starts on the 1st at 00:00Z', w: 'month', now: '2026-03-31T23:59:59.999Z', start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z' },
    { note: 'December rolls into January', w: 'month', now: '2026-12-15T00:00:00.000Z', start: '2026-12-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' },
    { note: 'February of a leap year has 29 days', w: 'month', now: '2028-02-29T12:00:00.000Z', start: '2028-02-01T00:00:00.000Z', end: '2028-03-01T00:00:00.000Z' },
    { note: 'the boundary instant belongs to the new window', w: 'minute', now: '2026-03-05T10:12:00.000Z', start: '2026-03-05T10:12:00.000Z', end: '2026-03-05T10:13:00.000Z' },
  ] as const)('$note', ({ w, now, start, end }) => {
    expect(windowAt(w, T(now))).toEqual({ start: T(start), end: T(end) });
  });

  it('the month cache never returns a stale month when time jumps around', () => {
    expect(windowAt('month', T('2026-05-10T00:00:00Z')).start).toBe(T('2026-05-01T00:00:00Z'));
    expect(windowAt('month', T('2026-04-30T23:59:59Z')).start).toBe(T('2026-04-01T00:00:00Z'));
    expect(windowAt('month', T('2026-05-01T00:00:00Z')).start).toBe(T('2026-05-01T00:00:00Z'));
  });

  it.each([
    { note: 'rounds up to whole seconds', end: 10_000, now: 5_500, s: 5 },
    { note: 'is at least 1 even at the last millisecond', end: 10_000, now: 9_999, s: 1 },
    { note: 'is at least 1 when the window already ended', end: 10_000, now: 10_500, s: 1 },
    { note: 'a whole minute', end: 60_000, now: 0, s: 60 },
  ])('Retry-After $note', ({ end, now, s }) => {
    expect(retryAfterSeconds(end, now)).toBe(s);
  });

  it.each([
    { ms: 0, text: '0s' }, { ms: 20, text: '20ms' }, { ms: 999, text: '999ms' }, { ms: 1000, text: '1s' },
    { ms: 1500, text: '1.5s' }, { ms: 1234, text: '1.234s' }, { ms: 59_000, text: '59s' }, { ms: 360_000, text: '6m0s' },
    { ms: 61_500, text: '1m1.5s' }, { ms: 3_600_000, text: '1h0m0s' }, { ms: 86_400_000, text: '24h0m0s' }, { ms: -5, text: '0s' },
  ])('reset duration $ms ms → "$text" (Go duration form, as OpenAI sends it)', ({ ms, text }) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});

describe('reservation estimates', () => {
  it.each([
    { note: 'string content: ceil(chars / 4) + 4 per message', messages: [{ role: 'user', content: 'x'.repeat(10) }], tokens: 3 + 4 },
    { note: 'content parts count only their text', messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'image_url', image_url: { url: 'data:…' } }] }], tokens: 1 + 4 },
    { note: 'several messages add up', messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: 'abcdefgh' }], tokens: 3 + 8 },
    { note: 'tool calls count their name and arguments', messages: [{ role: 'assistant', content: null, tool_calls: [{ function: { name: 'abcd', arguments: '{"a":1}' } }] }], tokens: 3 + 4 },
    { note: 'no messages, no tokens', messages: [], tokens: 0 },
  ])('$note', ({ messages, tokens }) => {
    expect(estimatePromptTokens(readPrompt('chat', { model: 'm', messages: messages as never }))).toBe(tokens);
  });

  it.each([
    { note: 'Responses: instructions and a string input are two items', endpoint: 'responses' as const, req: { instructions: 'abcd', input: 'abcdefgh' }, tokens: 1 + 2 + 8 },
    { note: 'Responses: message parts, a function call and its output', endpoint: 'responses' as const, req: { input: [
      { role: 'user', content: [{ type: 'input_text', text: 'abcd' }, { type: 'input_image', image_url: 'x' }] },
      { type: 'function_call', call_id: 'c', name: 'ab', arguments: '{"a":1}' },
      { type: 'function_call_output', call_id: 'c', output: 'abcdefgh' },
    ] }, tokens: Math.ceil((4 + 2 + 7 + 8) / 4) + 12 },
    { note: 'embeddings: strings are one item', endpoint: 'embeddings' as const, req: { input: ['abcd', 'abcdefgh'] }, tokens: 3 + 4 },
    { note: 'embeddings: token ids count as they are', endpoint: 'embeddings' as const, req: { input: [[1, 2, 3], [4, 5]] }, tokens: 5 + 4 },
    { note: 'completions: prompts and suffix', endpoint: 'completions' as const, req: { prompt: 'abcd', suffix: 'abcd' }, tokens: 2 + 4 },
  ])('$note', ({ endpoint, req, tokens }) => {
    expect(estimatePromptTokens(readPrompt(endpoint, { model: 'm', ...req } as never))).toBe(tokens);
  });

  it.each([
    { note: 'max_completion_tokens wins', req: { max_completion_tokens: 100, max_tokens: 50 }, want: 100 },
    { note: 'max_tokens when that is all', req: { max_tokens: 50 }, want: 50 },
    { note: 'the policy default when neither is set', req: {}, want: 1024 },
    { note: 'invalid values fall back to the default', req: { max_tokens: -3, max_completion_tokens: 'a lot' }, want: 1024 },
    { note: 'n choices multiply the reservation', req: { max_tokens: 50, n: 3 }, want: 150 },
  ])('completion reservation: $note', ({ req, want }) => {
    expect(completionReservation(readPrompt('chat', { model: 'm', messages: [], ...req } as never), 1024)).toBe(want);
  });

  it.each([
    { note: 'Responses: max_output_tokens', endpoint: 'responses' as const, req: { input: 'x', max_output_tokens: 300 }, want: 300 },
    { note: 'Responses: the policy default without it', endpoint: 'responses' as const, req: { input: 'x' }, want: 1024 },
    { note: 'completions: max_tokens times prompts times n', endpoint: 'completions' as const, req: { prompt: ['a', 'b'], max_tokens: 10, n: 3 }, want: 60 },
    { note: 'completions: one token-id prompt', endpoint: 'completions' as const, req: { prompt: [1, 2, 3], max_tokens: 10 }, want: 10 },
    { note: 'embeddings reserve no output', endpoint: 'embeddings' as const, req: { input: 'x' }, want: 0 },
  ])('completion reservation: $note', ({ endpoint, req, want }) => {
    expect(completionReservation(readPrompt(endpoint, { model: 'm', ...req } as never), 1024)).toBe(want);
  });

  it.each([
    { p: 'gpt-4o*', t: 'gpt-4o-mini', m: true }, { p: 'gpt-4o*', t: 'gpt-4o', m: true }, { p: 'gpt-4o*', t: 'gpt-4', m: false },
    { p: '*', t: '', m: true }, { p: '*-mini', t: 'gpt-4o-mini', m: true }, { p: '*-mini', t: 'gpt-4o-mini-2', m: false },
    { p: 'gpt-?o', t: 'gpt-4o', m: true }, { p: 'a*b*c', t: 'axxbyyc', m: true }, { p: 'a*b*c', t: 'axxbyy', m: false },
    { p: 'GPT-4o', t: 'gpt-4o', m: false }, { p: '**', t: 'anything', m: true },
  ])('glob "$p" vs "$t" → $m', ({ p, t, m }) => {
    expect(globMatch(p, t)).toBe(m);
  });

  it('the first matching price wins; cost is in whole micro-dollars, rounded up', () => {
    const prices = [{ pattern: 'gpt-4o-mini*', input: 0.15, output: 0.6 }, { pattern: 'gpt-4o*', input: 2.5, output: 10 }];
    expect(priceFor(prices, 'gpt-4o-mini-2024')).toBe(prices[0]);
    expect(priceFor(prices, 'gpt-4o')).toBe(prices[1]);
    expect(priceFor(prices, 'llama3')).toBeUndefined();
    expect(costMicros(prices[1], 1000, 500)).toBe(2500 + 5000);
    expect(costMicros(prices[0], 1000, 0)).toBe(150); // 0.15 × 1000 is 150.00000000000003 in binary
    expect(costMicros(prices[0], 1, 0)).toBe(1);
    expect(costMicros(undefined, 1000, 1000)).toBe(0);
  });
});

describe('counter subjects', () => {
  it.each([
    { note: 'a plain id is kept', id: 'user-12345', key: 'u:user-12345' },
    { note: 'an email is kept', id: 'a.b+c@example.com', key: 'u:a.b+c@example.com' },
    { note: 'a colon is hashed (no separator injection)', id: 'a:b', key: /^uh:[A-Za-z0-9_-]{22}$/ },
    { note: 'a long id is hashed to a fixed size', id: 'x'.repeat(256), key: /^uh:[A-Za-z0-9_-]{22}$/ },
    { note: 'non-ASCII is hashed', id: 'jörg', key: /^uh:[A-Za-z0-9_-]{22}$/ },
  ])('$note', ({ id, key }) => {
    const k = subjectKey('u', id);
    if (typeof key === 'string') expect(k).toBe(key); else expect(k).toMatch(key);
  });

  it('different hostile ids get different hashed subjects', () => {
    expect(subjectKey('u', 'a'.repeat(100))).not.toBe(subjectKey('u', `${'a'.repeat(99)}b`));
  });
});
