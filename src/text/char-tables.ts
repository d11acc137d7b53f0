// The normaliser's tables: the class and fold of every BMP code unit (separator, word, dropped, expanded,
// apostrophe, invisible, CJK), homoglyphs and leet digits, the ASCII fast path's tables, and the word hash and packed
// key every matcher probes with. Built once at module load; src/text/normalize.ts streams words with them.
/** Character classes of the per-code-unit table. */
export const SEP = 0;
export const WORD = 1;
export const DROP = 2;
export const EXPAND = 3;
export const APOS = 4;
/** Invisible characters (format characters, Hangul fillers): removed, but remembered as possible word breaks. */
export const INVISIBLE = 5;
/** Han ideographs and kana: scripts written without spaces between words, so each character is a word of its own. */
export const CJK = 6;

/** Class of each BMP code unit (surrogates are handled in the loop). Built once at module load. */
export const CLASS = new Uint8Array(65536);
/** Folded form of each WORD code unit: lower-case, then homoglyph → Latin. */
export const FOLD = new Uint16Array(65536);
/** Two-letter expansions (ß → ss, æ → ae, œ → oe, ĳ → ij). */
export const EXPANSIONS = new Map<number, readonly [number, number]>([
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
export const LEET = new Uint16Array(128);
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
export const ASTRAL_FOLD = new Map<number, number>();
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
export function astralClass(cp: number): number {
  if (cp >= 0x20000 && cp <= 0x3134f) return CJK; // CJK unified ideographs, extensions B–H
  if (cp >= 0xe0000 && cp <= 0xe007f) return INVISIBLE;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return DROP;
  if (cp >= 0x1f000 && cp <= 0x1faff) return SEP;
  if (cp >= 0x1d000 && cp <= 0x1d24f) return SEP;
  return WORD;
}

/** Token flags. */
export const F_ASCII_LETTER = 1;
export const F_LEET_DIGIT = 2;
export const F_OTHER_LETTER = 4;

/** ASCII fast path: 0 separator, 1 apostrophe, otherwise the folded (lower-case) character. */
export const ASCII = new Uint8Array(128);
/** ASCII token flags per character. */
export const ASCII_FLAGS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (c >= 65 && c <= 90) { ASCII[c] = c + 32; ASCII_FLAGS[c] = F_ASCII_LETTER; }
  else if (c >= 97 && c <= 122) { ASCII[c] = c; ASCII_FLAGS[c] = F_ASCII_LETTER; }
  else if (c >= 48 && c <= 57) { ASCII[c] = c; ASCII_FLAGS[c] = LEET[c] !== 0 ? F_LEET_DIGIT : 0; }
  else if (c === 0x27) ASCII[c] = 1;
}

/** ASCII letters and digits: the folded character | token flags << 8; 0 for every other ASCII character. */
export const ASCII_WORD = new Uint16Array(128);
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
export const FNV_OFFSET = 0x811c9dc5 | 0;

/** Longest word that has a packed key. */
export const PACK_MAX = 8;
/** Per word length n ≤ 8: the masks of the packed key's low and high halves, at 2n and 2n + 1. */
export const KEY_MASKS = new Int32Array(18);
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
export const FNV_PRIME = 16777619;
