// Aho–Corasick automaton over words: its alphabet is the vocabulary of the phrases (each distinct normalised word
// gets an id), its patterns are word sequences. The normaliser streams words with their hash; each word costs one
// hash-table probe and one amortised transition, so a scan is O(text length + matches) whatever the number of
// phrases. Built once at compile time; tables are packed so a word usually touches one or two cache lines.
import { hashWord, type WordSink } from '../plugins/topics/normalize.ts';

/** Receives each match: the pattern id and the index (0-based) of the pattern's last word in the scanned text. */
export interface MatchSink {
  onMatch(pattern: number, lastWord: number): void;
}

/** Transition targets carry two flag bits so the common case reads nothing more: the target has outputs / children. */
const OUT = 1 << 30;
const KIDS = 1 << 29;
const STATE = KIDS - 1;
/**
 * Vocabulary slot layout (Int32 each, 32 bytes): hash, length | pool offset << 8 (0: empty), root transition,
 * the root target's child mask, then 4 Int32 = up to 8 chars inline (longer words live in the pool).
 */
const SLOT = 8;
const INLINE_CHARS = 8;
/** Longest pool (characters of words longer than 8) the packed slot can address. */
const MAX_POOL = 1 << 23;
/**
 * Edge layout, open addressing on (state, word slot), 8 Int32 per edge (32 bytes, two per cache line): state
 * (-1 empty), word slot, target (| flags), target's child mask, target's failure state (| flags), that failure
 * state's child mask, unused ×2. Carrying the target's mask and failure link lets the scanner keep them in registers.
 */
const EDGE = 8;

/** Hash of an edge key (state, word slot). */
const edgeHash = (s: number, slot: number): number => Math.imul(Math.imul(s, 0x9e3779b1) ^ slot, 0x85ebca6b) ^ (s >>> 15);

/** Bit of a word slot in a child mask: a state's mask has the bits of every word it has an edge on. */
const maskBit = (slot: number): number => 1 << (Math.imul(slot, 0x9e3779b1) >>> 27);

function pow2AtLeast(n: number): number {
  let c = 16;
  while (c < n) c *= 2;
  return c;
}

/**
 * A word-level multi-pattern matcher. Immutable once built; scans run through a {@link WordScanner}.
 * Patterns are lists of normalised words (no spaces inside a word). At most 2^29 states.
 */
export class WordAutomaton {
  /** Number of states (the root is state 0). */
  readonly stateCount: number;
  readonly patternCount: number;
  /** Number of distinct words over all patterns. */
  readonly vocabularySize: number;
  /** Number of words of each pattern. */
  readonly patternWords: Int32Array;
  /** Characters of every vocabulary word longer than 8 code units, back to back. */
  readonly #pool: Uint16Array;
  readonly #slots: Int32Array;
  readonly #slotMask: number;
  readonly #edges: Int32Array;
  readonly #edgeMask: number;
  /** Failure state, with the KIDS bit when that state has children. */
  readonly #fail: Int32Array;
  /** Child mask of every state (used when a failure chain is deeper than the one link the scanner keeps). */
  readonly #mask: Int32Array;
  readonly #outPat: Int32Array;
  /** First state with an output on the failure chain of each state (itself included), or -1. */
  readonly #report: Int32Array;
  readonly #outNext: Int32Array;

  /**
   * Builds the automaton; pattern `i` reports id `i`. Throws on an empty pattern, an empty word or a duplicate
   * pattern: callers deduplicate first.
   */
  constructor(patterns: readonly (readonly string[])[]) {
    const ids = new Map<string, number>();
    const words: string[] = [];
    for (const p of patterns) {
      if (p.length === 0) throw new Error('empty pattern');
      for (const w of p) {
        if (w.length === 0) throw new Error('empty word in pattern');
        if (!ids.has(w)) { ids.set(w, words.length); words.push(w); }
      }
    }
    const v = words.length;
    let poolLen = 0;
    for (const w of words) {
      if (w.length > 255) throw new Error(`word longer than 255 characters: ${JSON.stringify(w.slice(0, 40))}…`);
      if (w.length > INLINE_CHARS) poolLen += w.length;
    }
    if (poolLen > MAX_POOL) throw new Error(`phrase vocabulary too large (${poolLen} characters in long words; at most ${MAX_POOL})`);
    this.#pool = new Uint16Array(poolLen);
    const slots = pow2AtLeast(v * 2);
    this.#slotMask = slots - 1;
    this.#slots = new Int32Array(slots * SLOT);
    const slotOfWord = new Int32Array(v);
    let at = 0;
    words.forEach((w, id) => {
      const h = hashWord(w, 0, w.length);
      let k = h & this.#slotMask;
      while (this.#slots[k * SLOT + 1] !== 0) k = (k + 1) & this.#slotMask;
      const b = k * SLOT;
      this.#slots[b] = h;
      if (w.length > INLINE_CHARS) {
        this.#slots[b + 1] = w.length | (at << 8);
        for (let i = 0; i < w.length; i++) this.#pool[at++] = w.charCodeAt(i);
      } else {
        this.#slots[b + 1] = w.length;
        for (let i = 0; i < w.length; i++) this.#slots[b + 4 + (i >> 1)]! |= w.charCodeAt(i) << ((i & 1) * 16);
      }
      slotOfWord[id] = k;
    });
    // trie over word slots (build-time maps, converted to packed tables below)
    const children: Map<number, number>[] = [new Map()];
    const outPat: number[] = [-1];
    const patternWords = new Int32Array(patterns.length);
    patterns.forEach((p, pid) => {
      let s = 0;
      for (const w of p) {
        const key = slotOfWord[ids.get(w)!]!;
        let t = children[s]!.get(key);
        if (t === undefined) {
          t = children.length;
          if (t > STATE) throw new Error('too many automaton states');
          children.push(new Map());
          outPat.push(-1);
          children[s]!.set(key, t);
        }
        s = t;
      }
      if (outPat[s] !== -1) throw new Error(`duplicate pattern ${JSON.stringify(p.join(' '))}`);
      outPat[s] = pid;
      patternWords[pid] = p.length;
    });
    const n = children.length;
    const order = new Int32Array(n);
    const fail = new Int32Array(n);
    let head = 0;
    let tail = 0;
    order[tail++] = 0;
    while (head < tail) {
      const u = order[head++]!;
      for (const [key, child] of children[u]!) {
        order[tail++] = child;
        if (u === 0) { fail[child] = 0; continue; }
        let f = fail[u]!;
        let t = children[f]!.get(key);
        while (t === undefined && f !== 0) { f = fail[f]!; t = children[f]!.get(key); }
        fail[child] = t === undefined || t === child ? 0 : t;
      }
    }
    const report = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const s = order[i]!;
      report[s] = outPat[s]! >= 0 ? s : s === 0 ? -1 : report[fail[s]!]!;
    }
    const flagged = (t: number): number => t | (report[t]! >= 0 ? OUT : 0) | (children[t]!.size > 0 ? KIDS : 0);
    const mask = new Int32Array(n);
    for (let s = 0; s < n; s++) for (const key of children[s]!.keys()) mask[s]! |= maskBit(key);
    for (const [key, child] of children[0]!) {
      this.#slots[key * SLOT + 2] = flagged(child);
      this.#slots[key * SLOT + 3] = mask[child]!;
    }
    let edges = 0;
    for (let s = 1; s < n; s++) edges += children[s]!.size;
    const eslots = pow2AtLeast(edges * 2);
    this.#edgeMask = eslots - 1;
    this.#edges = new Int32Array(eslots * EDGE);
    for (let k = 0; k < eslots; k++) this.#edges[k * EDGE] = -1;
    for (let s = 1; s < n; s++) {
      for (const [key, child] of children[s]!) {
        const h = edgeHash(s, key);
        let k = h & this.#edgeMask;
        while (this.#edges[k * EDGE] !== -1) k = (k + 1) & this.#edgeMask;
        const b = k * EDGE;
        this.#edges[b] = s;
        this.#edges[b + 1] = key;
        this.#edges[b + 2] = flagged(child);
        this.#edges[b + 3] = mask[child]!;
        this.#edges[b + 4] = fail[child] === 0 ? 0 : flagged(fail[child]!);
        this.#edges[b + 5] = mask[fail[child]!]!;
      }
    }
    this.#fail = Int32Array.from(fail, (f) => (f === 0 ? 0 : flagged(f)));
    this.#mask = mask;
    this.#outPat = Int32Array.from(outPat);
    this.#report = report;
    this.#outNext = new Int32Array(n).fill(-1);
    for (let s = 1; s < n; s++) if (outPat[s]! >= 0) this.#outNext[s] = report[fail[s]!]!;
    this.patternWords = patternWords;
    this.stateCount = n;
    this.patternCount = patterns.length;
    this.vocabularySize = v;
  }

  /** The slot of the word `chars[start..start+len)` with hash `hash` (see hashWord), or -1 when no pattern contains it. */
  slotOf(chars: Uint16Array, start: number, len: number, hash: number): number {
    const mask = this.#slotMask;
    const slots = this.#slots;
    let k = hash & mask;
    for (;;) {
      const b = k * SLOT;
      const lenOff = slots[b + 1]!;
      if (lenOff === 0) return -1;
      if (slots[b] === hash && (lenOff & 0xff) === len) {
        let q = start;
        const end = start + len;
        if (len <= INLINE_CHARS) {
          for (let i = 0; q < end; i++, q++) if (((slots[b + 4 + (i >> 1)]! >>> ((i & 1) * 16)) & 0xffff) !== chars[q]) break;
        } else {
          const pool = this.#pool;
          let p = lenOff >>> 8;
          while (q < end && pool[p] === chars[q]) { p++; q++; }
        }
        if (q === end) return k;
      }
      k = (k + 1) & mask;
    }
  }

  /**
   * The edge index of the transition from state `s` on the word in `slot`, or -1. Only states with children
   * (the KIDS bit) have edges.
   */
  edgeOf(s: number, slot: number): number {
    const edges = this.#edges;
    const mask = this.#edgeMask;
    let k = edgeHash(s, slot) & mask;
    for (;;) {
      const b = k * EDGE;
      const st = edges[b]!;
      if (st === -1) return -1;
      if (st === s && edges[b + 1] === slot) return b;
      k = (k + 1) & mask;
    }
  }

  /** Flagged target of edge `e`. */
  edgeTarget(e: number): number { return this.#edges[e + 2]!; }
  /** Child mask of the target of edge `e`. */
  edgeTargetMask(e: number): number { return this.#edges[e + 3]!; }
  /** Flagged failure state of the target of edge `e` (0: the root). */
  edgeTargetFail(e: number): number { return this.#edges[e + 4]!; }
  /** Child mask of that failure state. */
  edgeTargetFailMask(e: number): number { return this.#edges[e + 5]!; }
  /** Flagged root transition of the word in `slot` (0: the word starts no pattern). */
  rootTarget(slot: number): number { return this.#slots[slot * SLOT + 2]!; }
  /** Child mask of the root target of the word in `slot`. */
  rootTargetMask(slot: number): number { return this.#slots[slot * SLOT + 3]!; }
  /** Flagged failure state of `s` (0: the root). */
  failOf(s: number): number { return this.#fail[s]!; }
  /** Child mask of `s`. */
  maskOf(s: number): number { return this.#mask[s]!; }
  /** The child-mask bit of the word in `slot`. */
  static maskBit(slot: number): number { return maskBit(slot); }
  /** First output state on the failure chain of `s` (itself included), or -1. */
  report(s: number): number { return this.#report[s]!; }
  /** The pattern ending at output state `o`. */
  patternAt(o: number): number { return this.#outPat[o]!; }
  /** The next output state after `o` on its failure chain, or -1. */
  nextOutput(o: number): number { return this.#outNext[o]!; }
}

/**
 * Runs a {@link WordAutomaton} over the words a normaliser streams, reporting matches to a sink. One instance per
 * compiled matcher, reused by every (synchronous) scan: call `reset()` before each text segment.
 */
export class WordScanner implements WordSink {
  readonly #ac: WordAutomaton;
  readonly #sink: MatchSink;
  /** Current state with its flag bits and child mask, and its failure state likewise (kept here to skip memory reads). */
  #state = 0;
  #mask = 0;
  #fail = 0;
  #failMask = 0;
  /** Index of the next word (words seen since the last reset). */
  words = 0;

  constructor(ac: WordAutomaton, sink: MatchSink) {
    this.#ac = ac;
    this.#sink = sink;
  }

  /** Starts a new text segment: no match spans a reset. */
  reset(): void {
    this.#state = 0;
    this.#mask = 0;
    this.#fail = 0;
    this.#failMask = 0;
    this.words = 0;
  }

  knows(chars: Uint16Array, start: number, len: number, hash: number): boolean {
    return this.#ac.slotOf(chars, start, len, hash) >= 0;
  }

  onWord(chars: Uint16Array, start: number, len: number, hash: number): void {
    const ac = this.#ac;
    const word = this.words++;
    const slot = ac.slotOf(chars, start, len, hash);
    if (slot < 0) { this.#state = 0; this.#mask = 0; this.#fail = 0; this.#failMask = 0; return; }
    const bit = maskBit(slot);
    let s = this.#state;
    let m = this.#mask;
    let kept = true; // the scanner still holds s's failure state and mask in #fail / #failMask
    for (;;) {
      if ((s & STATE) === 0) {
        // the root: its transition lives in the word's slot (already in cache); depth-1 states fail to the root
        this.#state = ac.rootTarget(slot);
        this.#mask = ac.rootTargetMask(slot);
        this.#fail = 0;
        this.#failMask = 0;
        break;
      }
      if ((m & bit) !== 0) {
        const e = ac.edgeOf(s & STATE, slot);
        if (e >= 0) {
          this.#state = ac.edgeTarget(e);
          this.#mask = ac.edgeTargetMask(e);
          this.#fail = ac.edgeTargetFail(e);
          this.#failMask = ac.edgeTargetFailMask(e);
          break;
        }
      }
      if (kept) { s = this.#fail; m = this.#failMask; kept = false; }
      else { s = ac.failOf(s & STATE); m = ac.maskOf(s & STATE); }
    }
    const t = this.#state;
    if ((t & OUT) === 0) return;
    let o = ac.report(t & STATE);
    while (o >= 0) {
      this.#sink.onMatch(ac.patternAt(o), word);
      o = ac.nextOutput(o);
    }
  }
}
