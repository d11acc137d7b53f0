// Aho–Corasick automaton over words: its alphabet is the vocabulary of the phrases (each distinct normalised word
// gets a slot), its patterns are word sequences. The normaliser streams words with their hash; each word costs one
// vocabulary probe and one amortised transition, so a scan is O(text length + matches) whatever the number of
// phrases. Built once at compile time into flat typed arrays (no object per state or word, no Map at run time);
// the tables are laid out so that the common step touches two cache lines whose addresses are both known as soon
// as the word is hashed (the vocabulary slot and the edge), and a match reads nothing more.
import { hashWord, packHi, packLo, type WordSink } from './normalize.ts';

/**
 * Receives each match: the pattern's id (its index in the constructor's list, or the `ids` entry given for it) and
 * the index (0-based) of the pattern's last word in the scanned text.
 */
export interface MatchSink {
  onMatch(pattern: number, lastWord: number): void;
}

/** Transition targets carry a flag bit so the common case reads nothing more: the target (or a state on its failure chain) ends a pattern. */
const OUT = 1 << 30;
const STATE = OUT - 1;
/** At most this many states (and words over all patterns): keeps every table index below 2^31. */
const MAX_STATES = 1 << 26;
/**
 * Vocabulary slot layout (Int32 each, 32 bytes): hash, length | pool offset << 8 | PACKED | AMBIGUOUS (0: empty),
 * root transition (flagged target, 0: the word starts no pattern), the root target's child mask, then the word:
 * for a PACKED word (at most 8 ASCII characters) its packed key (packLo, packHi), which the scanner compares with
 * the key the normaliser computed while tokenising; else up to 8 chars inline in 4 Int32 (longer words live in
 * the pool).
 */
const SLOT = 8;
/** Slot flag: another vocabulary word has the same hash and length (its characters are compared while probing). */
const AMBIGUOUS = 1 << 31;
/**
 * Slot flag of a word of at most 8 characters (which has no pool offset, so the bit is free): the word is ASCII,
 * stored as its packed key. Only ever tested together with the length.
 */
const PACKED = 1 << 30;
const POOL_OFFSET = 0x7fffff;
const INLINE_CHARS = 8;
/** Longest pool (characters of words longer than 8) the packed slot can address. */
const MAX_POOL = 1 << 23;
/**
 * Edge layout, open addressing on (state, word), 8 Int32 per edge (32 bytes): state (-1 empty), word slot,
 * target (| OUT), target's child mask, target's failure state (| OUT; 0 the root), that failure state's child
 * mask, the id of the first pattern reported at the target, the next output state after it (-1: none). Carrying
 * these lets the scanner keep the failure link in registers and report the usual single match without a lookup.
 */
const EDGE = 8;
/**
 * State record (4 Int32, 16 bytes), for the rarer paths: failure state (| OUT), the failure state's child mask,
 * the id of the first pattern reported at this state and the next output state (as in the edge layout).
 */
const ST = 4;

/**
 * Home position of the edge (state, word) in the edge table. It depends on the word's hash rather than its slot,
 * so the edge's cache line can be fetched while the vocabulary probe is still comparing characters.
 */
function edgeHome(s: number, hash: number): number {
  let x = Math.imul(s, 0x9e3779b1) ^ hash;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  return x ^ (x >>> 13);
}

/** Bit of a word in a child mask (from its hash): a state's mask has the bits of every word it has an edge on. */
const maskBit = (hash: number): number => 1 << (hash >>> 27);

function pow2AtLeast(n: number): number {
  let c = 16;
  while (c < n) c *= 2;
  return c;
}

/** The packed tables, shared read-only with {@link WordScanner}. */
interface Tables {
  readonly slots: Int32Array;
  readonly slotMask: number;
  readonly pool: Uint16Array;
  readonly edges: Int32Array;
  readonly edgeMask: number;
  readonly states: Int32Array;
}

/**
 * A word-level multi-pattern matcher. Immutable once built; scans run through a {@link WordScanner}.
 * Patterns are lists of normalised words (no spaces inside a word). At most 2^26 words over all patterns.
 */
export class WordAutomaton {
  /** Number of states (the root is state 0). */
  readonly stateCount: number;
  readonly patternCount: number;
  /** Number of distinct words over all patterns. */
  readonly vocabularySize: number;
  /** Number of words of each pattern. */
  readonly patternWords: Int32Array;
  /** Bytes held by the packed tables (for `policy explain` and the benchmark). */
  readonly tableBytes: number;
  /** @internal The packed tables; read by WordScanner only. */
  readonly tables: Tables;

  /**
   * Builds the automaton; pattern `i` reports `ids[i]` (default `i`). Throws on an empty pattern, an empty word or
   * a duplicate pattern: callers deduplicate first.
   */
  constructor(patterns: readonly (readonly string[])[], ids?: ArrayLike<number>) {
    if (ids !== undefined && ids.length !== patterns.length) throw new Error('ids must have one entry per pattern');
    // --- vocabulary: one slot per distinct word, open addressing on the word's hash
    const wordIndex = new Map<string, number>();
    const words: string[] = [];
    let totalWords = 0;
    for (const p of patterns) {
      if (p.length === 0) throw new Error('empty pattern');
      totalWords += p.length;
      for (const w of p) {
        if (w.length === 0) throw new Error('empty word in pattern');
        if (!wordIndex.has(w)) { wordIndex.set(w, words.length); words.push(w); }
      }
    }
    const v = words.length;
    let poolLen = 0;
    for (const w of words) {
      if (w.length > 255) throw new Error(`word longer than 255 characters: ${JSON.stringify(w.slice(0, 40))}…`);
      if (w.length > INLINE_CHARS) poolLen += w.length;
    }
    if (poolLen > MAX_POOL) throw new Error(`phrase vocabulary too large (${poolLen} characters in long words; at most ${MAX_POOL})`);
    const pool = new Uint16Array(poolLen);
    const slotMask = pow2AtLeast(v * 2) - 1;
    const slots = new Int32Array((slotMask + 1) * SLOT);
    const slotOfWord = new Int32Array(v);
    let at = 0;
    for (let id = 0; id < v; id++) {
      const w = words[id]!;
      const h = hashWord(w, 0, w.length);
      let k = h & slotMask;
      let ambiguous = 0;
      for (; slots[k * SLOT + 1] !== 0; k = (k + 1) & slotMask) {
        if (slots[k * SLOT] === h && (slots[k * SLOT + 1]! & 0xff) === w.length) { slots[k * SLOT + 1]! |= AMBIGUOUS; ambiguous = AMBIGUOUS; }
      }
      const b = k * SLOT;
      slots[b] = h;
      if (w.length > INLINE_CHARS) {
        slots[b + 1] = w.length | (at << 8) | ambiguous;
        for (let i = 0; i < w.length; i++) pool[at++] = w.charCodeAt(i);
      } else if (packHi(w, 0, w.length) >= 0) {
        slots[b + 1] = w.length | PACKED | ambiguous;
        slots[b + 4] = packLo(w, 0, w.length);
        slots[b + 5] = packHi(w, 0, w.length);
      } else {
        slots[b + 1] = w.length | ambiguous;
        for (let i = 0; i < w.length; i++) slots[b + 4 + (i >> 1)]! |= w.charCodeAt(i) << ((i & 1) * 16);
      }
      slotOfWord[id] = k;
    }
    // --- trie: states numbered in creation order; children found through a build-time hash on (state, slot)
    const maxStates = totalWords + 1;
    // (keeps every table index below 2^31: the scanner builds indices with shifts)
    if (maxStates > MAX_STATES) throw new Error(`too many automaton states (phrases with more than ${MAX_STATES - 1} words in all)`);
    const parent = new Int32Array(maxStates);
    const wordOf = new Int32Array(maxStates); // slot of the word on the edge into each state
    const depth = new Int32Array(maxStates);
    const outPat = new Int32Array(maxStates).fill(-1);
    const rootChild = new Int32Array(slotMask + 1); // per slot: the root's child on that word, 0 none
    const buildMask = pow2AtLeast(totalWords * 2) - 1;
    const build = new Int32Array((buildMask + 1) * 3).fill(-1); // (state, slot) → child
    const hashOf = (slot: number): number => slots[slot * SLOT]!;
    const child = (s: number, slot: number): number => {
      if (s === 0) return rootChild[slot]!;
      for (let k = edgeHome(s, hashOf(slot)) & buildMask; ; k = (k + 1) & buildMask) {
        const st = build[k * 3]!;
        if (st === -1) return 0;
        if (st === s && build[k * 3 + 1] === slot) return build[k * 3 + 2]!;
      }
    };
    let n = 1;
    const patternWords = new Int32Array(patterns.length);
    for (let pid = 0; pid < patterns.length; pid++) {
      const p = patterns[pid]!;
      let s = 0;
      for (const w of p) {
        const slot = slotOfWord[wordIndex.get(w)!]!;
        let t = child(s, slot);
        if (t === 0) {
          t = n++;
          parent[t] = s;
          wordOf[t] = slot;
          depth[t] = depth[s]! + 1;
          if (s === 0) rootChild[slot] = t;
          else {
            let k = edgeHome(s, hashOf(slot)) & buildMask;
            while (build[k * 3] !== -1) k = (k + 1) & buildMask;
            build[k * 3] = s;
            build[k * 3 + 1] = slot;
            build[k * 3 + 2] = t;
          }
        }
        s = t;
      }
      if (outPat[s] !== -1) throw new Error(`duplicate pattern ${JSON.stringify(p.join(' '))}`);
      outPat[s] = pid;
      patternWords[pid] = p.length;
    }
    // --- failure links and outputs, in breadth-first (depth) order
    let maxDepth = 0;
    for (let s = 1; s < n; s++) if (depth[s]! > maxDepth) maxDepth = depth[s]!;
    const byDepth = new Int32Array(maxDepth + 2);
    for (let s = 1; s < n; s++) byDepth[depth[s]! + 1]!++;
    for (let d = 1; d <= maxDepth + 1; d++) byDepth[d]! += byDepth[d - 1]!;
    const order = new Int32Array(n - 1);
    for (let s = 1; s < n; s++) order[byDepth[depth[s]!]!++] = s;
    const fail = new Int32Array(n);
    const report = new Int32Array(n).fill(-1); // first state with an output on the failure chain (itself included)
    const mask = new Int32Array(n);
    for (const t of order) {
      const slot = wordOf[t]!;
      mask[parent[t]!]! |= maskBit(hashOf(slot));
      if (depth[t] !== 1) {
        let f = fail[parent[t]!]!;
        let c = child(f, slot);
        while (c === 0 && f !== 0) { f = fail[f]!; c = child(f, slot); }
        fail[t] = c;
      }
      report[t] = outPat[t]! >= 0 ? t : report[fail[t]!]!;
    }
    const idOf = (pid: number): number => (ids === undefined ? pid : ids[pid]!);
    const flagged = (t: number): number => (t === 0 ? 0 : t | (report[t]! >= 0 ? OUT : 0));
    /** First pattern id reported at `t` and the next output state after it. */
    const firstOut = (t: number): number => (report[t]! >= 0 ? idOf(outPat[report[t]!]!) : 0);
    const nextOut = (t: number): number => (report[t]! >= 0 ? report[fail[report[t]!]!]! : -1);
    const states = new Int32Array(n * ST);
    for (let t = 1; t < n; t++) {
      const q = t * ST;
      states[q] = flagged(fail[t]!);
      states[q + 1] = mask[fail[t]!]!;
      states[q + 2] = firstOut(t);
      states[q + 3] = nextOut(t);
    }
    states[3] = -1;
    for (let slot = 0; slot <= slotMask; slot++) {
      const t = rootChild[slot]!;
      if (t !== 0) { slots[slot * SLOT + 2] = flagged(t); slots[slot * SLOT + 3] = mask[t]!; }
    }
    let edgeCount = 0;
    for (let t = 1; t < n; t++) if (parent[t] !== 0) edgeCount++;
    const edgeMask = pow2AtLeast(edgeCount * 2) - 1;
    const edges = new Int32Array((edgeMask + 1) * EDGE);
    for (let k = 0; k <= edgeMask; k++) edges[k * EDGE] = -1;
    for (let t = 1; t < n; t++) {
      const s = parent[t]!;
      if (s === 0) continue;
      let k = edgeHome(s, hashOf(wordOf[t]!)) & edgeMask;
      while (edges[k * EDGE] !== -1) k = (k + 1) & edgeMask;
      const b = k * EDGE;
      edges[b] = s;
      edges[b + 1] = wordOf[t]!;
      edges[b + 2] = flagged(t);
      edges[b + 3] = mask[t]!;
      edges[b + 4] = flagged(fail[t]!);
      edges[b + 5] = mask[fail[t]!]!;
      edges[b + 6] = firstOut(t);
      edges[b + 7] = nextOut(t);
    }
    this.tables = Object.freeze({ slots, slotMask, pool, edges, edgeMask, states });
    this.tableBytes = slots.byteLength + pool.byteLength + edges.byteLength + states.byteLength;
    this.patternWords = patternWords;
    this.stateCount = n;
    this.patternCount = patterns.length;
    this.vocabularySize = v;
  }

  /** The slot of the word `chars[start..start+len)` with hash `hash` (see hashWord), or -1 when no pattern contains it. */
  slotOf(chars: Uint16Array, start: number, len: number, hash: number): number {
    return slotOf(this.tables, chars, start, len, hash);
  }
}

/** Whether the word `chars[start..start+len)` is the word in slot `k` (whose hash and length are equal). */
function sameWord(tb: Tables, k: number, chars: Uint16Array, start: number, len: number): boolean {
  const slots = tb.slots;
  const b = k * SLOT;
  if (len <= INLINE_CHARS && (slots[b + 1]! & PACKED) !== 0) {
    // the vocabulary word is short ASCII: pack the candidate's characters the same way (see packLo/packHi)
    let lo = 0;
    let hi = 0;
    for (let p = start, end = start + len; p < end; p++) {
      const c = chars[p]!;
      if (c >= 128) return false;
      hi = (hi << 8) | (lo >>> 24);
      lo = (lo << 8) | c;
    }
    return lo === slots[b + 4] && hi === slots[b + 5];
  }
  if (len <= INLINE_CHARS) {
    for (let i = 0; i < len; i++) if (((slots[b + 4 + (i >> 1)]! >>> ((i & 1) * 16)) & 0xffff) !== chars[start + i]) return false;
    return true;
  }
  const pool = tb.pool;
  const p = (slots[b + 1]! >>> 8) & POOL_OFFSET;
  for (let i = 0; i < len; i++) if (pool[p + i] !== chars[start + i]) return false;
  return true;
}

/**
 * The slot whose word has the hash and length of `chars[start..start+len)`, or -1: the word itself when it is in
 * the vocabulary, possibly another word when it is not (a hash collision), so the caller confirms with
 * {@link sameWord} before acting on it. Slots that share their hash and length with another vocabulary word are
 * compared here, so a vocabulary word always finds its own slot.
 */
function probe(tb: Tables, chars: Uint16Array, start: number, len: number, hash: number): number {
  const mask = tb.slotMask;
  const slots = tb.slots;
  let k = hash & mask;
  for (;;) {
    const b = k * SLOT;
    const lenOff = slots[b + 1]!;
    if (lenOff === 0) return -1;
    if (slots[b] === hash && (lenOff & 0xff) === len && (lenOff >= 0 || sameWord(tb, k, chars, start, len))) return k;
    k = (k + 1) & mask;
  }
}

/** Vocabulary lookup (see {@link WordAutomaton.slotOf}). */
function slotOf(tb: Tables, chars: Uint16Array, start: number, len: number, hash: number): number {
  const k = probe(tb, chars, start, len, hash);
  return k >= 0 && sameWord(tb, k, chars, start, len) ? k : -1;
}

/**
 * Runs a {@link WordAutomaton} over the words a normaliser streams, reporting matches to a sink. One instance per
 * compiled matcher, reused by every (synchronous) scan: call `reset()` before each text segment.
 */
export class WordScanner implements WordSink {
  readonly #tb: Tables;
  // the tables, held directly (one load less per access than through #tb)
  readonly #slots: Int32Array;
  readonly #slotMask: number;
  readonly #edges: Int32Array;
  readonly #edgeMask: number;
  readonly #states: Int32Array;
  readonly #sink: MatchSink;
  /** Current state with its flag bit and child mask, and its failure state likewise (kept here to skip memory reads). */
  #state = 0;
  #mask = 0;
  #fail = 0;
  #failMask = 0;
  /** Index of the next word (words seen since the last reset). */
  words = 0;

  constructor(ac: WordAutomaton, sink: MatchSink) {
    const tb = ac.tables;
    this.#tb = tb;
    this.#slots = tb.slots;
    this.#slotMask = tb.slotMask;
    this.#edges = tb.edges;
    this.#edgeMask = tb.edgeMask;
    this.#states = tb.states;
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
    return slotOf(this.#tb, chars, start, len, hash) >= 0;
  }

  onWord(chars: Uint16Array, start: number, len: number, hash: number, lo = 0, hi = -1): void {
    // The per-word hot path. Indices are built with shifts and `| 0` (records are 8 or 4 Int32 long and aligned) so
    // the JIT emits no overflow checks. Vocabulary probe on hash and length first; the word's characters are
    // compared with the vocabulary's only when the step leads somewhere: a word that takes the scan back to the root
    // does so whether it is the vocabulary word with its hash or an unknown one.
    const word = this.words++;
    const slots = this.#slots;
    const smask = this.#slotMask;
    let slot = hash & smask;
    for (;;) {
      const lenOff = slots[(slot << 3) | 1]!;
      if (lenOff === 0) { this.#state = 0; this.#mask = 0; this.#fail = 0; this.#failMask = 0; return; }
      if (slots[slot << 3] === hash && (lenOff & 0xff) === len && (lenOff >= 0 || sameWord(this.#tb, slot, chars, start, len))) break;
      slot = (slot + 1) & smask;
    }
    const sb = slot << 3;
    const bit = maskBit(hash);
    let s = this.#state;
    let m = this.#mask;
    let kept = true; // the scanner still holds s's failure state and mask in #fail / #failMask
    let t: number;
    let tMask: number;
    let tFail = 0;
    let tFailMask = 0;
    let out = 0;
    let next = -1;
    const edges = this.#edges;
    const states = this.#states;
    for (;;) {
      const id = s & STATE;
      if (id === 0) {
        // the root: its transition lives in the word's slot (already in cache); depth-1 states fail to the root
        t = slots[sb | 2]!;
        tMask = slots[sb | 3]!;
        if ((t & OUT) !== 0) {
          const q = (t & STATE) << 2;
          out = states[q | 2]!;
          next = states[q | 3]!;
        }
        break;
      }
      if ((m & bit) !== 0) {
        const emask = this.#edgeMask;
        let b = (edgeHome(id, hash) & emask) << 3;
        let st = edges[b]!;
        // probe until the edge (state and word both equal) or an empty entry
        while (((st ^ id) | (edges[b | 1]! ^ slot)) !== 0 && st !== -1) {
          b = (((b >>> 3) + 1) & emask) << 3;
          st = edges[b]!;
        }
        if (st !== -1) {
          t = edges[b | 2]!;
          tMask = edges[b | 3]!;
          tFail = edges[b | 4]!;
          tFailMask = edges[b | 5]!;
          out = edges[b | 6]!; // the first match comes with the edge: no further read in the usual case
          next = edges[b | 7]!;
          break;
        }
      }
      if (kept) { s = this.#fail; m = this.#failMask; kept = false; }
      else { const q = id << 2; s = states[q]!; m = states[q | 1]!; }
    }
    if (t !== 0) {
      // confirm the word
      let diff: number; // 0: the same word (a number, not a boolean: keeps the JIT's code lean)
      const lenOff = slots[sb | 1]!;
      if (hi >= 0 && len <= INLINE_CHARS) {
        // a short ASCII word with its packed key (the usual case): the same word when the slot (a word of the same
        // length) holds the same key; a slot that is not PACKED holds a word with a non-ASCII character, never this one
        diff = ((lenOff & PACKED) ^ PACKED) | (lo ^ slots[sb | 4]!) | (hi ^ slots[sb | 5]!);
      } else if (len <= INLINE_CHARS && (lenOff & PACKED) === 0 && start + INLINE_CHARS <= chars.length) {
        // 8 readable code units from its start (always, from the normaliser, whose buffer has slack) are compared
        // with the inline characters (zero-padded) two at a time, without a loop: the mask of character i,
        // (i - len) >> 31, keeps it when i < len and clears it beyond the word
        const b = sb | 4;
        const c = start | 0;
        diff = ((chars[c]! | ((chars[(c + 1) | 0]! & ((1 - len) >> 31)) << 16)) ^ slots[b]!)
          | (((chars[(c + 2) | 0]! & ((2 - len) >> 31)) | ((chars[(c + 3) | 0]! & ((3 - len) >> 31)) << 16)) ^ slots[b | 1]!);
        if (len > 4) {
          diff |= ((chars[(c + 4) | 0]! | ((chars[(c + 5) | 0]! & ((5 - len) >> 31)) << 16)) ^ slots[b | 2]!)
            | (((chars[(c + 6) | 0]! & ((6 - len) >> 31)) | ((chars[(c + 7) | 0]! & ((7 - len) >> 31)) << 16)) ^ slots[b | 3]!);
        }
      } else diff = sameWord(this.#tb, slot, chars, start, len) ? 0 : 1;
      if (diff !== 0) t = tMask = tFail = tFailMask = 0; // an unknown word with a vocabulary word's hash
    }
    this.#state = t;
    this.#mask = tMask;
    this.#fail = tFail;
    this.#failMask = tFailMask;
    if ((t & OUT) === 0) return;
    const sink = this.#sink;
    sink.onMatch(out, word);
    while (next >= 0) {
      const q = next << 2;
      sink.onMatch(states[q | 2]!, word);
      next = states[q | 3]!;
    }
  }
}
