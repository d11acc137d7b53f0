// The edits an enforced rewrite/summary makes (src/sdk/request-edits.ts), per endpoint: where the instruction goes and
// which field caps the answer; the client's objects are replaced, never mutated.
import { describe, expect, it } from 'vitest';
import { addInstruction, capOutputTokens } from '../../src/sdk/request-edits.ts';
import type { Endpoint } from '../../src/sdk/types.ts';

const I = 'Answer within policy.';
const SUFFIX = `\n\n${I}`;

describe('addInstruction', () => {
  it.each([
    { note: 'chat: a new system message first', endpoint: 'chat', req: { messages: [{ role: 'user', content: 'hi' }] },
      want: { messages: [{ role: 'system', content: I }, { role: 'user', content: 'hi' }] } },
    { note: 'chat: appended to a leading system message', endpoint: 'chat', req: { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'hi' }] },
      want: { messages: [{ role: 'system', content: `Be kind.${SUFFIX}` }, { role: 'user', content: 'hi' }] } },
    { note: 'responses: set as instructions when there are none', endpoint: 'responses', req: { input: 'hi' }, want: { input: 'hi', instructions: I } },
    { note: 'responses: appended to instructions after a blank line', endpoint: 'responses', req: { input: 'hi', instructions: 'Be kind.' },
      want: { input: 'hi', instructions: `Be kind.${SUFFIX}` } },
    { note: 'responses: a null instructions is replaced', endpoint: 'responses', req: { input: 'hi', instructions: null }, want: { input: 'hi', instructions: I } },
    { note: 'completions: before the prompt', endpoint: 'completions', req: { prompt: 'Once' }, want: { prompt: `${I}\n\nOnce` } },
    { note: 'completions: before each prompt', endpoint: 'completions', req: { prompt: ['a', 'b'] }, want: { prompt: [`${I}\n\na`, `${I}\n\nb`] } },
  ] as { note: string; endpoint: Endpoint; req: Record<string, unknown>; want: Record<string, unknown> }[])('$note', ({ endpoint, req, want }) => {
    const r = structuredClone(req);
    expect(addInstruction(endpoint, r, I, SUFFIX)).toBe(true);
    expect(r).toEqual(want);
  });

  it('chat: the client’s system message object is replaced, not mutated', () => {
    const system = { role: 'system', content: 'Be kind.' };
    const r = { messages: [system, { role: 'user', content: 'hi' }] };
    addInstruction('chat', r, I, SUFFIX);
    expect(system.content).toBe('Be kind.');
    expect(r.messages[0]).not.toBe(system);
  });

  it.each([
    { note: 'embeddings take no instruction', endpoint: 'embeddings' as const, req: { input: 'hi' } },
    { note: 'token-id prompts cannot take text', endpoint: 'completions' as const, req: { prompt: [1, 2, 3] } },
  ])('$note: nothing changes', ({ endpoint, req }) => {
    const r = structuredClone(req);
    expect(addInstruction(endpoint, r, I, SUFFIX)).toBe(false);
    expect(r).toEqual(req);
  });
});

describe('capOutputTokens', () => {
  it.each([
    { note: 'chat: max_tokens set when absent', endpoint: 'chat', req: {}, want: { max_tokens: 100 } },
    { note: 'chat: both fields capped when both sent', endpoint: 'chat', req: { max_tokens: 500, max_completion_tokens: 50 }, want: { max_tokens: 100, max_completion_tokens: 50 } },
    { note: 'chat: only max_completion_tokens when that is what the client sent', endpoint: 'chat', req: { max_completion_tokens: 900 }, want: { max_completion_tokens: 100 } },
    { note: 'responses: max_output_tokens set', endpoint: 'responses', req: {}, want: { max_output_tokens: 100 } },
    { note: 'responses: the client’s lower cap stays', endpoint: 'responses', req: { max_output_tokens: 40 }, want: { max_output_tokens: 40 } },
    { note: 'completions: max_tokens capped', endpoint: 'completions', req: { max_tokens: 1000 }, want: { max_tokens: 100 } },
  ] as { note: string; endpoint: Endpoint; req: Record<string, unknown>; want: Record<string, unknown> }[])('$note', ({ endpoint, req, want }) => {
    const r = { ...req };
    expect(capOutputTokens(endpoint, r, 100)).toBe(true);
    expect(r).toEqual(want);
  });

  it('responses: never below the API minimum of 16', () => {
    const r: Record<string, unknown> = {};
    capOutputTokens('responses', r, 5);
    expect(r.max_output_tokens).toBe(16);
  });

  it('embeddings: nothing to cap', () => {
    const r = { input: 'x' };
    expect(capOutputTokens('embeddings', r, 10)).toBe(false);
    expect(r).toEqual({ input: 'x' });
  });
});
