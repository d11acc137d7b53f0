// The builtin moderation classifier: the lexicon's cue phrases in one word-level Aho–Corasick automaton over the
// topics normaliser's output, then rules over cue occurrences (any / ordered sequence / proximity), benign masks and
// context dampeners, combined noisy-OR per category. Synchronous, explainable, no allocation when nothing matches.
import {
  normalizeText, TextNormalizer, visitScannedTexts, WordAutomaton, WordScanner, type MatchSink, type ScanMode,
  type TextVisitor, type WordTapes,
} from '../../src/sdk/text.ts';
import type { ChatRequest } from '../../src/sdk/types.ts';
import { readPrompt, type PromptView } from '../../src/sdk/prompt-view.ts';
import { expandPhrase, loadLexicon, type Lexicon } from './lexicon.ts';
import { CATEGORIES, CATEGORY_INDEX, propagateParents } from '../../src/sdk/taxonomy.ts';

/** Scores per taxonomy category, 0..1. */
export type Scores = Readonly<Record<string, number>>;

/** One rule that fired, for `explain`. Words are 0-based word indices in the normalised segment. */
export interface FiredRule {
  readonly rule: string;
  readonly categories: readonly string[];
  readonly score: number;
  readonly segment: number;
  readonly firstWord: number;
  readonly lastWord: number;
}

/** What `explain` returns: the final scores, the rules that fired and the dampeners applied. */
export interface Explanation {
  readonly scores: Scores;
  readonly fired: readonly FiredRule[];
  readonly dampened: readonly string[];
}

const KIND_ANY = 0;
const KIND_SEQ = 1;
const KIND_NEAR = 2;
const NCAT = CATEGORIES.length;

interface CompiledRule {
  readonly id: string;
  readonly kind: number;
  readonly cues: Int32Array;
  readonly within: number;
  readonly window: number;
  readonly gapExcludes: Int32Array;
  readonly cats: Int32Array;
  readonly score: number;
}

interface CompiledDampen {
  readonly id: string;
  readonly when: Int32Array;
  readonly cats: Int32Array;
  readonly factor: number;
}

/** All-zero scores, shared (frozen) for the common nothing-matched case. */
export const ZERO_SCORES: Scores = Object.freeze(Object.fromEntries(CATEGORIES.map((c) => [c, 0])));

/**
 * A compiled lexicon. Immutable configuration plus scratch buffers reused by each synchronous call; build one per
 * process with {@link builtinClassifier} (policies share it).
 */
export class BuiltinClassifier implements MatchSink, TextVisitor {
  readonly lexicon: Lexicon;
  readonly cueNames: readonly string[];
  readonly #benignCue: number;
  readonly #automaton: WordAutomaton;
  readonly #scanner: WordScanner;
  /** Possessives are joined (`someone's` → `someones`): the lexicon tells a possessor (`someone's car`) from a person. */
  readonly #norm = new TextNormalizer({ possessive: 'join' });
  readonly #patCues: Int32Array;
  readonly #patCueStart: Int32Array;
  readonly #rules: readonly CompiledRule[];
  readonly #rulesByCue: readonly Int32Array[];
  readonly #dampens: readonly CompiledDampen[];
  // per-segment scratch
  #occCue = new Int32Array(256);
  #occStart = new Int32Array(256);
  #occEnd = new Int32Array(256);
  #occLive = new Uint8Array(256);
  #occ = 0;
  readonly #cueSeen: Uint32Array;
  readonly #ruleSeen: Uint32Array;
  #gen = 0;
  readonly #candidates: number[] = [];
  readonly #seg = new Float64Array(NCAT);
  readonly #total = new Float64Array(NCAT);
  #explain: { fired: FiredRule[]; dampened: string[]; segment: number } | null = null;
  #any = false;
  #segIndex = 0;
  /** During a `classifyPrompt` given word tapes: the tapes and the view (tokenise once, shared with topics). */
  #tapes: WordTapes | undefined;
  #view: PromptView | undefined;

  constructor(lexicon: Lexicon) {
    this.lexicon = lexicon;
    const names = [...lexicon.cues.keys()];
    this.cueNames = names;
    const cueId = new Map(names.map((n, i) => [n, i]));
    this.#benignCue = names.length;
    const byPattern = new Map<string, Set<number>>();
    const add = (phrase: string, cue: number): void => {
      for (const p of expandPhrase(phrase)) {
        const norm = normalizeText(p, { possessive: 'join' });
        if (norm === '') throw new Error(`lexicon phrase ${JSON.stringify(p)} normalises to nothing`);
        let set = byPattern.get(norm);
        if (!set) byPattern.set(norm, (set = new Set()));
        set.add(cue);
      }
    };
    for (const [name, phrases] of lexicon.cues) for (const p of phrases) add(p, cueId.get(name)!);
    for (const b of lexicon.benign) add(b, this.#benignCue);
    const patterns = [...byPattern.keys()];
    this.#automaton = new WordAutomaton(patterns.map((p) => p.split(' ')));
    this.#scanner = new WordScanner(this.#automaton, this);
    this.#patCueStart = new Int32Array(patterns.length + 1);
    let total = 0;
    for (const s of byPattern.values()) total += s.size;
    this.#patCues = new Int32Array(total);
    let k = 0;
    patterns.forEach((p, i) => {
      for (const c of byPattern.get(p)!) this.#patCues[k++] = c;
      this.#patCueStart[i + 1] = k;
    });
    const ids = (xs: readonly string[] | undefined): Int32Array => Int32Array.from(xs ?? [], (n) => cueId.get(n)!);
    const cats = (xs: readonly string[]): Int32Array => Int32Array.from(xs, (c) => CATEGORY_INDEX.get(c)!);
    this.#rules = lexicon.rules.map((r) => ({
      id: r.id,
      kind: r.any ? KIND_ANY : r.seq ? KIND_SEQ : KIND_NEAR,
      cues: ids(r.any ?? r.seq ?? r.near),
      within: r.within ?? 3,
      window: r.window ?? 12,
      gapExcludes: ids(r.gapExcludes),
      cats: cats(r.categories),
      score: r.score,
    }));
    const byCue: number[][] = names.map(() => []);
    this.#rules.forEach((r, i) => { for (const c of r.cues) if (!byCue[c]!.includes(i)) byCue[c]!.push(i); });
    this.#rulesByCue = byCue.map((l) => Int32Array.from(l));
    this.#dampens = lexicon.dampen.map((d) => ({ id: d.id, when: ids(d.when), cats: cats(d.categories), factor: d.factor }));
    this.#cueSeen = new Uint32Array(names.length + 1);
    this.#ruleSeen = new Uint32Array(this.#rules.length);
  }

  /** Number of distinct normalised phrases in the automaton. */
  get phraseCount(): number { return this.#automaton.patternCount; }

  /** MatchSink: records one cue occurrence per cue of the matched phrase. */
  onMatch(pattern: number, lastWord: number): void {
    const first = lastWord - this.#automaton.patternWords[pattern]! + 1;
    for (let k = this.#patCueStart[pattern]!, end = this.#patCueStart[pattern + 1]!; k < end; k++) {
      let n = this.#occ;
      if (n === this.#occCue.length) this.#grow();
      this.#occCue[n] = this.#patCues[k]!;
      this.#occStart[n] = first;
      this.#occEnd[n] = lastWord;
      this.#occLive[n] = 1;
      this.#occ = n + 1;
    }
  }

  #grow(): void {
    const g = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => { const b = make(a.length * 2); b.set(a); return b; };
    this.#occCue = g(this.#occCue, (n) => new Int32Array(n));
    this.#occStart = g(this.#occStart, (n) => new Int32Array(n));
    this.#occEnd = g(this.#occEnd, (n) => new Int32Array(n));
    this.#occLive = g(this.#occLive, (n) => new Uint8Array(n));
  }

  /**
   * Scores the given text segments (each matched on its own; the result is the per-category maximum over
   * segments, parents raised to their children). Returns the shared {@link ZERO_SCORES} when nothing fired.
   */
  classify(texts: readonly string[]): Scores {
    this.#begin();
    for (let i = 0; i < texts.length; i++) this.onText(texts[i]!);
    return this.#finish();
  }

  /**
   * Scores the items `mode` selects from a request's prompt (no intermediate arrays: the request path); with `tapes`
   * (the request path passes `promptTapes`) a message the topic scan has tokenised is replayed, not tokenised again.
   */
  classifyPrompt(view: PromptView, mode: ScanMode, tapes?: WordTapes): Scores {
    this.#begin();
    this.#tapes = tapes;
    this.#view = view;
    try {
      visitScannedTexts(view, mode, this);
    } finally {
      this.#tapes = undefined;
      this.#view = undefined;
    }
    return this.#finish();
  }

  /** Scores the messages `mode` selects from a chat request (tests, tools). */
  classifyRequest(request: ChatRequest, mode: ScanMode): Scores {
    return this.classifyPrompt(readPrompt('chat', request), mode);
  }

  /** TextVisitor: scores one segment (`segment`: its index in the prompt view, -1 for none). */
  onText(text: string, segment = -1): void {
    if (this.#segment(text, this.#segIndex++, segment)) this.#any = true;
  }

  #begin(): void {
    this.#total.fill(0);
    this.#any = false;
    this.#segIndex = 0;
  }

  #finish(): Scores {
    if (!this.#any) return ZERO_SCORES;
    const total = this.#total;
    propagateParents(total);
    const out: Record<string, number> = {};
    for (let c = 0; c < NCAT; c++) out[CATEGORIES[c]!] = Math.round(total[c]! * 1e6) / 1e6;
    return out;
  }

  /** Like classify, and says which rules fired and which dampeners applied (tests, eval, `policy explain`). */
  explain(texts: readonly string[]): Explanation {
    const ex = { fired: [] as FiredRule[], dampened: [] as string[], segment: 0 };
    this.#explain = ex;
    try {
      return { scores: this.classify(texts), fired: ex.fired, dampened: ex.dampened };
    } finally {
      this.#explain = null;
    }
  }

  /** Scores one segment into #total; true when any rule fired. */
  #segment(text: string, index: number, segment: number): boolean {
    this.#occ = 0;
    this.#scanner.reset();
    const tapes = this.#tapes;
    if (tapes !== undefined && segment >= 0) tapes.tokenize(this.#view!, segment, text, this.#norm, this.#scanner);
    else this.#norm.tokenize(text, this.#scanner);
    const n = this.#occ;
    if (n === 0) return false;
    const occCue = this.#occCue;
    const occStart = this.#occStart;
    const occEnd = this.#occEnd;
    const live = this.#occLive;
    const benign = this.#benignCue;
    // benign masks: a cue occurrence inside a benign phrase occurrence does not count
    for (let b = 0; b < n; b++) {
      if (occCue[b] !== benign) continue;
      for (let o = 0; o < n; o++) {
        if (occCue[o] !== benign && occStart[o]! >= occStart[b]! && occEnd[o]! <= occEnd[b]!) live[o] = 0;
      }
    }
    this.#gen = (this.#gen + 1) >>> 0;
    if (this.#gen === 0) { this.#cueSeen.fill(0); this.#ruleSeen.fill(0); this.#gen = 1; }
    const gen = this.#gen;
    const seen = this.#cueSeen;
    const candidates = this.#candidates;
    candidates.length = 0;
    for (let o = 0; o < n; o++) {
      if (live[o] === 0) continue;
      const c = occCue[o]!;
      if (seen[c] === gen) continue;
      seen[c] = gen;
      if (c === benign) continue;
      const rs = this.#rulesByCue[c]!;
      for (let k = 0; k < rs.length; k++) {
        const r = rs[k]!;
        if (this.#ruleSeen[r] !== gen) { this.#ruleSeen[r] = gen; candidates.push(r); }
      }
    }
    const seg = this.#seg;
    seg.fill(0);
    let fired = false;
    for (const ri of candidates) {
      const r = this.#rules[ri]!;
      let ok = true;
      for (let k = 0; k < r.cues.length && r.kind !== KIND_ANY; k++) if (seen[r.cues[k]!] !== gen) { ok = false; break; }
      if (!ok) continue;
      const span = r.kind === KIND_ANY ? this.#matchAny(r) : r.kind === KIND_SEQ ? this.#matchSeq(r, 0, -1, -1) : this.#matchNear(r);
      if (span < 0) continue;
      fired = true;
      for (const c of r.cats) seg[c] = 1 - (1 - seg[c]!) * (1 - r.score);
      if (this.#explain) {
        this.#explain.fired.push({ rule: r.id, categories: Array.from(r.cats, (c) => CATEGORIES[c]!), score: r.score,
          segment: index, firstWord: this.#spanFirst, lastWord: this.#spanLast });
      }
    }
    if (!fired) return false;
    for (const d of this.#dampens) {
      let on = false;
      for (const c of d.when) if (seen[c] === gen) { on = true; break; }
      if (!on) continue;
      for (const c of d.cats) seg[c] = seg[c]! * d.factor;
      this.#explain?.dampened.push(d.id);
    }
    const total = this.#total;
    for (let c = 0; c < NCAT; c++) if (seg[c]! > total[c]!) total[c] = seg[c]!;
    return true;
  }

  #spanFirst = 0;
  #spanLast = 0;

  /** `any`: the first live occurrence of one of the rule's cues; returns its index or -1. */
  #matchAny(r: CompiledRule): number {
    for (let o = 0; o < this.#occ; o++) {
      if (this.#occLive[o] === 0) continue;
      const c = this.#occCue[o]!;
      for (let k = 0; k < r.cues.length; k++) {
        if (r.cues[k] === c) { this.#spanFirst = this.#occStart[o]!; this.#spanLast = this.#occEnd[o]!; return o; }
      }
    }
    return -1;
  }

  /** `seq`: cue k after word `prevEnd` (gap ≤ within, no excluded cue in the gap); returns an occurrence index or -1. */
  #matchSeq(r: CompiledRule, k: number, prevEnd: number, first: number): number {
    const cue = r.cues[k]!;
    for (let o = 0; o < this.#occ; o++) {
      if (this.#occLive[o] === 0 || this.#occCue[o] !== cue) continue;
      const s = this.#occStart[o]!;
      if (k > 0) {
        if (s <= prevEnd || s - prevEnd - 1 > r.within) continue;
        if (r.gapExcludes.length > 0 && this.#gapHas(r.gapExcludes, prevEnd, s)) continue;
      }
      const f = k === 0 ? s : first;
      if (k === r.cues.length - 1) { this.#spanFirst = f; this.#spanLast = this.#occEnd[o]!; return o; }
      if (this.#matchSeq(r, k + 1, this.#occEnd[o]!, f) >= 0) return o;
    }
    return -1;
  }

  /** True when a live occurrence of one of `cues` lies strictly between words `after` and `before`. */
  #gapHas(cues: Int32Array, after: number, before: number): boolean {
    for (let o = 0; o < this.#occ; o++) {
      if (this.#occLive[o] === 0 || this.#occStart[o]! <= after || this.#occEnd[o]! >= before) continue;
      const c = this.#occCue[o]!;
      for (let k = 0; k < cues.length; k++) if (cues[k] === c) return true;
    }
    return false;
  }

  /** `near`: an occurrence of the first cue with every other cue within the window around it. */
  #matchNear(r: CompiledRule): number {
    const n = this.#occ;
    for (let a = 0; a < n; a++) {
      if (this.#occLive[a] === 0 || this.#occCue[a] !== r.cues[0]) continue;
      let lo = this.#occStart[a]!;
      let hi = this.#occEnd[a]!;
      let all = true;
      for (let k = 1; k < r.cues.length && all; k++) {
        let found = false;
        for (let o = 0; o < n; o++) {
          if (this.#occLive[o] === 0 || this.#occCue[o] !== r.cues[k]) continue;
          const l2 = Math.min(lo, this.#occStart[o]!);
          const h2 = Math.max(hi, this.#occEnd[o]!);
          if (h2 - l2 < r.window) { lo = l2; hi = h2; found = true; break; }
        }
        all = found;
      }
      if (all) { this.#spanFirst = lo; this.#spanLast = hi; return a; }
    }
    return -1;
  }
}

let shared: BuiltinClassifier | undefined;

/** The process-wide builtin classifier over the shipped lexicon, built on first use (throws if the lexicon is broken). */
export function builtinClassifier(): BuiltinClassifier {
  shared ??= new BuiltinClassifier(loadLexicon());
  return shared;
}
