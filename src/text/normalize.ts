// The matching normaliser shared by the topic matcher and the builtin moderation classifier: folds text into a
// canonical word stream (NFKD compatibility folding, case, diacritics, homoglyphs, invisibles, separators, leet).
// Phrases (compile time) and request text (hot path) go through this same function, so they always agree.

/** Character classes of the per-code-unit table. */
const SEP = 0;
const WORD = 1;
const DROP = 2;
const EXPAND = 3;
const APOS = 4;
/** Invisible characters (format characters, Hangul fillers): removed, but remembered as possible word breaks. */
const INVISIBLE = 5;
/** Han ideographs and kana: scripts written without spaces between words, so each character is a word of its own. */
const CJK = 6;

/** Class of each BMP code unit (surrogates are handled in the loop). Built once at module load. */
const CLASS = new Uint8Array(65536);
/** Folded form of each WORD code unit: lower-case, then homoglyph → Latin. */
const FOLD = new Uint16Array(65536);
/** Two-letter expansions (ß → ss, æ → ae, œ → oe, ĳ → ij). */
const EXPANSIONS = new Map<number, readonly [number, number]>([
  [0x00df, [0x73, 0x73]], [0x00e6, [0x61, 0x65]], [0x00c6, [0x61, 0x65]], [0x0153, [0x6f, 0x65]], [0x0152, [0x6f, 0x65]],
  [0x1e9e, [0x73, 0x73]],
]);

/**
 * Look-alike letters folded onto the Latin letter they imitate, applied after lower-casing. Covers the Cyrillic and
 * Greek letters that render like Latin ones, Latin small capitals and letters whose stroke is not a decomposable
 * diacritic (ø, ł, đ, ħ, ı). Fullwidth, mathematical and circled forms need no entry: NFKD folds them.
 */
export const HOMOGLYPHS: Readonly<Record<string, string>> = Object.freeze({
  // Cyrillic
  'а': 'a', 'в': 'b', 'е': 'e', 'ѐ': 'e', 'і': 'i', 'ј': 'j', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p',
  'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ү': 'y', 'һ': 'h', 'ӏ': 'l',
  'ɡ': 'g',
  // Greek
  'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'μ': 'm', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
  'υ': 'u', 'χ': 'x', 'γ': 'y', 'ζ': 'z', 'ω': 'w',
  // Latin look-alikes without a canonical decomposition
  'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɩ': 'i', 'ø': 'o', 'ł': 'l', 'đ': 'd', 'ħ': 'h', 'ŧ': 't', 'ƀ': 'b',
  // small capitals
  'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j', 'ᴋ': 'k', 'ʟ': 'l',
  'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y',
  'ᴢ': 'z',
});

/** Leet digits folded to letters inside tokens that also contain an ASCII letter (`k1ll` → `kill`). */
const LEET = new Uint16Array(128);
for (const [d, l] of [['0', 'o'], ['1', 'i'], ['3', 'e'], ['4', 'a'], ['5', 's'], ['7', 't']] as const) {
  LEET[d.charCodeAt(0)] = l.charCodeAt(0);
}

/** Invisible code units removed without breaking a word (besides every \p{Cf} format character). */
const DROP_RANGES: readonly (readonly [number, number])[] = [
  [0x0300, 0x036f], // combining diacritical marks (what NFKD splits off accented letters), incl. U+034F CGJ
  [0x1ab0, 0x1aff], [0x1dc0, 0x1dff], [0x20d0, 0x20ff], [0xfe20, 0xfe2f], // more combining diacritics
  [0x17b4, 0x17b5], [0x180b, 0x180f], // Khmer inherent vowels, Mongolian variation selectors
  [0xfe00, 0xfe0f], // variation selectors
  [0x3099, 0x309a], // combining kana voiced sound marks (NFKD splits them off が, ぱ …)
];

/** Han and kana ranges (BMP) whose characters are words of one character each (see CJK). */
const CJK_RANGES: readonly (readonly [number, number])[] = [
  [0x3005, 0x3007], // 々 〆 〇
  [0x3040, 0x3098], [0x309b, 0x30ff], // hiragana, katakana (with ー), without the combining voiced marks
  [0x31f0, 0x31ff], // katakana phonetic extensions
  [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xf900, 0xfaff], // CJK unified ideographs (ext. A), compatibility ideographs
];

/** Case folding of astral letters (Deseret, Osage, Adlam …): code point → folded code point. Built once at load. */
const ASTRAL_FOLD = new Map<number, number>();
/** Letters that render as nothing (Hangul fillers): treated like zero-width characters. */
const INVISIBLE_LETTERS: readonly number[] = [0x115f, 0x1160, 0x3164, 0xffa0];

function buildTables(): void {
  const word = /^[\p{L}\p{N}\p{M}]$/u;
  const format = /^\p{Cf}$/u;
  for (let cp = 0; cp < 65536; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // surrogates: SEP in the table, handled in the loop
    const ch = String.fromCharCode(cp);
    if (format.test(ch)) { CLASS[cp] = INVISIBLE; continue; }
    if (word.test(ch)) {
      CLASS[cp] = WORD;
      // full case folding (CaseFolding.txt): lower-case the upper-case form, so that ς (final sigma) folds like σ,
      // ϐ like β, ſ like s; where that form is several letters (ß → SS), the plain lower case
      const viaUpper = ch.toUpperCase().toLowerCase();
      const lower = viaUpper.length === 1 ? viaUpper : ch.toLowerCase();
      // `İ`.toLowerCase() is "i" + U+0307: keep the base letter (the mark would be dropped anyway)
      let f = lower.length === 1 || (lower.length === 2 && lower.charCodeAt(1) >= 0x300 && lower.charCodeAt(1) <= 0x36f)
        ? lower.charCodeAt(0) : cp;
      const h = HOMOGLYPHS[String.fromCharCode(f)];
      if (h !== undefined) f = h.charCodeAt(0);
      FOLD[cp] = f;
    }
  }
  for (const [lo, hi] of DROP_RANGES) for (let cp = lo; cp <= hi; cp++) CLASS[cp] = DROP;
  for (const [lo, hi] of CJK_RANGES) for (let cp = lo; cp <= hi; cp++) { CLASS[cp] = CJK; FOLD[cp] = cp; }
  // the iota subscript (what NFKD splits off ᾳ, ῳ …) is a letter under full case folding (ᾳ → αι), not a diacritic
  CLASS[0x0345] = WORD;
  FOLD[0x0345] = FOLD[0x03b9]!;
  for (let cp = 0x10400; cp <= 0x1e9ff; cp++) {
    const ch = String.fromCodePoint(cp);
    const f = ch.toUpperCase().toLowerCase();
    if (f !== ch && f.length === 2) ASTRAL_FOLD.set(cp, f.codePointAt(0)!);
  }
  for (const cp of INVISIBLE_LETTERS) CLASS[cp] = INVISIBLE;
  for (const cp of EXPANSIONS.keys()) CLASS[cp] = EXPAND;
  // apostrophes join the letters around them (don't → dont) and separate elsewhere ('quoted')
  for (const cp of [0x27, 0x2019, 0x02bc, 0xff07]) CLASS[cp] = APOS;
}
buildTables();

/** Astral code points: tag characters and supplementary variation selectors vanish; emoji and symbols separate; other astral letters are word characters. */
function astralClass(cp: number): number {
  if (cp >= 0x20000 && cp <= 0x3134f) return CJK; // CJK unified ideographs, extensions B–H
  if (cp >= 0xe0000 && cp <= 0xe007f) return INVISIBLE;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return DROP;
  if (cp >= 0x1f000 && cp <= 0x1faff) return SEP;
  if (cp >= 0x1d000 && cp <= 0x1d24f) return SEP;
  return WORD;
}

/** Token flags. */
const F_ASCII_LETTER = 1;
const F_LEET_DIGIT = 2;
const F_OTHER_LETTER = 4;

/** ASCII fast path: 0 separator, 1 apostrophe, otherwise the folded (lower-case) character. */
const ASCII = new Uint8Array(128);
/** ASCII token flags per character. */
const ASCII_FLAGS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (c >= 65 && c <= 90) { ASCII[c] = c + 32; ASCII_FLAGS[c] = F_ASCII_LETTER; }
  else if (c >= 97 && c <= 122) { ASCII[c] = c; ASCII_FLAGS[c] = F_ASCII_LETTER; }
  else if (c >= 48 && c <= 57) { ASCII[c] = c; ASCII_FLAGS[c] = LEET[c] !== 0 ? F_LEET_DIGIT : 0; }
  else if (c === 0x27) ASCII[c] = 1;
}

/** ASCII letters and digits: the folded character | token flags << 8; 0 for every other ASCII character. */
const ASCII_WORD = new Uint16Array(128);
for (let c = 0; c < 128; c++) if (ASCII[c]! > 1) ASCII_WORD[c] = ASCII[c]! | (ASCII_FLAGS[c]! << 8);

/** FNV-1a hash of a normalised word, as {@link WordSink.onWord} receives it. */
export function hashWord(chars: Uint16Array | string, start: number, len: number): number {
  let h = FNV_OFFSET;
  if (typeof chars === 'string') {
    for (let p = start, end = start + len; p < end; p++) h = Math.imul(h ^ chars.charCodeAt(p), FNV_PRIME);
  } else {
    for (let p = start, end = start + len; p < end; p++) h = Math.imul(h ^ chars[p]!, FNV_PRIME);
  }
  return h;
}
const FNV_OFFSET = 0x811c9dc5 | 0;

/** Longest word that has a packed key. */
export const PACK_MAX = 8;
/** Per word length n ≤ 8: the masks of the packed key's low and high halves, at 2n and 2n + 1. */
const KEY_MASKS = new Int32Array(18);
for (let n = 0; n <= 8; n++) {
  KEY_MASKS[2 * n] = n >= 4 ? -1 : (1 << (8 * n)) - 1;
  KEY_MASKS[2 * n + 1] = n <= 4 ? 0 : n === 8 ? -1 : (1 << (8 * (n - 4))) - 1;
}

/**
 * The packed key of a short ASCII word (at most {@link PACK_MAX} characters, all below 128), in two halves: its
 * characters one byte each, the last four in `packLo` (the last character in the low byte) and the ones before in
 * `packHi`. With the length, it is the word itself: a matcher compares keys instead of characters. -1 from
 * `packHi` when the word has no key (longer, or a character of 128 or more); `packLo` is then meaningless.
 */
export function packLo(chars: Uint16Array | string, start: number, len: number): number {
  let lo = 0;
  for (let p = start, end = start + len; p < end; p++) lo = (lo << 8) | (typeof chars === 'string' ? chars.charCodeAt(p) : chars[p]!);
  return lo;
}

/** The high half of a word's packed key, or -1 when it has none (see {@link packLo}). */
export function packHi(chars: Uint16Array | string, start: number, len: number): number {
  if (len > PACK_MAX) return -1;
  let lo = 0;
  let hi = 0;
  for (let p = start, end = start + len; p < end; p++) {
    const c = typeof chars === 'string' ? chars.charCodeAt(p) : chars[p]!;
    if (c >= 128) return -1;
    hi = (hi << 8) | (lo >>> 24);
    lo = (lo << 8) | c;
  }
  return hi;
}
const FNV_PRIME = 16777619;

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
