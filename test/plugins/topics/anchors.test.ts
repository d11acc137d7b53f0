// Anchored topic regexes (issue 13 item 3): `^` and `$` mean the start and end of one scanned text — a message, or one
// text content part — on its normalised form, so `deny /^hello/` fires and an anchored allow regex admits what it names.
import { describe, expect, it } from 'vitest';
import { topicsPlugin } from '../../../plugins/topics/index.ts';
import type { ChatMessage } from '../../../src/sdk/types.ts';
import { ctxFor } from '../../helpers/ctx.ts';
import { compileClean } from './policy.ts';

function hits(policy: string, messages: ChatMessage[]): { allow: readonly string[]; deny: readonly string[] } {
  const hooks = topicsPlugin.hooks(compileClean(topicsPlugin, policy));
  const ctx = ctxFor({ model: 'm', messages });
  hooks.onRequest!(ctx);
  return { allow: ctx.verdict.allowlistHits, deny: ctx.verdict.denylistHits };
}
const user = (content: ChatMessage['content']): ChatMessage => ({ role: 'user', content });

describe('anchored topic regexes', () => {
  const DENY = '  topics { deny /^hello/, /world$/, /^exact phrase$/ }';
  it.each([
    { note: '^ matches at the start of a message', text: 'Hello there', deny: ['/^hello/'] },
    { note: '^ ignores leading spaces and punctuation (the text is normalised)', text: '  ...hello, there', deny: ['/^hello/'] },
    { note: '^ does not match in the middle of a message', text: 'well hello there', deny: [] },
    { note: '$ matches at the end of a message', text: 'Hello, World!', deny: ['/^hello/', '/world$/'] },
    { note: '$ ignores trailing punctuation and spaces', text: 'the world . . .  ', deny: ['/world$/'] },
    { note: '$ does not match before the end', text: 'the world is big', deny: [] },
    { note: '^…$ matches a message that is exactly the phrase', text: 'Exact   phrase!', deny: ['/^exact phrase$/'] },
    { note: '^…$ does not match a message that only contains it', text: 'an exact phrase here', deny: [] },
  ])('$note', ({ text, deny }) => {
    expect(hits(DENY, [user(text)]).deny).toEqual(deny);
  });

  it('each message is its own text: ^ matches at the start of the second message, not only of the first', () => {
    expect(hits(DENY, [user('first message'), user('hello again')]).deny).toEqual(['/^hello/']);
  });

  it('each text content part is its own text', () => {
    expect(hits(DENY, [user([{ type: 'text', text: 'intro' }, { type: 'text', text: 'hello part two' }])]).deny).toEqual(['/^hello/']);
  });

  it('an anchored allow regex admits what it names and nothing else', () => {
    const ALLOW = '  topics { allow /^(order|refund) status$/ }';
    expect(hits(ALLOW, [user('Order status?')]).allow).toEqual(['/^(order|refund) status$/']);
    expect(hits(ALLOW, [user('refund status')]).allow).toEqual(['/^(order|refund) status$/']);
    expect(hits(ALLOW, [user('what is my order status and the weather')]).allow).toEqual([]);
  });

  it('unanchored regexes still match anywhere', () => {
    expect(hits('  topics { deny /wire\\s+transfer/i }', [user('can you do a WIRE   transfer today')]).deny).toEqual(['/wire\\s+transfer/i']);
  });
});
