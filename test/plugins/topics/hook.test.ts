// The topics onRequest hook driven with ctxFor: hits as configured phrases (order, dedup), evasions (zero-width,
// homoglyphs, spacing/punctuation, case, leet, letter-spacing), whole-word negatives, regexes, scan modes, content parts.
import { describe, expect, it } from 'vitest';
import { topicsKey, topicsPlugin, type TopicsResult } from '../../../plugins/topics/index.ts';
import type { ChatMessage, ChatRequest } from '../../../src/sdk/types.ts';
import { ctxFor } from '../../helpers/ctx.ts';
import { compileClean } from './policy.ts';

const POLICY = `  topics {
    allow "refund policy", "shipping"
    deny "competitor pricing", /wire\\s+transfer/i, "gift card"
    deny list "lists/competitors.txt"
  }`;
const LIST = '# competitors, one per line\nAcme Corp\nGlobex\n\nInitech\n';
const hooks = topicsPlugin.hooks(compileClean(topicsPlugin, POLICY, { 'lists/competitors.txt': LIST }));

const req = (...messages: ChatMessage[]): ChatRequest => ({ model: 'm', messages });
const user = (content: ChatMessage['content']): ChatMessage => ({ role: 'user', content });

function run(request: ChatRequest, h = hooks): { result: TopicsResult; allow: readonly string[]; deny: readonly string[] } {
  const ctx = ctxFor(request);
  const out = h.onRequest!(ctx);
  expect(out).toBeUndefined(); // the topics plugin never answers by itself
  return { result: ctx.get(topicsKey)!, allow: ctx.verdict.allowlistHits, deny: ctx.verdict.denylistHits };
}

interface Case { note: string; text: string; allow?: string[]; deny?: string[] }

const evasions: Case[] = [
  { note: 'plain phrases match, reported as configured', text: 'What is your refund policy for shipping?', allow: ['refund policy', 'shipping'] },
  { note: 'case is folded', text: 'REFUND POLICY please', allow: ['refund policy'] },
  { note: 'repeated whitespace between words', text: 'your refund     policy', allow: ['refund policy'] },
  { note: 'punctuation runs between words', text: 'competitor---pricing!!', deny: ['competitor pricing'] },
  { note: 'spaced dots between words', text: 'competitor  .  pricing', deny: ['competitor pricing'] },
  { note: 'line breaks between words', text: 'competitor\n\npricing', deny: ['competitor pricing'] },
  { note: 'a zero-width space inside a word', text: 'ship\u200Bping costs', allow: ['shipping'] },
  { note: 'a zero-width space between words (joined word unknown: split)', text: 'competitor\u200Bpricing', deny: ['competitor pricing'] },
  { note: 'a soft hyphen and ZWJ inside words', text: 'gi\u00ADft c\u200Dard', deny: ['gift card'] },
  { note: 'a BOM and bidi controls', text: '\uFEFFgift \u202Ecard\u202C', deny: ['gift card'] },
  { note: 'Cyrillic homoglyphs', text: 'gіft cаrd', deny: ['gift card'] },
  { note: 'Greek homoglyphs in upper case', text: 'ΑCΜΕ CΟRΡ', deny: ['Acme Corp'] },
  { note: 'fullwidth letters', text: 'ｇｉｆｔ ｃａｒｄ', deny: ['gift card'] },
  { note: 'accents and combining marks', text: 'gíft cärd', deny: ['gift card'] },
  { note: 'leet digits', text: 'g1ft c4rd', deny: ['gift card'] },
  { note: 'letter-spaced words', text: 's h i p p i n g', allow: ['shipping'] },
  { note: 'list file phrases match', text: 'compare with globex and INITECH', deny: ['Globex', 'Initech'] },
  { note: 'the regex runs on normalised text (punctuation collapsed, lower case)', text: 'Send a WIRE -- TRANSFER now', deny: ['/wire\\s+transfer/i'] },
  { note: 'hits are in configuration order, not text order, and deduplicated', text: 'initech, gift card, shipping, Acme Corp, gift card, shipping',
    allow: ['shipping'], deny: ['gift card', 'Acme Corp', 'Initech'] },
  { note: 'plural of the last word (consonant + y → ies)', text: 'our refund policies', allow: ['refund policy'] },
  { note: 'plural of the last word (+s)', text: 'two gift cards', deny: ['gift card'] },
  { note: 'possessive after a phrase', text: "Acme Corp's prices", deny: ['Acme Corp'] },
  { note: 'possessive with a typographic apostrophe', text: 'Globex’s pricing', deny: ['Globex'] },
];

const negatives: Case[] = [
  { note: 'whole words only: "shipping" does not match "shippingly" or "transshipping"', text: 'shippingly transshipping' },
  { note: 'no stemming beyond plurals: "refund policy" does not match "refunding policy"', text: 'our refunding policy' },
  { note: 'a phrase does not match when a word sits between its words', text: 'gift for a card' },
  { note: 'a regex needs its words: "wire" alone does not match', text: 'wire the money' },
];

describe('topics onRequest', () => {
  it.each(evasions)('$note', ({ text, allow = [], deny = [] }) => {
    const r = run(req(user(text)));
    expect(r.result.allowlistHits).toEqual(allow);
    expect(r.result.denylistHits).toEqual(deny);
    expect(r.allow).toEqual(allow);
    expect(r.deny).toEqual(deny);
  });

  it.each(negatives)('$note', ({ text }) => {
    const r = run(req(user(text)));
    expect(r.result.allowlistHits).toEqual([]);
    expect(r.result.denylistHits).toEqual([]);
  });

  it('a phrase split across two messages or two content parts does not match', () => {
    expect(run(req(user('gift'), user('card'))).deny).toEqual([]);
    expect(run(req(user([{ type: 'text', text: 'gift' }, { type: 'text', text: 'card' }]))).deny).toEqual([]);
  });

  it('publishes allowlistConfigured and the first deny rule', () => {
    const r = run(req(user('acme corp sells gift cards and gift card packs')));
    expect(r.result).toEqual({ allowlistConfigured: true, allowlistHits: [], denylistHits: ['gift card', 'Acme Corp'], denyRule: 'rules/test.policy:4' });
  });

  it('publishes a shared frozen result when nothing matches and leaves the verdict alone', () => {
    const a = run(req(user('hello there')));
    const b = run(req(user('nothing here either')));
    expect(a.result).toBe(b.result);
    expect(Object.isFrozen(a.result)).toBe(true);
    expect(a.result).toEqual({ allowlistConfigured: true, allowlistHits: [], denylistHits: [], denyRule: null });
  });

  it('reads text content parts and skips images and non-text parts', () => {
    const r = run(req(user([{ type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: 'gift card' }, { type: 'input_audio', text: 'shipping' }])));
    expect(r.deny).toEqual(['gift card']);
    expect(r.allow).toEqual([]);
  });

  describe('scan modes', () => {
    const conv = req(
      { role: 'system', content: 'Never discuss competitor pricing.' },
      user('first: what is the shipping time?'),
      { role: 'assistant', content: 'About a gift card: …' },
      { role: 'tool', content: 'acme corp' },
      user('second: hello'),
    );
    const modes = [
      { note: 'user, scope conversation: every user message', scan: 'scope conversation', allow: ['shipping'], deny: [] },
      { note: 'user, scope latest (default): the last user turn', scan: '', allow: [], deny: [] },
      { note: 'last_user: only the last user message', scan: 'scan last_user', allow: [], deny: [] },
      { note: 'all, scope conversation: user, system and assistant messages (never tool output)', scan: 'scan all; scope conversation', allow: ['shipping'], deny: ['competitor pricing', 'gift card'] },
      { note: 'all, scope latest: the messages of the last turn', scan: 'scan all', allow: [], deny: [] },
    ];
    it.each(modes)('$note', ({ scan, allow, deny }) => {
      const h = topicsPlugin.hooks(compileClean(topicsPlugin, `  topics {\n    allow "shipping"\n    deny "competitor pricing", "gift card", "acme corp"\n    ${scan}\n  }`));
      const r = run(conv, h);
      expect(r.allow).toEqual(allow);
      expect(r.deny).toEqual(deny);
    });
  });

  it('a regex-only policy works without an automaton', () => {
    const h = topicsPlugin.hooks(compileClean(topicsPlugin, '  topics { deny /\\bacct \\d{6}\\b/ }'));
    expect(run(req(user('my ACCT-123456 number')), h).deny).toEqual(['/\\bacct \\d{6}\\b/']);
    expect(run(req(user('my ACCT-12345 number')), h).deny).toEqual([]);
  });

  it('tolerates messages with null or missing content', () => {
    const r = run(req({ role: 'user', content: null }, { role: 'assistant', content: null, tool_calls: [] }, user('shipping')));
    expect(r.allow).toEqual(['shipping']);
  });
});
