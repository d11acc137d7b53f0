// Tokenise once (src/text/word-tape.ts): a recorded word tape replays exactly what the normaliser streams, in either
// possessive mode when the text allows it, never after the recording asked the sink's vocabulary; topics and the
// builtin moderation classifier share one tokenisation per message, find what they find without it, and recording
// stops while no second scan reads the tapes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TextNormalizer, type WordSink } from '../../src/text/normalize.ts';
import { promptTapes, WordTapes } from '../../src/text/word-tape.ts';
import { readPrompt } from '../../src/sdk/prompt-view.ts';
import type { ApiRequest } from '../../src/sdk/types.ts';
import type { PromptView } from '../../src/sdk/prompt-view.ts';
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
  constructor(opts: { possessive?: 'drop' | 'join' } = {}) {
    super(opts);
  }
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

/** A prompt view of one segment (the tapes key on the view's identity and read only its segment count). */
const oneSegment = (): PromptView => ({ segments: [{ item: 0, kind: 'text', text: '' }] }) as unknown as PromptView;

describe('WordTapes', () => {
  const drop = new Counting();
  const modes: [Counting, Counting] = [drop, new Counting({ possessive: 'join' })];

  /** Streams segment 0 of `view` through `tapes` with `norm`; returns the stream and whether it was replayed. */
  const scan = (tapes: WordTapes, view: PromptView, s: string, norm: Counting, vocabulary?: ReadonlySet<string>) => {
    const sink = new Collect(vocabulary);
    const before = norm.calls;
    tapes.tokenize(view, 0, s, norm, sink);
    return { stream: sink.stream, replayed: norm.calls === before };
  };

  it('records exactly what tokenize streams, and replays it only where that is exactly what tokenize would stream', () => {
    let crossMode = 0;
    let direct = 0;
    const tapes = new WordTapes();
    fc.assert(fc.property(text, fc.boolean(), fc.boolean(), (s, joinFirst, withVocabulary) => {
      const vocabulary = withVocabulary ? new Set(['wire', 'ship', 'shipping']) : undefined;
      const [first, second] = joinFirst ? [modes[1], modes[0]] : [modes[0], modes[1]];
      const view = oneSegment();
      const recorded = scan(tapes, view, s, first, vocabulary);
      expect(recorded.replayed).toBe(false);
      const want = (norm: TextNormalizer) => { const c = new Collect(vocabulary); norm.tokenize(s, c); return c.stream; };
      expect(recorded.stream).toEqual(want(first));
      for (const norm of [first, second]) {
        const again = scan(tapes, view, s, norm, vocabulary);
        expect(again.stream).toEqual(want(norm));
        if (!again.replayed) direct++;
        else if (norm === second) crossMode++;
      }
    }), { numRuns: 3000 });
    // both outcomes occur: the property is not vacuous
    expect(crossMode).toBeGreaterThan(100);
    expect(direct).toBeGreaterThan(100);
  });

  it('serves the other possessive mode only when the text has no apostrophe inside a word', () => {
    const tapes = new WordTapes();
    const replayedIn = (s: string, recordWith: Counting, then: Counting): boolean => {
      const view = oneSegment();
      scan(tapes, view, s, recordWith);
      return scan(tapes, view, s, then).replayed;
    };
    expect([replayedIn('the wire transfer', modes[0], modes[0]), replayedIn('the wire transfer', modes[0], modes[1])]).toEqual([true, true]);
    expect([replayedIn("someone's car", modes[0], modes[0]), replayedIn("someone's car", modes[0], modes[1])]).toEqual([true, false]);
    expect([replayedIn('don\u2019t', modes[1], modes[0]), replayedIn('don\u2019t', modes[1], modes[1])]).toEqual([false, true]);
  });

  it('never replays words whose recording asked the sink whether it knows a word (invisible characters inside)', () => {
    const tapes = new WordTapes();
    for (const vocabulary of [new Set(['ship']), undefined]) {
      const view = oneSegment();
      scan(tapes, view, 'ship\u200Bping', modes[0], vocabulary);
      expect(scan(tapes, view, 'ship\u200Bping', modes[0], vocabulary).replayed).toBe(false);
    }
    const view = oneSegment();
    scan(tapes, view, 'ship\u00E9 ping', modes[0], new Set(['ship']));
    expect(scan(tapes, view, 'ship\u00E9 ping', modes[0], new Set(['ship'])).replayed).toBe(true);
  });

  it('stops recording after views that no second scan read, and starts again when one does', () => {
    const tapes = new WordTapes();
    const twice = (): number => {
      const view = oneSegment();
      const before = drop.calls;
      scan(tapes, view, 'wire transfer', drop);
      scan(tapes, view, 'wire transfer', drop);
      return drop.calls - before;
    };
    expect(twice()).toBe(1);
    for (let i = 0; i < 8; i++) scan(tapes, oneSegment(), 'wire transfer', drop); // single scans: recording goes off
    expect(twice()).toBe(2); // not recorded, but the second scan is noticed
    expect(twice()).toBe(1); // so the next view is recorded again
  });
});

describe('promptTapes: topics and moderation tokenise each message once', () => {
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
    const classifier = builtinClassifier();
    for (const scope of ['latest', 'conversation'] as const) {
      expect(matcher.matchPrompt(view, 'all', scope, promptTapes)).toEqual(matcher.matchPrompt(view, 'all', scope));
    }
    const shared = classifier.classifyPrompt(view, 'all', promptTapes);
    expect(shared).toEqual(classifier.classifyPrompt(view, 'all'));
    expect(shared['self-harm']).toBeGreaterThan(0.5); // the classifier did read the replayed words
    expect(matcher.matchPrompt(view, 'all', 'conversation', promptTapes)).toEqual({ allow: [0], deny: [1, 2] });
  });

  it('tokenises a message once for every scan of the request that reads it', () => {
    const tapes = new WordTapes();
    const norm = new Counting();
    const seen: string[][] = [];
    for (let round = 0; round < 3; round++) {
      const sink = new Collect();
      for (let k = 0; k < view.segments.length; k++) tapes.tokenize(view, k, view.segments[k]!.text, norm, sink);
      seen.push(sink.stream);
    }
    expect(norm.calls).toBe(view.segments.length);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
  });
});
