// Tokenise once per request: a word tape records the words the normaliser streams for one text while passing them on,
// and replays them to later sinks; PromptWords keeps one tape per prompt segment, so topics and moderation scanning
// the same message share one tokenisation (whichever runs first records it). Exact: a replay streams the same words.
import type { PromptView } from '../sdk/prompt-view.ts';
import type { TextNormalizer, WordSink } from './normalize.ts';

/** Record fields per word: start in `chars`, length, hash, packed key lo, hi (as WordSink.onWord takes them). */
const REC = 5;
/** Code units of slack after the last word: the automaton reads 8 units from a short word's start. */
const SLACK = 8;

/**
 * The words one `tokenize` streamed, replayable. A tape serves a normaliser of the possessive mode it was recorded in;
 * it serves the other mode too when the text had no apostrophe between word characters (the only place the modes
 * differ). A tape whose recording asked the sink `knows` (a word with invisible characters inside) depends on that
 * sink's vocabulary and is never replayed.
 */
export class WordTape implements WordSink {
  #chars: Uint16Array;
  #used = 0;
  #rec: Int32Array;
  #count = 0;
  #target: WordSink | null = null;
  /** The possessive mode of the normaliser that recorded it. */
  #join = false;
  /** Replayable to a normaliser of the other possessive mode. */
  #anyMode = false;
  /** Replayable at all (no `knows` was asked while recording). */
  #replayable = false;

  constructor(textLength: number) {
    this.#chars = new Uint16Array(textLength + SLACK);
    this.#rec = new Int32Array(Math.max(8, (textLength >> 1) + 2) * REC);
  }

  /** Tokenises `text` with `norm` into `sink`, recording the words. */
  record(norm: TextNormalizer, text: string, sink: WordSink): void {
    this.#target = sink;
    this.#replayable = true;
    try {
      norm.tokenize(text, this);
    } finally {
      this.#target = null;
    }
    this.#join = norm.joinsPossessive;
    this.#anyMode = norm.apostrophes === 0;
  }

  /** Whether a replay streams what `norm.tokenize` would stream for the recorded text. */
  serves(norm: TextNormalizer): boolean {
    return this.#replayable && (this.#anyMode || this.#join === norm.joinsPossessive);
  }

  /** Streams the recorded words to `sink`. */
  replay(sink: WordSink): void {
    const chars = this.#chars;
    const rec = this.#rec;
    for (let w = 0, end = this.#count * REC; w < end; w += REC) {
      sink.onWord(chars, rec[w]!, rec[w + 1]!, rec[w + 2]!, rec[w + 3]!, rec[w + 4]!);
    }
  }

  onWord(chars: Uint16Array, start: number, len: number, hash: number, lo: number, hi: number): void {
    let out = this.#chars;
    const at = this.#used;
    if (at + len + SLACK > out.length) {
      // NFKD may expand the text (one code unit into several): grow
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
    this.#replayable = false;
    const t = this.#target!;
    return t.knows === undefined ? true : t.knows(chars, start, len, hash);
  }
}

/**
 * The per-request tokenised view of a prompt: one lazily recorded tape per segment of the prompt view (by segment
 * index, as `visitScannedTexts` passes it). Kept on the request context (`promptWords` in src/sdk/text.ts); dropped
 * with the request.
 */
export class PromptWords {
  readonly #tapes: (WordTape | undefined)[];

  constructor(view: PromptView) {
    this.#tapes = new Array<WordTape | undefined>(view.segments.length);
  }

  /**
   * Streams the normalised words of segment `segment` (whose text is `text`) to `sink`, as `norm.tokenize(text, sink)`
   * would: from its tape when one serves `norm`, else tokenising (and recording, the first time).
   */
  tokenize(segment: number, text: string, norm: TextNormalizer, sink: WordSink): void {
    const tape = this.#tapes[segment];
    if (tape === undefined) {
      const t = new WordTape(text.length);
      this.#tapes[segment] = t;
      t.record(norm, text, sink);
    } else if (tape.serves(norm)) tape.replay(sink);
    else norm.tokenize(text, sink);
  }
}
