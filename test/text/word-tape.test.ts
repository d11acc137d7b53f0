// Tokenise once (src/text/word-tape.ts): a recorded word tape replays exactly what the normaliser streams, in either
// possessive mode when the text allows it, never after the recording asked the sink's vocabulary; topics and the
// builtin moderation classifier share one tokenisation per message and find what they find without it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TextNormalizer, type WordSink } from '../../src/text/normalize.ts';
import { PromptWords, WordTape } from '../../src/text/word-tape.ts';
import { readPrompt } from '../../src/sdk/prompt-view.ts';
import type { ApiRequest } from '../../src/sdk/types.ts';
import { TopicMatcher } from '../../plugins/topics/matcher.ts';
import { normalizeText } from '../../src/text/normalize.ts';
import { builtinClassifier } from '../../plugins/moderation/builtin.ts';

/** Collects the streamed words with their hash and key; `vocabulary` (when given) is what `knows` answers from. */
class Collect implements WordSink {
  stream: string[] = [];
  knows?: (chars: Uint16Array, start: number, len: number) => boolean;
  constructor(vocabulary?: ReadonlySet<string>) {
    if (vocabulary) this.knows = (c, s, l) => vocabulary.has(String.fromCharCode(...c.subarray(s, s + l)));
  }
  onWord(chars: Uint16Array, start: number, len: number, hash: number, lo: number, hi: number): void {
    this.stream.push(`${String.fromCharCode(...chars.subarray(start, start + len))}/${hash}/${hi >= 0 ? lo : ''}/${hi}`);
  }
}

/** A normaliser that counts its tokenize calls. */
class Counting extends TextNormalizer {
  calls = 0;
  override tokenize(text: string, sink: WordSink): void {
    this.calls++;
    super.tokenize(text, sink);
  }
}

const text = fc.array(fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 's', 'S', 'x', 'wire', 'Ship', 'k1ll', '4', '5', '0') },
  { weight: 4, arbitrary: fc.constantFrom(' ', "'", "'s", "'S", '\u2019', '\u2019s', '-', '.', '\n') },
  { weight: 1, arbitrary: fc.constantFrom('\u200B', 'é', 'ß', 'і', 'ｗ', '𝐰', '😀', '\u0301', '世', '\uFF07', 'ﬁ') },
), { maxLength: 24 }).map((parts) => parts.join(''));

describe('WordTape', () => {
  const modes = [new TextNormalizer(), new TextNormalizer({ possessive: 'join' })];

  it('records exactly what tokenize streams, and replays it to any normaliser it says it serves', () => {
    let crossMode = 0;
    let refused = 0;
    fc.assert(fc.property(text, fc.boolean(), fc.boolean(), (s, joinFirst, withVocabulary) => {
      const vocabulary = withVocabulary ? new Set(['wire', 'ship', 'shipping']) : undefined;
      const [first, second] = joinFirst ? [modes[1]!, modes[0]!] : [modes[0]!, modes[1]!];
      const tape = new WordTape(s.length);
      const recorded = new Collect(vocabulary);
      tape.record(first, s, recorded);
      const direct = new Collect(vocabulary);
      first.tokenize(s, direct);
      expect(recorded.stream).toEqual(direct.stream);
      for (const norm of [first, second]) {
        if (!tape.serves(norm)) { refused++; continue; }
        if (norm === second) crossMode++;
        const replayed = new Collect(vocabulary);
        tape.replay(replayed);
        const want = new Collect(vocabulary);
        norm.tokenize(s, want);
        expect(replayed.stream).toEqual(want.stream);
      }
    }), { numRuns: 3000 });
    // both outcomes occur: the property is not vacuous
    expect(crossMode).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('serves the other possessive mode only when the text has no apostrophe inside a word', () => {
    const [drop, join] = modes as [TextNormalizer, TextNormalizer];
    const plain = new WordTape(20);
    plain.record(drop, 'the wire transfer', new Collect());
    expect([plain.serves(drop), plain.serves(join)]).toEqual([true, true]);
    const possessive = new WordTape(20);
    possessive.record(drop, "someone's car", new Collect());
    expect([possessive.serves(drop), possessive.serves(join)]).toEqual([true, false]);
    const curly = new WordTape(20);
    curly.record(join, 'don\u2019t', new Collect());
    expect([curly.serves(drop), curly.serves(join)]).toEqual([false, true]);
  });

  it('is never replayed after the recording asked the sink whether it knows a word (invisible characters inside)', () => {
    const tape = new WordTape(20);
    tape.record(modes[0]!, 'ship\u200Bping', new Collect(new Set(['ship'])));
    expect(tape.serves(modes[0]!)).toBe(false);
    // the answer depends on the sink even when it has no vocabulary (the joined word): not replayed to another
    const asked = new WordTape(20);
    asked.record(modes[0]!, 'ship\u200Bping', new Collect());
    expect(asked.serves(modes[0]!)).toBe(false);
    const visible = new WordTape(20);
    visible.record(modes[0]!, 'ship\u00E9 ping', new Collect(new Set(['ship'])));
    expect(visible.serves(modes[0]!)).toBe(true);
  });
});

describe('PromptWords: topics and moderation tokenise each message once', () => {
  const request = {
    model: 'm',
    messages: [
      { role: 'system', content: 'You are a helpful agent.' },
      { role: 'user', content: 'How do I make a pipe bomb at home?' },
      { role: 'assistant', content: 'I cannot help.' },
      { role: 'user', content: 'Then tell me about the wire transfer and how to kill myself' },
    ],
  } as unknown as ApiRequest;
  const view = readPrompt('chat', request);
  const phrases = ['wire transfer', 'pipe bomb', 'helpful agent'];
  const matcher = new TopicMatcher(
    phrases.map((p, i) => ({ kind: i === 0 ? 'allow' as const : 'deny' as const, text: p, rule: `t:${i}` })),
    phrases.map((p, i) => ({ entry: i, normalized: normalizeText(p) })),
    [],
  );

  it('gives the same hits and scores with the shared tokenisation as without', () => {
    const words = new PromptWords(view);
    for (const scope of ['latest', 'conversation'] as const) {
      expect(matcher.matchPrompt(view, 'all', scope, words)).toEqual(matcher.matchPrompt(view, 'all', scope));
    }
    const classifier = builtinClassifier();
    const shared = classifier.classifyPrompt(view, 'all', words);
    expect(shared).toEqual(classifier.classifyPrompt(view, 'all'));
    expect(shared['self-harm']).toBeGreaterThan(0.5); // the classifier did read the replayed words
    expect(matcher.matchPrompt(view, 'all', 'conversation', words)).toEqual({ allow: [0], deny: [1, 2] });
  });

  it('tokenises a message once for every scan of the request that reads it', () => {
    const words = new PromptWords(view);
    const norm = new Counting();
    const seen: string[][] = [];
    for (let round = 0; round < 3; round++) {
      const sink = new Collect();
      for (let k = 0; k < view.segments.length; k++) words.tokenize(k, view.segments[k]!.text, norm, sink);
      seen.push(sink.stream);
    }
    expect(norm.calls).toBe(view.segments.length);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });
});
