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
  readonly #patStart: Int32Array;
  readonly #patEntries: Int32Array;
  readonly #regexes: readonly { readonly entry: number; readonly re: UserRegex }[];
  readonly #norm = new TextNormalizer();
  #mark: Uint32Array;
  #gen = 0;
  #hits: number[] = [];

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
    this.#patStart = new Int32Array(patterns.length + 1);
    let total = 0;
    for (const list of byPattern.values()) total += list.length;
    this.#patEntries = new Int32Array(total);
    let k = 0;
    patterns.forEach((p, i) => {
      for (const e of byPattern.get(p)!) this.#patEntries[k++] = e;
      this.#patStart[i + 1] = k;
    });
  }

  /** MatchSink: records the entries of a matched pattern (deduplicated per scan). */
  onMatch(pattern: number, _lastWord: number): void {
    const gen = this.#gen;
    const mark = this.#mark;
    for (let k = this.#patStart[pattern]!, end = this.#patStart[pattern + 1]!; k < end; k++) {
      const e = this.#patEntries[k]!;
      if (mark[e] !== gen) { mark[e] = gen; this.#hits.push(e); }
    }
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
        if (re.test(normalized)) { this.#mark[entry] = gen; this.#hits.push(entry); }
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
    this.#gen = (this.#gen + 1) >>> 0;
    if (this.#gen === 0) { this.#mark.fill(0); this.#gen = 1; }
    this.#hits.length = 0;
  }

  #finish(): TopicHits {
    const hits = this.#hits;
    if (hits.length === 0) return NO_HITS;
    hits.sort((a, b) => a - b);
    const allow: number[] = [];
    const deny: number[] = [];
    for (const e of hits) (this.entries[e]!.kind === 'allow' ? allow : deny).push(e);
    return { allow, deny };
  }
}
