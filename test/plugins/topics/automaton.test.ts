// The word-level Aho–Corasick automaton against a naive matcher on random vocabularies and texts (overlaps, shared
// prefixes and suffixes, repeated words), plus its construction errors.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WordAutomaton, WordScanner, type MatchSink } from '../../../src/text/automaton.ts';
import { TextNormalizer, hashWord, packHi, packLo } from '../../../src/text/normalize.ts';

/** Every (pattern, last word index) occurrence of `patterns` in `words`, sorted. */
function naive(patterns: readonly (readonly string[])[], words: readonly string[]): string[] {
  const out: string[] = [];
  patterns.forEach((p, id) => {
    for (let end = p.length - 1; end < words.length; end++) {
      if (p.every((w, k) => words[end - p.length + 1 + k] === w)) out.push(`${id}@${end}`);
    }
  });
  return out.sort();
}

/** Feeds `words` straight to a scanner (no normaliser: one-letter runs would be joined) and collects matches. */
function scan(ac: WordAutomaton, words: readonly string[]): string[] {
  const got: string[] = [];
  const sink: MatchSink = { onMatch: (p, last) => { got.push(`${p}@${last}`); } };
  const scanner = new WordScanner(ac, sink);
  scanner.reset();
  for (const w of words) {
    const chars = Uint16Array.from(w, (c) => c.charCodeAt(0));
    scanner.onWord(chars, 0, chars.length, hashWord(chars, 0, chars.length));
  }
  return got.sort();
}

/** Like `scan`, but each word sits in a shared buffer followed by unrelated characters (as the normaliser passes them). */
function scanPadded(ac: WordAutomaton, words: readonly string[]): string[] {
  const got: string[] = [];
  const scanner = new WordScanner(ac, { onMatch: (p, last) => { got.push(`${p}@${last}`); } });
  const buf = new Uint16Array(64);
  scanner.reset();
  words.forEach((w, i) => {
    for (let k = 0; k < buf.length; k++) buf[k] = 97 + ((k * 7 + i) % 26);
    const at = i % 5;
    for (let k = 0; k < w.length; k++) buf[at + k] = w.charCodeAt(k);
    scanner.onWord(buf, at, w.length, hashWord(buf, at, w.length));
  });
  return got.sort();
}

/**
 * Like `scanPadded`, but passing each word's packed key as the normaliser does (short ASCII words are then confirmed
 * by comparing keys, not characters); `keys: false` passes none (hi -1) even for words that have one.
 */
function scanKeyed(ac: WordAutomaton, words: readonly string[], keys = true): string[] {
  const got: string[] = [];
  const scanner = new WordScanner(ac, { onMatch: (p, last) => { got.push(`${p}@${last}`); } });
  const buf = new Uint16Array(64);
  scanner.reset();
  words.forEach((w, i) => {
    for (let k = 0; k < buf.length; k++) buf[k] = 97 + ((k * 5 + i) % 26);
    const at = i % 3;
    for (let k = 0; k < w.length; k++) buf[at + k] = w.charCodeAt(k);
    const hi = keys ? packHi(buf, at, w.length) : -1;
    scanner.onWord(buf, at, w.length, hashWord(buf, at, w.length), packLo(buf, at, w.length), hi);
  });
  return got.sort();
}

describe('WordAutomaton', () => {
  const vocab = ['a', 'ab', 'abc', 'b', 'ba', 'bab', 'c', 'ca', 'refund', 'policy', 'wire', 'transfer'];
  const word = fc.constantFrom(...vocab);

  it('finds exactly the occurrences a naive matcher finds (random patterns and texts)', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.array(word, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40, selector: (p) => p.join(' ') }),
      fc.array(word, { maxLength: 60 }),
      (patterns, words) => {
        const ac = new WordAutomaton(patterns);
        expect(scan(ac, words)).toEqual(naive(patterns, words));
        expect(scanPadded(ac, words)).toEqual(naive(patterns, words));
        expect(scanKeyed(ac, words)).toEqual(naive(patterns, words));
      },
    ), { numRuns: 500 });
  });

  it('tells apart words with the same hash and length, in the vocabulary or not', () => {
    // FNV-1a collisions: 7- and 8-letter words are compared by packed key (or packed on the fly when the caller
    // passes none), 10-letter words in the pool; the last three pairs put an ASCII word against one with a
    // Cyrillic letter (compared inline, never PACKED)
    const pairs = [['abcfytw', 'wzkvyxm'], ['epqbazqt', 'gbgzqjoh'], ['cpcpebovsr', 'adwroxmjiz'],
      ['ntdnry', 'edщaqu'], ['lxedfk', 'oaгkrz'], ['dnwvco', 'xmпqya']];
    for (const [a, b] of pairs) expect(hashWord(a!, 0, a!.length)).toBe(hashWord(b!, 0, b!.length));
    const word = fc.constantFrom(...pairs.flat(), 'x', 'y');
    fc.assert(fc.property(
      fc.uniqueArray(fc.array(word, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12, selector: (p) => p.join(' ') }),
      fc.array(word, { maxLength: 40 }),
      (patterns, words) => {
        const ac = new WordAutomaton(patterns);
        const want = naive(patterns, words);
        expect(scan(ac, words)).toEqual(want);
        expect(scanPadded(ac, words)).toEqual(want);
        expect(scanKeyed(ac, words)).toEqual(want);
        expect(scanKeyed(ac, words, false)).toEqual(want);
      },
    ), { numRuns: 500 });
  });

  it('reports every overlapping and nested occurrence', () => {
    const patterns = [['a', 'b'], ['b', 'c'], ['a', 'b', 'c'], ['b'], ['c', 'a']];
    const ac = new WordAutomaton(patterns);
    const words = 'a b c a b'.split(' ');
    expect(scan(ac, words)).toEqual(naive(patterns, words));
    expect(scan(ac, words)).toEqual(['0@1', '0@4', '1@2', '2@2', '3@1', '3@4', '4@3']);
  });

  it('counts its vocabulary and states', () => {
    const ac = new WordAutomaton([['refund', 'policy'], ['refund'], ['wire', 'transfer']]);
    expect(ac.vocabularySize).toBe(4);
    expect(ac.stateCount).toBe(5);
    expect(Array.from(ac.patternWords)).toEqual([2, 1, 2]);
  });

  it.each([
    { note: 'an empty pattern', patterns: [[]], error: 'empty pattern' },
    { note: 'an empty word', patterns: [['a', '']], error: 'empty word' },
    { note: 'a duplicate pattern', patterns: [['a', 'b'], ['a', 'b']], error: 'duplicate pattern' },
  ])('rejects $note', ({ patterns, error }) => {
    expect(() => new WordAutomaton(patterns)).toThrow(error);
  });

  it('a reset starts a new segment: no match spans two segments', () => {
    const ac = new WordAutomaton([['wire', 'transfer']]);
    const got: number[] = [];
    const scanner = new WordScanner(ac, { onMatch: (p) => { got.push(p); } });
    const n = new TextNormalizer();
    scanner.reset(); n.tokenize('please wire', scanner);
    scanner.reset(); n.tokenize('transfer it', scanner);
    expect(got).toEqual([]);
    scanner.reset(); n.tokenize('please wire transfer it', scanner);
    expect(got).toEqual([0]);
  });
});
