// The SDK's endpoint-neutral prompt view (src/sdk/prompt-view.ts): one reading of chat messages, Responses instructions
// and input items, embeddings inputs and completions prompts — items with roles, text segments by kind, what the
// gateway cannot see, the output cap and number of answers asked for — and the topic scan that reads it.
import { describe, expect, it } from 'vitest';
import { readPrompt, type PromptView } from '../../src/sdk/prompt-view.ts';
import { scannedTexts } from '../../src/sdk/text.ts';
import type { ApiRequest, Endpoint } from '../../src/sdk/types.ts';

/** The view as `role kind: text` lines, easy to compare. */
const lines = (v: PromptView): string[] => v.segments.map((s) => `${v.roles[s.item]} ${s.kind}: ${s.text}`);
const read = (endpoint: Endpoint, req: Record<string, unknown>) => readPrompt(endpoint, { model: 'm', ...req } as ApiRequest);

describe('readPrompt', () => {
  it('chat: messages in order; content strings and text parts; names, tool calls and non-text parts by kind', () => {
    const v = read('chat', {
      max_completion_tokens: 50, max_tokens: 20, n: 2,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', name: 'ann', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'x' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'look', arguments: '{"q":1}' } }] },
        { role: 'tool', tool_call_id: 't', content: 'A cat.' },
        { role: 'user', content: '' },
      ],
    });
    expect(v.roles).toEqual(['system', 'user', 'assistant', 'tool', 'user']);
    expect(lines(v)).toEqual([
      'system text: Be brief.', 'user text: What is this?', 'user media: [image_url]', 'user name: ann',
      'assistant call: look', 'assistant call: {"q":1}', 'tool text: A cat.',
    ]);
    expect(v).toMatchObject({ endpoint: 'chat', hidden: [], tokenIds: 0, maxOutputTokens: 50, choices: 2 });
  });

  it('responses: instructions first (system), a string input is one user item', () => {
    const v = read('responses', { instructions: 'Answer in French.', input: 'Hello there', max_output_tokens: 64 });
    expect(v.roles).toEqual(['system', 'user']);
    expect(lines(v)).toEqual(['system text: Answer in French.', 'user text: Hello there']);
    expect(v).toMatchObject({ maxOutputTokens: 64, choices: 1, hidden: [] });
  });

  it('responses: message items keep their role; calls, tool results, reasoning and references by kind', () => {
    const v = read('responses', {
      input: [
        { role: 'developer', content: 'Use tools.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }, { type: 'input_file', file_id: 'f' }] },
        { type: 'reasoning', id: 'rs', summary: [{ type: 'summary_text', text: 'Need the weather.' }] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'Rain, 12 C' },
        { role: 'assistant', content: [{ type: 'output_text', text: 'It rains.' }, { type: 'refusal', refusal: 'No more.' }] },
        { type: 'item_reference', id: 'msg_1' },
        { role: 'user', content: [{ type: 'input_text', text: 'Thanks' }] },
      ],
      previous_response_id: 'resp_1',
    });
    expect(v.roles).toEqual(['developer', 'user', 'assistant', 'assistant', 'tool', 'assistant', 'reference', 'user']);
    expect(lines(v)).toEqual([
      'developer text: Use tools.', 'user text: Weather in Paris?', 'user media: [input_file]', 'assistant text: Need the weather.',
      'assistant call: weather', 'assistant call: {"city":"Paris"}', 'tool text: Rain, 12 C', 'assistant text: It rains.',
      'assistant text: No more.', 'user text: Thanks',
    ]);
    expect(v.hidden).toEqual(['item_reference', 'previous_response_id']);
  });

  it('responses: a stored prompt template is hidden, its variables are user text; conversation state is hidden', () => {
    const v = read('responses', { prompt: { id: 'pmpt_1', variables: { city: 'Oslo', note: { type: 'input_text', text: 'urgent' } } }, conversation: 'conv_1' });
    expect(lines(v)).toEqual(['user text: Oslo', 'user text: urgent']);
    expect(v.hidden).toEqual(['prompt', 'conversation']);
  });

  it('embeddings: every input string is text of one user item; token ids are counted and hidden; no output', () => {
    expect(lines(read('embeddings', { input: ['first', 'second'] }))).toEqual(['user text: first', 'user text: second']);
    const ids = read('embeddings', { input: [[1, 2, 3], [4]] });
    expect(ids).toMatchObject({ segments: [], tokenIds: 4, hidden: ['token_ids'], maxOutputTokens: 0, choices: 0 });
    expect(read('embeddings', { input: [5, 6] }).tokenIds).toBe(2);
  });

  it('completions: prompts and suffix are one user item; choices are prompts × n', () => {
    const v = read('completions', { prompt: ['Once upon', 'a time'], suffix: 'The end.', max_tokens: 30, n: 2 });
    expect(v.roles).toEqual(['user']);
    expect(lines(v)).toEqual(['user text: Once upon', 'user text: a time', 'user text: The end.']);
    expect(v).toMatchObject({ maxOutputTokens: 30, choices: 4 });
    expect(read('completions', { prompt: [1, 2, 3] })).toMatchObject({ tokenIds: 3, hidden: ['token_ids'], choices: 1 });
  });

  it('never throws on shapes it does not know (reads them as no text)', () => {
    for (const endpoint of ['chat', 'responses', 'embeddings', 'completions'] as const) {
      for (const junk of [{}, { messages: 3, input: { a: 1 }, prompt: [{}], instructions: 7 }, { messages: [null, 1], input: [null, 'x', 3] }]) {
        expect(() => read(endpoint, junk)).not.toThrow();
      }
    }
  });
});

describe('the scan over the view (topics and moderation)', () => {
  const responses = read('responses', {
    instructions: 'system text',
    input: [
      { role: 'user', content: 'first user turn' },
      { role: 'assistant', content: [{ type: 'output_text', text: 'assistant answer' }] },
      { type: 'function_call_output', call_id: 'c', output: 'tool result' },
      { role: 'developer', content: 'developer note' },
      { role: 'user', content: 'second user turn' },
    ],
  });

  it.each([
    { note: 'scan user, whole conversation: user items only', mode: 'user' as const, scope: 'conversation' as const, want: ['first user turn', 'second user turn'] },
    { note: 'scan all: user, system, developer and assistant text, never tool results', mode: 'all' as const, scope: 'conversation' as const,
      want: ['system text', 'first user turn', 'assistant answer', 'developer note', 'second user turn'] },
    { note: 'scope latest: the last user turn only (back to the tool result)', mode: 'all' as const, scope: 'latest' as const, want: ['developer note', 'second user turn'] },
    { note: 'last_user: the last user item', mode: 'last_user' as const, scope: 'conversation' as const, want: ['second user turn'] },
  ])('$note', ({ mode, scope, want }) => {
    expect(scannedTexts(responses, mode, scope)).toEqual(want);
  });

  it('embeddings inputs are all one turn: every one is scanned, whatever the mode', () => {
    const v = read('embeddings', { input: ['a', 'b', 'c'] });
    for (const mode of ['user', 'last_user', 'all'] as const) expect(scannedTexts(v, mode, 'latest')).toEqual(['a', 'b', 'c']);
  });
});
