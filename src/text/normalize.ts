// The matching normaliser shared by the topic matcher and the builtin moderation classifier: folds text into a
// canonical word stream (NFKD compatibility folding, case, diacritics, homoglyphs, invisibles, separators, leet).
// Phrases (compile time) and request text (hot path) go through this same function, so they always agree.
import * as tables from './char-tables.ts';

export { hashWord, HOMOGLYPHS, PACK_MAX, packHi, packLo } from './char-tables.ts';

// The tables as this module's own constants: the hot loops read them without the per-access check an imported
// binding costs (measured: the topic scan ~1.5× slower reading them as imports).
const {
  APOS, ASCII, ASCII_FLAGS, ASCII_WORD, ASTRAL_FOLD, astralClass, CJK, CLASS, DROP, EXPAND, EXPANSIONS,
  F_ASCII_LETTER, F_LEET_DIGIT, F_OTHER_LETTER, FNV_OFFSET, FNV_PRIME, FOLD, hashWord, INVISIBLE,
  KEY_MASKS, LEET, PACK_MAX, packHi, packLo, SEP, WORD,
} = tables;

/** Streams `raw[start..start+len)` to `sink` with its hash and packed key computed here (words rewritten after tokenising). */
function emitWord(sink: WordSink, raw: Uint16Array, start: number, len: number): void {
  sink.onWord(raw, start, len, hashWord(raw, start, len), packLo(raw, start, len), packHi(raw, start, len));
}
/** Copies text into the ASCII fast path's byte buffer (UTF-8: one byte per ASCII character). */
const UTF8 = new TextEncoder();

/**
 * Receives the normalised words of a text, in order. `chars[start..start+len)` is only valid during the call;
 * `hash` is `hashWord(chars, start, len)`, computed while tokenising. When `hi` is 0 or more, the word is short
 * ASCII and (`lo`, `hi`) is its packed key, `packLo`/`packHi` (computed while tokenising too); when it is -1 the
 * word has no key or the normaliser did not compute it (it does on the ASCII fast path).
 */
export interface WordSink {
  onWord(chars: Uint16Array, start: number, len: number, hash: number, lo: number, hi: number): void;
  /**
   * Optional: whether a word is known (in some phrase). For a word that had invisible characters removed inside
   * it (`wire\u200Btransfer`), the normaliser asks; when the joined word is unknown it emits the pieces between
   * the invisible characters as separate words instead (`wire`, `transfer`). Sinks without it get the joined word.
   */
  knows?(chars: Uint16Array, start: number, len: number, hash: number): boolean;
}

/** True when the code unit at `i` of `s` starts a word character (for the apostrophe rule). */
function isWordAt(s: string, i: number): boolean {
  if (i >= s.length) return false;
  const c = s.charCodeAt(i);
  if (c < 128) return ASCII[c]! > 1;
  return CLASS[c] === WORD || CLASS[c] === EXPAND;
}

/** True when the apostrophe at `i` starts a possessive `'s` that ends the word (`competitor's`, `Acme’s`). */
function isPossessiveAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i + 1);
  return (c === 0x73 || c === 0x53) && !isWordAt(s, i + 2);
}

/**
 * Folds text into the canonical stream of words, reusing its own buffers (no allocation per call once warm).
 *
 * The rules, in order:
 * 1. NFKD compatibility decomposition (only when the text has non-ASCII characters): fullwidth, ligatures,
 *    mathematical letters, superscripts… become plain letters; accented letters split into base + mark.
 * 2. Per character: format characters (\p{Cf}: zero-width space/joiners, soft hyphen, BOM, bidi controls…),
 *    Hangul fillers, combining diacritics and variation selectors are removed without breaking the word
 *    (a sink with `knows` gets the pieces instead when the joined word is unknown, see {@link WordSink});
 *    letters, digits and other marks are lower-cased and folded through {@link HOMOGLYPHS} (ß → ss, æ → ae);
 *    an apostrophe between two word characters is removed (`don't` → `dont`); every run of anything else
 *    (spaces, punctuation, symbols, emoji) is one word break.
 * 3. Runs of three or more one-character words, at least one a letter, are joined (`s h i p` → `ship`).
 * 4. Leet: in a word containing an ASCII letter and no other letters, the digits 0 1 3 4 5 7 become o i e a s t.
 *
 * `tokenize` streams the words to a sink (the matchers); `normalize` writes the canonical text
 * `" " + word + " " + word + … + " "` into `buf` (regex entries, compile time).
 */
export class TextNormalizer implements WordSink {
  /** Output of `normalize`: code units valid up to `length`. */
  buf = new Uint16Array(4096);
  /** Length of the last `normalize` output. */
  length = 0;
  #raw = new Uint16Array(4096);
  #runStart = 0;
  #runCount = 0;
  #runFlags = 0;
  /** Offsets in #raw where an invisible character was removed inside the current word (at most 32 kept). */
  #cuts = new Int32Array(32);
  #ncuts = 0;
  /** Whether a possessive `'s` ending a word is dropped (`competitor's` → `competitor`) or joined (`competitors`). */
  readonly #dropPossessive: boolean;
  /**
   * Apostrophes met between two word characters by the last `tokenize` (the only place the possessive option is read):
   * when 0, the words streamed are the same in either possessive mode (a word tape may serve both, src/text/word-tape.ts).
   */
  apostrophes = 0;

  /**
   * `possessive`: `drop` (default; the topic matcher) removes a possessive `'s` at the end of a word, so a phrase
   * matches its possessive; `join` treats it like any apostrophe between letters (`someone's` → `someones`), which
   * keeps a possessor apart from the person (the moderation lexicon relies on it).
   */
  constructor(opts: { possessive?: 'drop' | 'join' } = {}) {
    this.#dropPossessive = opts.possessive !== 'join';
  }

  /** True when a possessive `'s` is joined (`possessive: 'join'`), false when it is dropped (the default). */
  get joinsPossessive(): boolean {
    return !this.#dropPossessive;
  }

  /**
   * ASCII fast path: the text as bytes (UTF-8 of an ASCII text) in `#bytes`, which starts 8 bytes into `#buf8` (so
   * the last 8 bytes up to any word end can be read as two Int32 through `#view`) and has room for a sentinel.
   */
  #buf8 = new Uint8Array(4096 + 24);
  #bytes = this.#buf8.subarray(8);
  #view = new DataView(this.#buf8.buffer);

  /**
   * Streams the normalised words of `text` to `sink`. Pure-ASCII text (most prompts) takes a fast path: one native
   * copy into a byte buffer, which also tells whether every character is ASCII, then a byte loop that needs none of
   * the Unicode tables (NFKD, homoglyphs and invisible characters cannot occur). It streams exactly what
   * {@link tokenizeGeneral} streams for the same text.
   */
  tokenize(text: string, sink: WordSink): void {
    const n = text.length;
    this.apostrophes = 0;
    let bytes = this.#bytes;
    if (bytes.length < n + 16) {
      this.#buf8 = new Uint8Array(n + (n >> 1) + 24);
      bytes = this.#bytes = this.#buf8.subarray(8);
      this.#view = new DataView(this.#buf8.buffer);
    }
    // UTF-8 of an ASCII character is one byte and of anything else at least two (a surrogate pair: 4 for 2 units),
    // so the whole text was copied as ASCII exactly when as many bytes were written as code units read, all of them
    const r = UTF8.encodeInto(text, bytes);
    if (r.written === n && r.read === n) this.#tokenizeAscii(bytes, n, sink);
    else this.tokenizeGeneral(text, sink);
  }

  /**
   * The ASCII fast path: `bytes[0..n)` is an ASCII text. The rules reduce to: letters (lower-cased) and digits
   * are word characters, an apostrophe between two word characters is dropped, anything else breaks words; then
   * the one-letter runs and leet, as for any text (in #endToken). No NFKD (ASCII is its own decomposition), no
   * invisible characters (ASCII has no format characters), so no cuts.
   */
  #tokenizeAscii(bytes: Uint8Array, n: number, sink: WordSink): void {
    bytes[n] = 0; // the sentinel: a separator, so the word loop needs no bounds test
    const raw = this.#reserve(n, 0);
    const W = ASCII_WORD;
    this.#runCount = 0;
    this.#runFlags = 0;
    this.#ncuts = 0;
    let rawLen = 0;
    let i = 0;
    for (;;) {
      let a = W[bytes[i]!]!;
      if (a === 0) {
        if (++i >= n) break;
        continue;
      }
      const start = rawLen;
      let h = FNV_OFFSET;
      let flags = 0;
      let apos = false; // an apostrophe was dropped inside the word
      let skip = 0; // a possessive 's after the word: characters to skip once the word is ended
      for (;;) {
        do {
          const f = a & 0xff;
          raw[rawLen++] = f;
          h = Math.imul(h ^ f, FNV_PRIME);
          flags |= a;
          a = W[bytes[++i]!]!;
        } while (a !== 0);
        // bytes[i] ends the run (i ≤ n); an apostrophe followed by a word character joins the next run, except a
        // possessive 's at the end of the word, which is dropped (bytes[n] is the sentinel 0, so i + 2 ≤ n + 1 is readable
        // once i + 1 < n)
        if (bytes[i] === 0x27 && (a = W[bytes[i + 1]!]!) !== 0) {
          this.apostrophes++;
          if (this.#dropPossessive && (bytes[i + 1] === 0x73 || bytes[i + 1] === 0x53) && (i + 2 >= n || W[bytes[i + 2]!] === 0)) { skip = 2; break; }
          i++;
          apos = true;
          continue;
        }
        break;
      }
      const len = rawLen - start;
      let lo: number;
      let hi: number;
      if (len <= PACK_MAX && !apos) {
        // the packed key, read straight from the text's bytes (big-endian: the last character in the low byte; the
        // buffer has 8 bytes of slack before the text), masked to the word and lower-cased: a letter or digit byte
        // with bit 0x20 set is its lower-case form
        const view = this.#view;
        const m = len << 1;
        lo = (view.getInt32(i + 4) | 0x20202020) & KEY_MASKS[m]!;
        hi = (view.getInt32(i) | 0x20202020) & KEY_MASKS[m + 1]!;
      } else if (len <= PACK_MAX) {
        lo = packLo(raw, start, len);
        hi = packHi(raw, start, len);
      } else { lo = 0; hi = -1; }
      this.#endToken(start, len, flags >>> 8, h, lo, hi, sink);
      i += skip;
      if (++i >= n) break; // bytes[i] was a separator (or the sentinel)
    }
    if (this.#runCount > 0) this.#flushRun(sink);
  }

  /** Streams the normalised words of `text` to `sink`, without the ASCII fast path (any text; tests compare the two). */
  tokenizeGeneral(text: string, sink: WordSink): void {
    // NFKD is applied lazily, at the first non-ASCII character: it leaves an ASCII prefix unchanged (ASCII
    // characters decompose to themselves and are starters, so canonical reordering never moves them), so the
    // scan goes on at the same index of the normalised text. Pure-ASCII text is read once.
    this.apostrophes = 0;
    let s = text;
    let n = s.length;
    let folded = false;
    let raw = this.#reserve(n, 0);
    let rawLen = 0;
    let tokStart = 0;
    let inTok = false;
    let flags = 0;
    let h = FNV_OFFSET;
    // the word's packed key (see packLo/packHi), shifted in a character at a time; valid when every character is
    // ASCII (no F_OTHER_LETTER) and the word is short, see #endWord
    let kLo = 0;
    let kHi = 0;
    this.#runCount = 0;
    this.#runFlags = 0;
    this.#ncuts = 0;
    let i = 0;
    while (i < n) {
      let code = s.charCodeAt(i);
      if (code < 128) {
        let a = ASCII_WORD[code]!;
        if (a !== 0) {
          // a run of ASCII letters and digits, in a tight loop (one table load per character)
          if (!inTok) { inTok = true; tokStart = rawLen; flags = 0; h = FNV_OFFSET; kLo = 0; kHi = 0; }
          do {
            const f = a & 0xff;
            raw[rawLen++] = f;
            h = Math.imul(h ^ f, FNV_PRIME);
            kHi = (kHi << 8) | (kLo >>> 24);
            kLo = (kLo << 8) | f;
            flags |= a >>> 8;
            if (++i === n) break;
            code = s.charCodeAt(i);
            a = code < 128 ? ASCII_WORD[code]! : 0;
          } while (a !== 0);
          continue;
        }
        if (inTok) {
          if (code === 0x27) {
            // the apostrophe rule looks at the next character: fold first if it is not ASCII
            if (!folded && i + 1 < n && s.charCodeAt(i + 1) >= 128) {
              folded = true;
              s = text.normalize('NFKD');
              n = s.length;
              raw = this.#reserve(n, rawLen);
              continue; // same index, now in the normalised text
            }
            if (isWordAt(s, i + 1)) {
              this.apostrophes++;
              if (this.#dropPossessive && isPossessiveAt(s, i)) {
                i += 2;
                inTok = false;
                this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
                continue;
              }
              i++;
              continue;
            }
          }
          inTok = false;
          this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
        }
        i++;
        continue;
      }
      if (!folded) {
        folded = true;
        s = text.normalize('NFKD');
        n = s.length;
        raw = this.#reserve(n, rawLen);
        continue; // same index, now in the normalised text
      }
      let cls: number;
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < n) {
        const lo = s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          i += 2;
          const cp = ((code - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
          cls = astralClass(cp);
          if (cls === CJK) {
            if (inTok) { inTok = false; this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink); }
            this.#cjkWord(rawLen, code, lo, sink);
            rawLen += 2;
            continue;
          }
          if (cls === WORD) {
            if (!inTok) { inTok = true; tokStart = rawLen; flags = 0; h = FNV_OFFSET; kLo = 0; kHi = 0; }
            const folded = ASTRAL_FOLD.get(cp);
            const hiU = folded === undefined ? code : ((folded - 0x10000) >> 10) + 0xd800;
            const loU = folded === undefined ? lo : ((folded - 0x10000) & 0x3ff) + 0xdc00;
            raw[rawLen++] = hiU;
            raw[rawLen++] = loU;
            h = Math.imul(Math.imul(h ^ hiU, FNV_PRIME) ^ loU, FNV_PRIME);
            flags |= F_OTHER_LETTER;
          } else if (cls === INVISIBLE) {
            if (inTok) this.#cut(rawLen);
          } else if (cls === SEP && inTok) {
            inTok = false;
            this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
          }
          continue;
        }
        cls = SEP;
      } else cls = CLASS[code]!;
      if (cls === WORD) {
        const f = FOLD[code]!;
        if (!inTok) { inTok = true; tokStart = rawLen; flags = 0; h = FNV_OFFSET; kLo = 0; kHi = 0; }
        raw[rawLen++] = f;
        h = Math.imul(h ^ f, FNV_PRIME);
        kHi = (kHi << 8) | (kLo >>> 24);
        kLo = (kLo << 8) | f;
        flags |= f < 128 ? ASCII_FLAGS[f]! : F_OTHER_LETTER;
      } else if (cls === EXPAND) {
        const pair = EXPANSIONS.get(code)!;
        if (!inTok) { inTok = true; tokStart = rawLen; flags = 0; h = FNV_OFFSET; kLo = 0; kHi = 0; }
        raw[rawLen++] = pair[0];
        raw[rawLen++] = pair[1];
        h = Math.imul(Math.imul(h ^ pair[0], FNV_PRIME) ^ pair[1], FNV_PRIME);
        kHi = (kHi << 16) | (kLo >>> 16);
        kLo = (kLo << 16) | (pair[0] << 8) | pair[1];
        flags |= F_ASCII_LETTER;
      } else if (cls === INVISIBLE) {
        if (inTok) this.#cut(rawLen);
      } else if (cls === CJK) {
        if (inTok) { inTok = false; this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink); }
        this.#cjkWord(rawLen, code, -1, sink);
        rawLen++;
      } else if (cls === APOS && inTok && isWordAt(s, i + 1) && ++this.apostrophes > 0 && this.#dropPossessive && isPossessiveAt(s, i)) {
        i += 2;
        inTok = false;
        this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
        continue;
      } else if (cls !== DROP && inTok && !(cls === APOS && isWordAt(s, i + 1))) {
        inTok = false;
        this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
      }
      i++;
    }
    if (inTok) this.#endWord(tokStart, rawLen - tokStart, flags, h, kLo, kHi, sink);
    if (this.#runCount > 0) this.#flushRun(sink);
  }

  /** Grows #raw (keeping its first `keep` code units) to hold the words of an `n`-code-unit text; returns it. */
  #reserve(n: number, keep: number): Uint16Array {
    if (this.#raw.length < n * 2 + 8) {
      const grown = new Uint16Array(n * 2 + 8);
      grown.set(this.#raw.subarray(0, keep));
      this.#raw = grown;
    }
    return this.#raw;
  }

  /** Writes the canonical text of `text` into `buf[0..length)` and returns the length. */
  normalize(text: string): number {
    if (this.buf.length < text.length * 3 + 8) this.buf = new Uint16Array(text.length * 3 + 8);
    this.buf[0] = 32;
    this.length = 1;
    this.tokenize(text, this);
    return this.length;
  }

  /** WordSink for `normalize`: appends `word + " "`. */
  onWord(chars: Uint16Array, start: number, len: number, _hash: number): void {
    let out = this.buf;
    let o = this.length;
    if (o + len + 1 > out.length) {
      // NFKD can expand one code unit into many (U+FDFA is 18): grow rather than silently drop the tail.
      const grown = new Uint16Array((o + len + 1) * 2);
      grown.set(out.subarray(0, o));
      this.buf = out = grown;
    }
    for (let p = start, end = start + len; p < end; p++) out[o++] = chars[p]!;
    out[o++] = 32;
    this.length = o;
  }

  /** The last `normalize` output as a string (allocates). */
  text(): string {
    let out = '';
    for (let i = 0; i < this.length; i += 4096) {
      out += String.fromCharCode.apply(null, this.buf.subarray(i, Math.min(this.length, i + 4096)) as unknown as number[]);
    }
    return out;
  }

  /**
   * Emits one Han or kana character (a surrogate pair when `lo` ≥ 0) as a word of its own at `raw[at]`. It ends the
   * one-character run first: CJK words are never joined by the letter-spacing rule.
   */
  #cjkWord(at: number, code: number, lo: number, sink: WordSink): void {
    if (this.#runCount > 0) this.#flushRun(sink);
    const raw = this.#raw;
    raw[at] = code;
    if (lo >= 0) raw[at + 1] = lo;
    emitWord(sink, raw, at, lo >= 0 ? 2 : 1);
  }

  #cut(at: number): void {
    const n = this.#ncuts;
    if (n < this.#cuts.length && (n === 0 || this.#cuts[n - 1] !== at)) this.#cuts[this.#ncuts++] = at;
  }

  /** Ends a word of the general path: its packed key is `kLo`/`kHi` when it is short and ASCII. */
  #endWord(start: number, len: number, flags: number, hash: number, kLo: number, kHi: number, sink: WordSink): void {
    this.#endToken(start, len, flags, hash, kLo, (flags & F_OTHER_LETTER) === 0 && len <= PACK_MAX ? kHi : -1, sink);
  }

  /** Ends a word: `lo`/`hi` its packed key (hi -1: none), as {@link WordSink.onWord} takes them. */
  #endToken(start: number, len: number, flags: number, hash: number, lo: number, hi: number, sink: WordSink): void {
    let stale = false; // hash and key no longer describe the characters (#emitSplit may have applied the leet rule)
    if (this.#ncuts > 0) {
      const ncuts = this.#ncuts;
      this.#ncuts = 0;
      if (this.#emitSplit(start, len, flags, ncuts, sink)) return;
      stale = true;
    }
    if (len === 1) {
      // one-character words are held back: three or more in a row are joined (they are contiguous in #raw)
      if (this.#runCount === 0) this.#runStart = start;
      this.#runCount++;
      this.#runFlags |= flags;
      return;
    }
    if (this.#runCount > 0) this.#flushRun(sink);
    if (this.#leet(start, len, flags) || stale) emitWord(sink, this.#raw, start, len);
    else sink.onWord(this.#raw, start, len, hash, lo, hi);
  }

  #flushRun(sink: WordSink): void {
    const count = this.#runCount;
    const start = this.#runStart;
    this.#runCount = 0;
    const flags = this.#runFlags;
    this.#runFlags = 0;
    const raw = this.#raw;
    if (count >= 3 && (flags & (F_ASCII_LETTER | F_OTHER_LETTER)) !== 0) {
      this.#leet(start, count, flags);
      emitWord(sink, raw, start, count);
      return;
    }
    for (let k = 0; k < count; k++) {
      const c = raw[start + k]!;
      sink.onWord(raw, start + k, 1, Math.imul(FNV_OFFSET ^ c, FNV_PRIME), c, c < 128 ? 0 : -1);
    }
  }

  /** A word with invisible characters removed inside: emitted whole when the sink knows it, else in pieces. */
  #emitSplit(start: number, len: number, flags: number, ncuts: number, sink: WordSink): boolean {
    if (sink.knows === undefined) return false;
    const end = start + len;
    let from = start;
    let pieces = 0;
    for (let k = 0; k < ncuts; k++) { const c = this.#cuts[k]!; if (c > from && c < end) { pieces++; from = c; } }
    if (pieces === 0) return false;
    this.#leet(start, len, flags);
    const raw = this.#raw;
    if (sink.knows(raw, start, len, hashWord(raw, start, len))) return false;
    if (this.#runCount > 0) this.#flushRun(sink);
    from = start;
    for (let k = 0; k <= ncuts; k++) {
      const c = k < ncuts ? this.#cuts[k]! : end;
      if (c > from && c <= end) { emitWord(sink, raw, from, c - from); from = c; }
    }
    return true;
  }

  /** Applies the leet rule to a word in place; true when it changed something. */
  #leet(start: number, len: number, flags: number): boolean {
    if ((flags & (F_ASCII_LETTER | F_LEET_DIGIT | F_OTHER_LETTER)) !== (F_ASCII_LETTER | F_LEET_DIGIT)) return false;
    const raw = this.#raw;
    let changed = false;
    for (let p = start, end = start + len; p < end; p++) {
      const c = raw[p]!;
      if (c < 128 && LEET[c] !== 0) { raw[p] = LEET[c]!; changed = true; }
    }
    return changed;
  }
}

const shared = new TextNormalizer();
const sharedJoin = new TextNormalizer({ possessive: 'join' });

/**
 * The canonical form of `text` without the outer spaces: words separated by single spaces (`"Wire--Transfer!"` →
 * `"wire transfer"`); `""` when nothing word-like remains. Allocates; meant for compile time and tests.
 */
export function normalizeText(text: string, opts: { possessive?: 'drop' | 'join' } = {}): string {
  const n = opts.possessive === 'join' ? sharedJoin : shared;
  n.normalize(text);
  return n.length <= 1 ? '' : n.text().slice(1, -1);
}
