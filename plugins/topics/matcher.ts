// The compiled topic matcher: every allow/deny phrase in one Aho–Corasick automaton (whole words, on normalised
// text) plus the RE2 regex entries, and the per-request scan that turns a request into allow and deny hits.
import type { UserRegex } from '../../src/sdk/block-helpers.ts';
import { readPrompt, type PromptView } from '../../src/sdk/prompt-view.ts';
import type { ChatRequest } from '../../src/sdk/types.ts';
import { WordAutomaton, WordScanner, type MatchSink } from '../../src/text/automaton.ts';
import { TextNormalizer } from '../../src/text/normalize.ts';
import type { WordTapes } from '../../src/text/word-tape.ts';
import { visitScannedTexts, type ScanMode, type Scope, type TextVisitor } from '../../src/text/scan.ts';

/** One configured allow or deny entry: a phrase (inline or from a list file) or a regex. */
export interface TopicEntry {
  readonly kind: 'allow' | 'deny';
  /** As written in the policy or list file: `refund policy`, or `/wire\s+transfer/i` for regexes. */
  readonly text: string;
  /** `file:line` of the policy statement that configured it. */
  readonly rule: string;
}

/** A phrase entry ready for the automaton: its entry index and canonical (normalised) form. */
export interface PhraseSpec {
  readonly entry: number;
  /** normalizeText(phrase): words separated by single spaces, non-empty. */
  readonly normalized: string;
}

/** What one scan found: entry indices in configuration order. */
export interface TopicHits {
  readonly allow: readonly number[];
  readonly deny: readonly number[];
}

const NO_HITS: TopicHits = Object.freeze({ allow: Object.freeze([]), deny: Object.freeze([]) });

/**
 * A compiled matcher. Immutable configuration plus private scratch buffers reused by each (synchronous) scan;
 * one instance per compiled policy. Not re-entrant, which is safe because a scan never yields.
 */
export class TopicMatcher implements MatchSink, TextVisitor {
  readonly entries: readonly TopicEntry[];
  /** The automaton, or null when the policy has only regex entries. */
  readonly automaton: WordAutomaton | null;
  readonly #scanner: WordScanner | null;
  /**
   * The automaton reports hit codes, not pattern indices: `entry << 1 | 1` for a deny entry, `entry << 1` for an
   * allow entry (so sorting codes sorts entries, and the kind needs no lookup in `entries`). A pattern configured
   * by several entries (the same phrase on both lists) reports `~k` instead: its codes are
   * `#multi[k + 1 .. k + 1 + #multi[k])`.
   */
  readonly #multi: Int32Array;
  /** Hit code of each entry (for the regexes). */
  readonly #entryCode: Int32Array;
  readonly #regexes: readonly { readonly entry: number; readonly re: UserRegex }[];
  readonly #norm = new TextNormalizer();
  /** During a `matchPrompt` given word tapes: the tapes and the view (tokenise once, shared with moderation). */
  #tapes: WordTapes | undefined;
  #view: PromptView | undefined;
  /** Hit codes of the current scan, deduplicated, in `#hits[0 .. #nhits)`. */
  #hits = new Int32Array(64);
  #nhits = 0;
  /**
   * Deduplication: a small open-addressing set of (generation, code) pairs sized to the hits of one scan, so it
   * stays in cache whatever the number of entries. Slots of older generations count as empty.
   */
  #set = new Int32Array(256);
  #setMask = 127;
  #gen = 0;

  /**
   * Builds the automaton. Each phrase is matched as a whole-word sequence.
   */
  constructor(entries: readonly TopicEntry[], phrases: readonly PhraseSpec[], regexes: readonly { readonly entry: number; readonly re: UserRegex }[]) {
    if (entries.length > 1 << 30) throw new Error('too many topic entries');
    this.entries = entries;
    this.#regexes = regexes;
    this.#entryCode = Int32Array.from(entries, (e, i) => (i << 1) | (e.kind === 'deny' ? 1 : 0));
    const byPattern = new Map<string, number[]>();
    const add = (pattern: string, entry: number): void => {
      const list = byPattern.get(pattern);
      if (list === undefined) byPattern.set(pattern, [entry]);
      else if (!list.includes(entry)) list.push(entry);
    };
    for (const p of phrases) add(p.normalized, p.entry);
    const patterns = [...byPattern.keys()];
    const codes = new Int32Array(patterns.length);
    const multi: number[] = [];
    patterns.forEach((p, i) => {
      const list = byPattern.get(p)!;
      if (list.length === 1) { codes[i] = this.#entryCode[list[0]!]!; return; }
      codes[i] = ~multi.length;
      multi.push(list.length, ...list.map((e) => this.#entryCode[e]!));
    });
    this.#multi = Int32Array.from(multi);
    this.automaton = patterns.length > 0 ? new WordAutomaton(patterns.map((p) => p.split(' ')), codes) : null;
    this.#scanner = this.automaton === null ? null : new WordScanner(this.automaton, this);
  }

  /** MatchSink: records the entries of a matched pattern (deduplicated per scan); `code` is the pattern's hit code. */
  onMatch(code: number, _lastWord: number): void {
    if (code >= 0) { this.#hit(code); return; }
    const multi = this.#multi;
    for (let k = ~code + 1, end = k + multi[~code]!; k < end; k++) this.#hit(multi[k]!);
  }

  /** Whether `code` was already hit in this scan (its slot in the set, or the empty slot where it would go: `~slot`). */
  #find(code: number): number {
    const set = this.#set;
    const mask = this.#setMask;
    const gen = this.#gen;
    let k = (Math.imul(code, 0x9e3779b1) >>> 16) & mask;
    while (set[k * 2] === gen) {
      if (set[k * 2 + 1] === code) return k;
      k = (k + 1) & mask;
    }
    return ~k;
  }

  /** Records one hit code unless its entry was already hit in this scan. */
  #hit(code: number): void {
    const k = this.#find(code);
    if (k >= 0) return;
    this.#set[~k * 2] = this.#gen;
    this.#set[~k * 2 + 1] = code;
    let n = this.#nhits;
    if (n === this.#hits.length) { const grown = new Int32Array(n * 2); grown.set(this.#hits); this.#hits = grown; }
    this.#hits[n++] = code;
    this.#nhits = n;
    if (n * 2 > this.#setMask) this.#growSet();
  }

  /** Doubles the set (kept at most half full) and re-inserts this scan's hits. */
  #growSet(): void {
    this.#setMask = this.#setMask * 2 + 1;
    this.#set = new Int32Array((this.#setMask + 1) * 2);
    for (let i = 0; i < this.#nhits; i++) {
      const k = ~this.#find(this.#hits[i]!);
      this.#set[k * 2] = this.#gen;
      this.#set[k * 2 + 1] = this.#hits[i]!;
    }
  }

  /** TextVisitor: normalises and matches one text segment (`segment`: its index in the prompt view, -1 for none). */
  onText(text: string, segment = -1): void {
    const scanner = this.#scanner;
    if (scanner !== null) {
      scanner.reset();
      const tapes = this.#tapes;
      if (tapes !== undefined && segment >= 0) tapes.tokenize(this.#view!, segment, text, this.#norm, scanner);
      else this.#norm.tokenize(text, scanner);
    }
    if (this.#regexes.length > 0) {
      let normalized: string | undefined;
      for (const { entry, re } of this.#regexes) {
        const code = this.#entryCode[entry]!;
        if (this.#find(code) >= 0) continue;
        // `^` and `$` mean the start and end of this text: the regex sees the normalised words without the padding
        // spaces the automaton's scan uses (a sliced string: no copy).
        if (normalized === undefined) { this.#norm.normalize(text); normalized = this.#norm.text().slice(1, -1); }
        if (re.test(normalized)) this.#hit(code);
      }
    }
  }

  /**
   * Matches the items `mode` and `scope` select from a request's prompt; with `tapes` (the request path passes
   * `promptTapes`) a message another scan of the same prompt has tokenised is replayed, not tokenised again.
   */
  matchPrompt(view: PromptView, mode: ScanMode, scope: Scope = 'conversation', tapes?: WordTapes): TopicHits {
    this.#begin();
    this.#tapes = tapes;
    this.#view = view;
    try {
      visitScannedTexts(view, mode, this, scope);
    } finally {
      this.#tapes = undefined;
      this.#view = undefined;
    }
    return this.#finish();
  }

  /** Matches the messages `mode` and `scope` select from a chat request (the corpus evaluation, tests). */
  matchRequest(request: ChatRequest, mode: ScanMode, scope: Scope = 'conversation'): TopicHits {
    return this.matchPrompt(readPrompt('chat', request), mode, scope);
  }

  /** Matches one text (tests, benchmarks, `policy explain`). */
  matchText(text: string): TopicHits {
    this.#begin();
    this.onText(text);
    return this.#finish();
  }

  #begin(): void {
    // generations stay positive small integers; the set is cleared when they wrap
    this.#gen = (this.#gen + 1) & 0x3fffffff;
    if (this.#gen === 0) { this.#set.fill(0); this.#gen = 1; }
    this.#nhits = 0;
  }

  #finish(): TopicHits {
    const n = this.#nhits;
    if (n === 0) return NO_HITS;
    // codes sort as entries; the low bit says allow or deny. Few hits: insertion sort in place; many: native sort
    const codes = this.#hits;
    if (n > 32) codes.subarray(0, n).sort();
    else {
      for (let i = 1; i < n; i++) {
        const c = codes[i]!;
        let j = i - 1;
        while (j >= 0 && codes[j]! > c) { codes[j + 1] = codes[j]!; j--; }
        codes[j + 1] = c;
      }
    }
    const allow: number[] = [];
    const deny: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      if ((c & 1) === 0) allow.push(c >>> 1);
      else deny.push(c >>> 1);
    }
    return { allow, deny };
  }
}
