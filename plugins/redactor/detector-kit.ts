// The detector contract the redaction engine runs (trigger, extent, refine), its result markers, and the small
// helpers every detector family uses: native-regex triggers and ASCII character-class bitmaps for the extent scanners.
// The families live in detectors-*.ts; the table of built-in detectors in detectors.ts.
/** A mutable [start, end) pair reused by the scanners (single-threaded, never held across calls). */
export interface SpanOut { start: number; end: number }

/** Returned by `extend` when the value may continue past the text seen so far. */
export const NEED_MORE = -1;
/** Returned by `extend` when the trigger cannot become a match. */
export const REJECT = -2;

/**
 * One detector, as the engine runs it. A candidate is found in three steps: the trigger matches at `s` (every start
 * position is tried, see engine.ts); `extend` (if any) finds where the value ends; `refine` (if any) validates it
 * and may narrow it to the span that is actually redacted (`start` at most `maxCut` after `s`).
 */
export interface Detector {
  /** Type name: metric label `type`, audit key, `[LABEL:hash]` prefix source. Built-ins: snake_case names. */
  readonly name: string;
  /** Label text used by the `label` style (e.g. `[EMAIL]`). */
  readonly label: string;
  /** Token name used by the `hash` style: `[EMAIL:3f9a1c2b]`. */
  readonly tokenName: string;
  /** Finds the first trigger match starting at or after `from`; fills `m` and returns true, or returns false. */
  find(text: string, from: number, m: SpanOut): boolean;
  /** Longest trigger match, in UTF-16 code units. */
  readonly triggerMax: number;
  /** Characters past the trigger's end that the trigger or `refine` may read (lookahead / boundary checks). */
  readonly lookahead: number;
  /** Characters before the trigger's start that the trigger reads (lookbehind). */
  readonly lookbehind: number;
  /** Largest distance between the trigger's start and the redacted span's start. */
  readonly maxCut: number;
  /** Longest redacted span, in UTF-16 code units (documentation and caps). */
  readonly maxLength: number;
  /**
   * Where the value that starts with the trigger `[s, te)` ends: an index, NEED_MORE when the text seen so far
   * ends inside it (and `eof` is false), or REJECT. MUST return an index only once the end is certain.
   */
  readonly extend?: (text: string, s: number, te: number, eof: boolean) => number;
  /** Validates `[s, e)`; fills `out` with the span to redact (out.start >= s) and returns true, or returns false. */
  readonly refine?: (text: string, s: number, e: number, out: SpanOut) => boolean;
  /**
   * When set, the engine may find this trigger together with the triggers of the other enabled detectors of the same
   * `scan.group` in one regex scan (an alternation of their sources) instead of one scan per detector. The union
   * MUST find the same matches as `find`: `source` is the whole trigger `find` runs.
   */
  readonly scan?: TriggerScan;
}

/** A trigger as a regex source, for one combined scan with other detectors' triggers (see Detector.scan). */
export interface TriggerScan {
  /** Detectors of one group are scanned together (same flags). */
  readonly group: string;
  /** The whole trigger: lookbehind + body + lookahead. */
  readonly source: string;
  /** `''` or `'i'`. */
  readonly flags: string;
  /** Every character a match can start with (all ASCII), computed from the trigger's body when the module loads. */
  readonly first: string;
}

/** Builds a `find` over a native global RegExp (lastIndex-driven, so lookbehind sees the text before `from`). */
export function nativeFind(re: RegExp): Detector['find'] {
  return (text, from, m) => {
    re.lastIndex = from;
    const r = re.exec(text);
    if (r === null) return false;
    m.start = r.index;
    m.end = r.index + r[0].length;
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Character classes for the extent scanners (ASCII bitmaps: one lookup per character, no regex on the hot path).

export function charClass(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i + 1] === '-' && i + 2 < chars.length) {
      for (let c = chars.charCodeAt(i); c <= chars.charCodeAt(i + 2); c++) t[c] = 1;
      i += 2;
    } else t[chars.charCodeAt(i)] = 1;
  }
  return t;
}
export const inClass = (t: Uint8Array, c: number): boolean => c < 128 && t[c] === 1;

/** Scans `[from, …)` while characters are in `cls`, up to `s + cap`; an extent result (see Detector.extend). */
export function scanClass(text: string, s: number, from: number, eof: boolean, cls: Uint8Array, cap: number): number {
  const limit = s + cap;
  let i = from;
  while (i < text.length && i < limit && inClass(cls, text.charCodeAt(i))) i++;
  if (i === limit) return i;
  if (i === text.length && !eof) return NEED_MORE;
  return i;
}

export const ALNUM = charClass('A-Za-z0-9');
export const isAlnum = (c: number): boolean => inClass(ALNUM, c);
export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
