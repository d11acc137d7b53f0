// The compiled topic matcher: every allow/deny phrase in one Aho–Corasick automaton (whole words, on normalised
// text) plus the RE2 regex entries, and the per-request scan that turns a request into allow and deny hits.
import type { UserRegex } from '../../src/policy/regex.ts';
import type { ChatRequest } from '../../src/sdk/types.ts';
import { WordAutomaton, WordScanner, type MatchSink } from './automaton.ts';
import { TextNormalizer } from './normalize.ts';
import { visitScannedTexts, type ScanMode, type TextVisitor } from './scan.ts';

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
   * Hit code of each pattern's entry: `entry << 1 | 1` for deny, `entry << 1` for allow (so sorting codes sorts
   * entries, and the kind needs no lookup in `entries`). A pattern configured by several entries (the same phrase
   * on both lists) holds `~k` instead: its codes are `#multi[k + 1 .. k + 1 + #multi[k])`.
   */
  readonly #patCode: Int32Array;
  readonly #multi: Int32Array;
  /** Hit code of each entry (for the regexes). */
  readonly #entryCode: Int32Array;
  readonly #regexes: readonly { readonly entry: number; readonly re: UserRegex }[];
  readonly #norm = new TextNormalizer();
  /** Per entry, the generation of the scan that last hit it (deduplication without clearing). */
  #mark: Uint32Array;
  #gen = 0;
  /** Hit codes of the current scan, deduplicated, in `#hits[0 .. #nhits)`. */
  #hits = new Int32Array(64);
  #nhits = 0;

  /**
   * Builds the automaton. Each phrase is matched as a whole-word sequence.
   */
  constructor(entries: readonly TopicEntry[], phrases: readonly PhraseSpec[], regexes: readonly { readonly entry: number; readonly re: UserRegex }[]) {
    this.entries = entries;
    this.#regexes = regexes;
    this.#mark = new Uint32Array(entries.length);
    const byPattern = new Map<string, number[]>();
    const add = (pattern: string, entry: number): void => {
      const list = byPattern.get(pattern);
      if (list === undefined) byPattern.set(pattern, [entry]);
      else if (!list.includes(entry)) list.push(entry);
    };
    for (const p of phrases) add(p.normalized, p.entry);
    const patterns = [...byPattern.keys()];
    this.automaton = patterns.length > 0 ? new WordAutomaton(patterns.map((p) => p.split(' '))) : null;
    this.#scanner = this.automaton === null ? null : new WordScanner(this.automaton, this);
    if (entries.length > 1 << 30) throw new Error('too many topic entries');
    this.#entryCode = Int32Array.from(entries, (e, i) => (i << 1) | (e.kind === 'deny' ? 1 : 0));
    this.#patCode = new Int32Array(patterns.length);
    const multi: number[] = [];
    patterns.forEach((p, i) => {
      const list = byPattern.get(p)!;
      if (list.length === 1) { this.#patCode[i] = this.#entryCode[list[0]!]!; return; }
      this.#patCode[i] = ~multi.length;
      multi.push(list.length, ...list.map((e) => this.#entryCode[e]!));
    });
    this.#multi = Int32Array.from(multi);
  }

  /** MatchSink: records the entries of a matched pattern (deduplicated per scan). */
  onMatch(pattern: number, _lastWord: number): void {
    const code = this.#patCode[pattern]!;
    if (code >= 0) { this.#hit(code); return; }
    const multi = this.#multi;
    for (let k = ~code + 1, end = k + multi[~code]!; k < end; k++) this.#hit(multi[k]!);
  }

  /** Records one hit code unless its entry was already hit in this scan. */
  #hit(code: number): void {
    const e = code >>> 1;
    if (this.#mark[e] === this.#gen) return;
    this.#mark[e] = this.#gen;
    let n = this.#nhits;
    if (n === this.#hits.length) { const grown = new Int32Array(n * 2); grown.set(this.#hits); this.#hits = grown; }
    this.#hits[n++] = code;
    this.#nhits = n;
  }

  /** TextVisitor: normalises and matches one text segment. */
  onText(text: string): void {
    const scanner = this.#scanner;
    if (scanner !== null) {
      scanner.reset();
      this.#norm.tokenize(text, scanner);
    }
    if (this.#regexes.length > 0) {
      const gen = this.#gen;
      let normalized: string | undefined;
      for (const { entry, re } of this.#regexes) {
        if (this.#mark[entry] === gen) continue;
        if (normalized === undefined) { this.#norm.normalize(text); normalized = this.#norm.text(); }
        if (re.test(normalized)) this.#hit(this.#entryCode[entry]!);
      }
    }
  }

  /** Matches the messages `mode` selects from `request`. */
  matchRequest(request: ChatRequest, mode: ScanMode): TopicHits {
    this.#begin();
    visitScannedTexts(request, mode, this);
    return this.#finish();
  }

  /** Matches one text (tests, benchmarks, `policy explain`). */
  matchText(text: string): TopicHits {
    this.#begin();
    this.onText(text);
    return this.#finish();
  }

  #begin(): void {
    // generations stay below 2^30 (small integers for the JIT); the marks are cleared when they wrap
    this.#gen = (this.#gen + 1) & 0x3fffffff;
    if (this.#gen === 0) { this.#mark.fill(0); this.#gen = 1; }
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
