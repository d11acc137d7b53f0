// Tokenise once per request: the word tapes record the words the normaliser streams for each scanned segment of a
// request's prompt while passing them on, and replay them to the next scan of the same prompt — topics and moderation
// share one tokenisation per message (whichever runs first records it). Exact: a replay streams the same words.
import type { PromptView } from '../sdk/prompt-view.ts';
import type { TextNormalizer, WordSink } from './normalize.ts';

/** Record fields per word: start in the character buffer, length, hash, packed key lo, hi (as WordSink.onWord takes them). */
const REC = 5;
/** Code units of slack after the last word: the automaton reads 8 units from a short word's start. */
const SLACK = 8;
/** Segments longer than this are tokenised directly, never recorded (bounds the buffers kept between requests). */
const MAX_RECORDED_TEXT = 1 << 16;

/** Per-segment state flags. */
const RECORDED = 1;
/** Recorded by a normaliser that joins possessives. */
const JOIN = 2;
/** The text had no apostrophe inside a word: the words are the same in either possessive mode. */
const ANY_MODE = 4;
/** The recording asked the sink's vocabulary (`knows`): the words depend on that sink, never replayed. */
const SINK_BOUND = 8;
/** Tokenised once without recording (recording was off): a second scan of it shows recording would pay. */
const SEEN = 16;
/** Views in a row whose tapes nobody replayed before recording is switched off (a policy with one scan only). */
const IDLE_VIEWS = 8;
/** While recording is off, one view in this many is still recorded, to notice when a second scan appears. */
const PROBE_EVERY = 32;

/**
 * The recorded words of the segments of one prompt view: the last view a scan asked about (a request's `ctx.prompt`;
 * its topic and moderation scans run back to back, so the second finds the first's tape). A scan of another view
 * starts afresh; buffers are reused, so the request path allocates nothing once they have grown. A tape serves a
 * normaliser of the possessive mode it was recorded in, and the other mode too when its text had no apostrophe inside a
 * word (the only place the modes differ); a tape whose recording asked the sink `knows` (a word with invisible
 * characters inside) depends on that sink's vocabulary and is never replayed. Not re-entrant (scans never yield).
 * Recording costs a copy of the words: when {@link IDLE_VIEWS} views in a row had no second scan (topics without
 * moderation, or the reverse), recording stops until a second scan of a view shows up again (results never depend on it).
 */
export class WordTapes implements WordSink {
  #view: PromptView | null = null;
  #chars = new Uint16Array(1024);
  #used = 0;
  #rec = new Int32Array(256 * REC);
  #count = 0;
  /** Per segment index: flags, first record, record count. */
  #flags = new Uint8Array(16);
  #first = new Int32Array(16);
  #words = new Int32Array(16);
  /** Segments below this index may have flags set (what `clear` resets). */
  #touched = 0;
  #target: WordSink | null = null;
  #recording = 0;
  /** A second scan of the current view read a segment (from its tape, or would have). */
  #wanted = false;
  /** Views in a row without a second scan; recording is on while below IDLE_VIEWS (or for a probe). */
  #idle = 0;
  #probe = 0;
  #recordOn = true;

  /**
   * Streams the normalised words of segment `segment` of `view` (its text is `text`) to `sink`, exactly as
   * `norm.tokenize(text, sink)` would: from its tape when one serves `norm`, else tokenising (recording the first time).
   */
  tokenize(view: PromptView, segment: number, text: string, norm: TextNormalizer, sink: WordSink): void {
    if (view !== this.#view) this.#reset(view);
    if (segment < 0 || segment >= this.#flags.length || text.length > MAX_RECORDED_TEXT) {
      norm.tokenize(text, sink);
      return;
    }
    const flags = this.#flags[segment]!;
    if (segment >= this.#touched) this.#touched = segment + 1;
    if ((flags & RECORDED) === 0) {
      if ((flags & SEEN) !== 0) this.#wanted = true;
      if (this.#recordOn) this.#record(segment, text, norm, sink);
      else {
        this.#flags[segment] = SEEN;
        norm.tokenize(text, sink);
      }
    } else if ((flags & SINK_BOUND) === 0 && ((flags & ANY_MODE) !== 0 || ((flags & JOIN) !== 0) === norm.joinsPossessive)) {
      this.#wanted = true;
      this.#replay(this.#first[segment]!, this.#words[segment]!, sink);
    } else norm.tokenize(text, sink);
  }

  /** Forgets every tape (the next scan records afresh). */
  clear(): void {
    this.#view = null;
    this.#used = 0;
    this.#count = 0;
    const flags = this.#flags;
    for (let k = 0, n = this.#touched; k < n; k++) flags[k] = 0;
    this.#touched = 0;
  }

  #reset(view: PromptView): void {
    if (this.#view !== null) this.#idle = this.#wanted ? 0 : Math.min(this.#idle + 1, IDLE_VIEWS);
    this.#wanted = false;
    this.#recordOn = this.#idle < IDLE_VIEWS || ++this.#probe % PROBE_EVERY === 0;
    this.clear();
    this.#view = view;
    const n = view.segments.length;
    if (n > this.#flags.length) {
      const size = Math.min(n, 4096);
      this.#flags = new Uint8Array(size);
      this.#first = new Int32Array(size);
      this.#words = new Int32Array(size);
    }
  }

  #record(segment: number, text: string, norm: TextNormalizer, sink: WordSink): void {
    const first = this.#count;
    this.#target = sink;
    this.#recording = RECORDED;
    try {
      norm.tokenize(text, this);
    } finally {
      this.#target = null;
    }
    this.#first[segment] = first;
    this.#words[segment] = this.#count - first;
    this.#flags[segment] = this.#recording | (norm.joinsPossessive ? JOIN : 0) | (norm.apostrophes === 0 ? ANY_MODE : 0);
  }

  #replay(first: number, words: number, sink: WordSink): void {
    const chars = this.#chars;
    const rec = this.#rec;
    for (let w = first * REC, end = (first + words) * REC; w < end; w += REC) {
      sink.onWord(chars, rec[w]!, rec[w + 1]!, rec[w + 2]!, rec[w + 3]!, rec[w + 4]!);
    }
  }

  /** WordSink while recording: appends the word to the tape, then passes it on. */
  onWord(chars: Uint16Array, start: number, len: number, hash: number, lo: number, hi: number): void {
    let out = this.#chars;
    const at = this.#used;
    if (at + len + SLACK > out.length) {
      const grown = new Uint16Array((at + len) * 2 + SLACK);
      grown.set(out.subarray(0, at));
      this.#chars = out = grown;
    }
    for (let p = start, o = at, end = start + len; p < end; p++) out[o++] = chars[p]!;
    this.#used = at + len;
    let rec = this.#rec;
    const r = this.#count * REC;
    if (r + REC > rec.length) {
      const grown = new Int32Array(rec.length * 2);
      grown.set(rec);
      this.#rec = rec = grown;
    }
    rec[r] = at;
    rec[r + 1] = len;
    rec[r + 2] = hash;
    rec[r + 3] = lo;
    rec[r + 4] = hi;
    this.#count++;
    this.#target!.onWord(chars, start, len, hash, lo, hi);
  }

  knows(chars: Uint16Array, start: number, len: number, hash: number): boolean {
    // the words streamed now depend on this sink's vocabulary: do not replay them to another
    this.#recording |= SINK_BOUND;
    const t = this.#target!;
    return t.knows === undefined ? true : t.knows(chars, start, len, hash);
  }
}

/** The process's word tapes: what the topic and moderation scans of a request share. */
export const promptTapes = new WordTapes();
