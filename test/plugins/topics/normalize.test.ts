// The matching normaliser: NFKD folding, case, diacritics, homoglyphs, invisible characters, separators, apostrophes,
// letter-spacing and leet, plus the streaming (tokenize) form agreeing with the string form on arbitrary input.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HOMOGLYPHS, PACK_MAX, TextNormalizer, hashWord, normalizeText, packHi, packLo, type WordSink } from '../../../src/text/normalize.ts';

interface Case { note: string; input: string; want: string }

const cases: Case[] = [
  { note: 'lower-cases ASCII and collapses punctuation runs into one break', input: 'Wire---Transfer!!', want: 'wire transfer' },
  { note: 'collapses repeated whitespace and dots between words', input: 'wire  .  transfer', want: 'wire transfer' },
  { note: 'drops a zero-width space inside a word', input: 'ship\u200Bping', want: 'shipping' },
  { note: 'drops ZWJ, ZWNJ, word joiner and BOM inside a word', input: 's\u200Dh\u200Ci\u2060p\uFEFFping', want: 'shipping' },
  { note: 'drops a soft hyphen inside a word', input: 'ship\u00ADping', want: 'shipping' },
  { note: 'drops bidi controls (LRO/RLO/isolates)', input: '\u202Eship\u202Cping \u2066x\u2069', want: 'shipping x' },
  { note: 'folds fullwidth letters (NFKD)', input: 'ＷＩＲＥ ｔｒａｎｓｆｅｒ', want: 'wire transfer' },
  { note: 'folds mathematical bold letters (astral, NFKD)', input: '𝐰𝐢𝐫𝐞 transfer', want: 'wire transfer' },
  { note: 'folds Cyrillic look-alikes onto Latin', input: 'wіrе trаnsfеr', want: 'wire transfer' },
  { note: 'folds Greek look-alikes onto Latin (upper case first lower-cased)', input: 'ΑΒΕΚΜΟΡΤΧ', want: 'abekmoptx' },
  { note: 'removes diacritics (NFKD + combining marks)', input: 'Çafé naïve İstanbul', want: 'cafe naive istanbul' },
  { note: 'removes stacked combining marks (zalgo)', input: 's\u0301\u0302\u0303hip', want: 'ship' },
  { note: 'expands ß and æ', input: 'Straße Æon', want: 'strasse aeon' },
  { note: 'folds letters without a decomposition (ø, ł)', input: 'Øre Łódź', want: 'ore lodz' },
  { note: "joins an apostrophe between letters, drops a possessive 's", input: "don't refund's", want: 'dont refund' },
  { note: 'treats a leading or trailing apostrophe as a break', input: "'quoted' text", want: 'quoted text' },
  { note: 'joins runs of three or more one-letter words', input: 's h i p p i n g now', want: 'shipping now' },
  { note: 'keeps two one-letter words apart', input: 'a b test', want: 'a b test' },
  { note: 'keeps runs of single digits apart (no letter)', input: 'call 1 2 3', want: 'call 1 2 3' },
  { note: 'folds leet digits in words that have letters', input: 'k1ll h3ll0 5h1pp1ng', want: 'kill hello shipping' },
  { note: 'leaves numbers alone', input: 'order 2024 costs 13 37', want: 'order 2024 costs 13 37' },
  { note: 'leet applies to letter-spaced words after joining', input: 'k 1 l l', want: 'kill' },
  { note: 'emoji and symbols separate words', input: 'wire😀transfer ©2024', want: 'wire transfer 2024' },
  { note: 'keeps non-Latin scripts as words, each Han character one word', input: 'Привет 世界', want: 'пpиbet 世 界' },
  { note: 'nothing word-like gives the empty string', input: '!!! \u200B ... ', want: '' },
];

describe('normalizeText', () => {
  it.each(cases)('$note', ({ input, want }) => {
    expect(normalizeText(input)).toBe(want);
  });

  it('maps every homoglyph to a single ASCII letter', () => {
    for (const [from, to] of Object.entries(HOMOGLYPHS)) {
      expect(to).toMatch(/^[a-z]$/);
      expect(normalizeText(`x${from}x`)).toBe(`x${to}x`);
    }
  });

  it('keeps every word when NFKD expands a character many times over (U+FDFA is 18 characters)', () => {
    const text = '\uFDFA'.repeat(1500) + ' wire transfer'; // past the initial 4096-unit buffer
    const words = normalizeText(text).split(' ');
    expect(words.slice(-2)).toEqual(['wire', 'transfer']);
    expect(normalizeText(text).length).toBeGreaterThan(1500 * 18);
  });

  it('is idempotent on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
      const once = normalizeText(s);
      expect(normalizeText(once)).toBe(once);
    }), { numRuns: 400 });
  });
});

describe('TextNormalizer.tokenize', () => {
  /** Collects the streamed words and checks each hash and packed key. */
  class Collect implements WordSink {
    words: string[] = [];
    /** Each word with its hash and key, as streamed. */
    stream: string[] = [];
    onWord(chars: Uint16Array, start: number, len: number, hash: number, lo: number, hi: number): void {
      expect(hash).toBe(hashWord(chars, start, len));
      // every short ASCII word comes with its key, and no other word with one
      expect(hi).toBe(packHi(chars, start, len));
      if (hi >= 0) expect(lo).toBe(packLo(chars, start, len));
      const word = String.fromCharCode(...chars.subarray(start, start + len));
      this.words.push(word);
      this.stream.push(`${word}/${hash}/${hi >= 0 ? lo : ''}/${hi}`);
    }
  }

  /** ASCII text that exercises every rule the fast path implements: case, digits (leet), apostrophes, letter runs. */
  const asciiText = fc.string({
    unit: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') },
      { weight: 2, arbitrary: fc.constantFrom(...'0123456789') },
      { weight: 3, arbitrary: fc.constantFrom(' ', ' ', "'", "'", '-', '.', ',', '!', '\n', '\t', '_', '"', '@', '\0', '\x7f') },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
    ),
    maxLength: 120,
  });

  it('the ASCII fast path streams exactly what the general path streams (random ASCII text)', () => {
    const fast = new TextNormalizer();
    const general = new TextNormalizer();
    fc.assert(fc.property(asciiText, (s) => {
      const a = new Collect();
      const b = new Collect();
      fast.tokenize(s, a);
      general.tokenizeGeneral(s, b);
      expect(a.stream).toEqual(b.stream);
    }), { numRuns: 2000 });
  });

  it('the ASCII fast path streams exactly what the general path streams (mixed text)', () => {
    // ASCII with evasions spliced in: the text as a whole takes the general path, its ASCII part must not change
    const evasive = fc.constantFrom('\u200B', '\u00AD', 'é', 'É', 'ß', 'Æ', 'і', 'а', 'ｗ', 'Ｗ', '𝐰', '😀', '\u2019', '\u0301', 'ø', '\uD800', '\uDC00', '世');
    const fast = new TextNormalizer();
    const general = new TextNormalizer();
    fc.assert(fc.property(fc.array(fc.oneof({ weight: 4, arbitrary: asciiText }, { weight: 1, arbitrary: evasive }), { maxLength: 8 }), (parts) => {
      const s = parts.join('');
      const a = new Collect();
      const b = new Collect();
      fast.tokenize(s, a);
      general.tokenizeGeneral(s, b);
      expect(a.stream).toEqual(b.stream);
      expect(a.words.join(' ')).toBe(normalizeText(s));
    }), { numRuns: 1000 });
  });

  it('the ASCII fast path handles the edges of its buffer (empty text, a word at the very end, texts that grow it)', () => {
    const n = new TextNormalizer();
    for (const s of ['', ' ', "'", "a'", "'a", 'A', 'ab', "don't", 'x'.repeat(9), 'Word'.repeat(3000), 'a b c d', 'k 1 l l', 'H3LL0 W0RLD']) {
      const a = new Collect();
      const b = new Collect();
      n.tokenize(s, a);
      new TextNormalizer().tokenizeGeneral(s, b);
      expect(a.stream).toEqual(b.stream);
    }
  });

  it('packs short ASCII words into keys that tell them apart', () => {
    expect(packHi('refunds', 0, 7)).toBe((0x72 << 16) | (0x65 << 8) | 0x66);
    expect(packLo('refunds', 0, 7)).toBe((0x75 << 24) | (0x6e << 16) | (0x64 << 8) | 0x73);
    expect(packHi('ab', 0, 2)).toBe(0);
    expect(packHi('abcdwxyz', 0, 8)).not.toBe(packHi('zzzzwxyz', 0, 8));
    expect(packHi('x'.repeat(PACK_MAX + 1), 0, PACK_MAX + 1)).toBe(-1);
    expect(packHi('café', 0, 4)).toBe(-1);
  });

  it('streams the same words normalize writes, with correct hashes, on arbitrary text', () => {
    const n = new TextNormalizer();
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
      const sink = new Collect();
      n.tokenize(s, sink);
      expect(sink.words.join(' ')).toBe(normalizeText(s));
    }), { numRuns: 400 });
  });

  it('splits a word at an invisible character when the sink does not know the joined word', () => {
    const n = new TextNormalizer();
    const known = new Set(['shipping', 'wire', 'transfer']);
    const sink = new (class extends Collect {
      knows(chars: Uint16Array, start: number, len: number): boolean {
        return known.has(String.fromCharCode(...chars.subarray(start, start + len)));
      }
    })();
    n.tokenize('ship\u200Bping wire\u200Btransfer', sink);
    expect(sink.words).toEqual(['shipping', 'wire', 'transfer']);
  });

  it('reuses its buffers: a long text after a short one is normalised completely', () => {
    const n = new TextNormalizer();
    n.normalize('short');
    const long = 'Refund '.repeat(5000);
    expect(n.normalize(long)).toBe(1 + 'refund '.length * 5000);
  });
});
