// The redaction engine: finds candidate spans of every enabled detector, resolves overlaps deterministically and
// writes the replacement; the same code runs one-shot (whole text) and streaming (text pieces, holding back only
// the tail that could still become part of a match), so both give the same output for the same text.
import { createHmac } from 'node:crypto';
import { type Detector, NEED_MORE, REJECT, type SpanOut } from './detectors.ts';

/**
 * One pass of the trigger search over the scanned text: a detector's own `find`, or one alternation of the triggers
 * of several enabled detectors of the same scan group (one regex scan instead of one per detector; each match is
 * handed to every member that can start with its first character, re-checked with that member's sticky trigger).
 */
type ScanUnit =
  | { readonly kind: 'one'; readonly di: number }
  | {
    readonly kind: 'union';
    readonly re: RegExp;
    /** Detector indexes of the members, and each member's trigger as a sticky regex. */
    readonly members: readonly number[];
    readonly sticky: readonly RegExp[];
    /** Per ASCII character: bit k set when member k's trigger can start with it. */
    readonly byFirst: Uint32Array;
    /** Every member's bit (a match starting with a non-ASCII character, which no built-in trigger has). */
    readonly all: number;
  };

/**
 * Groups the detectors that declare a `scan` by group and flags; a group with two or more enabled members (at most
 * 31) becomes one alternation, every other detector keeps its own `find`. Order does not matter: candidates are
 * sorted before they are resolved.
 */
function planScans(dets: readonly Detector[]): ScanUnit[] {
  const groups = new Map<string, number[]>();
  dets.forEach((d, i) => {
    if (!d.scan) return;
    const k = `${d.scan.group}/${d.scan.flags}`;
    const g = groups.get(k) ?? [];
    if (g.length < 31) { g.push(i); groups.set(k, g); }
  });
  const plan: ScanUnit[] = [];
  const done = new Set<number>();
  dets.forEach((d, i) => {
    if (done.has(i)) return;
    const g = d.scan ? groups.get(`${d.scan.group}/${d.scan.flags}`) : undefined;
    if (!g || g.length < 2 || !g.includes(i)) { plan.push({ kind: 'one', di: i }); return; }
    const flags = d.scan!.flags;
    const byFirst = new Uint32Array(128);
    g.forEach((di, k) => {
      done.add(di);
      const first = dets[di]!.scan!.first;
      for (let j = 0; j < first.length; j++) byFirst[first.charCodeAt(j)]! |= 1 << k;
    });
    plan.push({
      kind: 'union',
      re: new RegExp(g.map((di) => `(?:${dets[di]!.scan!.source})`).join('|'), `g${flags}`),
      members: g,
      sticky: g.map((di) => new RegExp(dets[di]!.scan!.source, `y${flags}`)),
      byFirst,
      all: (2 ** g.length - 1) | 0,
    });
  });
  return plan;
}

/** How a redacted span is written. */
export type RedactStyle =
  | { readonly kind: 'label' }
  | { readonly kind: 'mask'; readonly mask: string }
  | { readonly kind: 'partial'; readonly keep: number; readonly maskChar: string }
  | { readonly kind: 'hash' };

/** Per-request sink: the keyed-hash key and the running counts per detector type. */
export interface RedactSink {
  /** HMAC-SHA256 key for the `hash` style. */
  readonly key: string | Uint8Array;
  /** Redactions so far per detector type (never the values). */
  readonly counts: Record<string, number>;
  /** When given, every redacted span is recorded here (absolute positions in the input). Tests, the eval, the trace. */
  readonly spans?: { start: number; end: number; type: string; original?: string }[];
  /** With `spans`: also record the original text of each span (an evaluation trace; never on the request path). */
  readonly spanText?: boolean;
}

interface Cand {
  a: number;          // redacted span start (relative to the buffer)
  b: number;          // end (for an open candidate: the trigger's end)
  s: number;          // trigger start
  d: number;          // detector index (= priority)
  open: boolean;      // extent not known yet
}

/** Orders candidates: earliest start, unknown extent first, then longest, then detector priority. */
function byPosition(x: Cand, y: Cand): number {
  const kx = x.open ? x.s : x.a;
  const ky = y.open ? y.s : y.a;
  if (kx !== ky) return kx - ky;
  if (x.open !== y.open) return x.open ? -1 : 1;
  const lx = x.b - x.a;
  const ly = y.b - y.a;
  if (lx !== ly) return ly - lx;
  return x.d - y.d;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/**
 * Characters that are written in place of ASCII digits, spaces and hyphens in numbers: no-break, thin, figure,
 * narrow no-break and ideographic spaces, Unicode hyphens and dashes, fullwidth digits, hyphen-minus, plus and @.
 */
const FOLD_RANGES: readonly (readonly [number, number])[] = [
  [0xa0, 0xa0], [0x2007, 0x200a], [0x2010, 0x2013], [0x202f, 0x202f], [0x2212, 0x2212], [0x3000, 0x3000], [0xff0b, 0xff0b],
  [0xff0d, 0xff0d], [0xff10, 0xff19], [0xff20, 0xff20],
];
const hex4 = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;
const FOLDABLE = new RegExp(`[${FOLD_RANGES.map(([a, b]) => (a === b ? hex4(a) : `${hex4(a)}-${hex4(b)}`)).join('')}]`);

const NON_ASCII = /[\u00a0-\uffff]/g;
const FOLDABLE_FROM = new RegExp(FOLDABLE.source, 'g');

/** The ASCII stand-in of each foldable character (one UTF-16 unit for one: offsets are unchanged). */
function foldChar(c: number): number {
  if (c >= 0xff10 && c <= 0xff19) return c - 0xff10 + 48;
  if (c === 0xff0d || (c >= 0x2010 && c <= 0x2013) || c === 0x2212) return 45;
  if (c === 0xff0b) return 43;
  if (c === 0xff20) return 64;
  return 32;
}

/** The ASCII stand-in of every foldable character, 0 for the others (one lookup instead of a regex per character). */
const FOLD_TO = (() => {
  const t = new Uint8Array(65536);
  for (const [a, b] of FOLD_RANGES) for (let c = a; c <= b; c++) t[c] = foldChar(c);
  return t;
})();

/**
 * The view the detectors scan: `text` itself when it has no foldable character at or after `from` and the caller
 * knows `text[0, from)` has none (the usual case: one regex test, no allocation), else a copy in which each of them
 * is replaced by its ASCII form. Every replacement is one code unit for one, so a span found in the view has the same
 * offsets in the original text.
 */
export function foldView(text: string, from = 0): string {
  if (from === 0) {
    // every foldable character is U+00A0 or above: a one-range scan (cheaper than the class, and free on one-byte
    // strings) finds the first such character, and the exact class is searched only from there
    NON_ASCII.lastIndex = 0;
    if (NON_ASCII.exec(text) === null) return text;
    from = NON_ASCII.lastIndex - 1;
  }
  FOLDABLE_FROM.lastIndex = from;
  if (FOLDABLE_FROM.exec(text) === null) return text;
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const f = FOLD_TO[text.charCodeAt(i)]!;
    if (f === 0) continue;
    out += text.slice(last, i) + String.fromCharCode(f);
    last = i + 1;
  }
  return out + text.slice(last);
}
const isLetterOrDigit = /[\p{L}\p{N}]/u;

/**
 * JSON string-literal state while walking JSON source text (tool-call arguments, JSON-mode content):
 * whether the position is inside a string, and how many characters of an escape sequence remain.
 */
interface JsonState { inStr: boolean; esc: number }

function jsonStep(st: JsonState, c: number): void {
  if (st.esc > 0) {
    if (st.esc === 1 && c === 117 /* u */) st.esc = 4; // \uXXXX: four hex digits follow
    else st.esc--;
    return;
  }
  if (st.inStr) {
    if (c === 92) st.esc = 1;
    else if (c === 34) st.inStr = false;
  } else if (c === 34) st.inStr = true;
}

/**
 * A compiled set of detectors with one replacement style. Immutable and shared by every request of a policy;
 * per-request state lives in the StreamRedactor / RedactSink objects it hands out.
 */
export class RedactionEngine {
  readonly detectors: readonly Detector[];
  readonly style: RedactStyle;
  /**
   * The hold-back window in UTF-16 code units: a stream keeps at most this many trailing characters unreleased
   * while no sensitive value is in progress (a value whose end is not yet known is held until it ends).
   */
  readonly holdBack: number;
  /** Largest distance from a trigger's start to its span's start (triggers this far back are re-scanned). */
  readonly #maxCut: number;
  /** Largest lookbehind of any trigger (characters kept before the scan start). */
  readonly #lookbehind: number;
  /** Label text and its JSON-escaped form, per detector. */
  readonly #labels: readonly string[];
  readonly #jsonLabels: readonly string[];
  readonly #mask: string;
  readonly #jsonMask: string;
  readonly #m: SpanOut = { start: 0, end: 0 };
  readonly #r: SpanOut = { start: 0, end: 0 };
  /** How the triggers are searched: one scan per detector, or one scan per group of detectors (see planScans). */
  readonly #plan: readonly ScanUnit[];

  constructor(detectors: readonly Detector[], style: RedactStyle) {
    this.detectors = Object.freeze([...detectors]);
    this.style = style;
    let w = 1;
    let cut = 0;
    let lb = 0;
    for (const d of detectors) {
      w = Math.max(w, d.triggerMax + d.lookahead);
      cut = Math.max(cut, d.maxCut);
      lb = Math.max(lb, d.lookbehind);
    }
    this.holdBack = w;
    this.#maxCut = cut;
    this.#lookbehind = lb;
    this.#labels = detectors.map((d) => d.label);
    this.#jsonLabels = detectors.map((d) => jsonInner(d.label));
    this.#mask = style.kind === 'mask' ? style.mask : '';
    this.#jsonMask = jsonInner(this.#mask);
    this.#plan = planScans(this.detectors);
  }

  /** Redacts a whole text at once. `json`: the text is JSON source (tool-call arguments); the output stays valid JSON. */
  redact(text: string, sink: RedactSink, json = false): string {
    if (text.length === 0 || this.detectors.length === 0) return text;
    const st = newState(json);
    st.buf = text;
    return this.step(st, sink, true, []);
  }

  /** The spans `redact` would replace in `text`, in order, with their detector types. */
  spans(text: string, json = false): { start: number; end: number; type: string }[] {
    const spans: { start: number; end: number; type: string }[] = [];
    this.redact(text, { key: 'spans', counts: {}, spans }, json);
    return spans;
  }

  /** A streaming redactor for one text field of one choice (see StreamRedactor). */
  stream(sink: RedactSink, json = false): StreamRedactor {
    return new StreamRedactor(this, sink, json);
  }

  /**
   * Scans `st.buf` from `st.scanFrom`, releases everything that is decided (redacted), and advances the state.
   * Invariant: every candidate starting before `st.r` is decided; the buffer keeps enough characters before it (and any
   * undecided trigger) before `st.r`. Returns the released, redacted text.
   * @internal
   */
  step(st: StreamState, sink: RedactSink, eof: boolean, cands: Cand[]): string {
    const text = st.buf;
    const len = text.length;
    const r = st.r;
    const horizon = eof ? Infinity : len - this.holdBack;
    if (horizon <= r) return '';
    // detectors read the folded view (same length, same offsets); replacements are cut from the original text. A
    // stream checks only the text that arrived since the last step: `st.clean` leading characters have none
    const view = st.clean === len ? text : foldView(text, st.clean);
    st.clean = view === text ? len : 0;
    const dets = this.detectors;
    if (st.openDet >= 0 && !eof) {
      // a value was still in progress last time: nothing can be released until its end is known
      if (dets[st.openDet]!.extend!(view, st.openS, st.openTe, false) === NEED_MORE) return '';
    }
    st.openDet = -1;
    cands.length = 0;
    const m = this.#m;
    const scanFrom = st.scanFrom;
    for (const u of this.#plan) {
      if (u.kind === 'one') {
        const d = dets[u.di]!;
        let pos = scanFrom;
        while (pos < len && d.find(view, pos, m)) {
          const s = m.start;
          if (s >= horizon) break;
          pos = s + 1;
          this.#candidate(d, u.di, view, s, m.end, eof, r, cands);
        }
        continue;
      }
      // one alternation of several detectors' triggers: every position where any of them matches, once
      const re = u.re;
      re.lastIndex = scanFrom;
      while (re.lastIndex < len) {
        const x = re.exec(view);
        if (x === null) break;
        const s = x.index;
        if (s >= horizon) break;
        const c = view.charCodeAt(s);
        const bits = c < 128 ? u.byFirst[c]! : u.all;
        if ((bits & (bits - 1)) === 0) {
          // only one member can start with this character: the alternation's match is that member's match
          const k = 31 - Math.clz32(bits);
          this.#candidate(dets[u.members[k]!]!, u.members[k]!, view, s, s + x[0].length, eof, r, cands);
        } else {
          for (let k = 0; k < u.members.length; k++) {
            if ((bits & (1 << k)) === 0) continue;
            const y = u.sticky[k]!;
            y.lastIndex = s;
            const z = y.exec(view);
            if (z !== null) this.#candidate(dets[u.members[k]!]!, u.members[k]!, view, s, s + z[0].length, eof, r, cands);
          }
        }
        re.lastIndex = s + 1;
      }
    }
    if (cands.length > 1) cands.sort(byPosition);

    // Greedy left-to-right resolution; stop at the first candidate whose extent is still unknown.
    let res = '';
    let pos = r;           // next unreleased character
    let lastEnd = r;       // end of the last selected span
    let block = -1;        // release limit imposed by an open candidate
    let retain = Infinity; // earliest trigger that must be scanned again
    const js = st.json;
    for (const c of cands) {
      if (c.open) {
        block = Math.max(c.s, lastEnd);
        retain = Math.min(retain, c.s);
        st.openDet = c.d;
        st.openS = c.s;
        st.openTe = c.b; // for open candidates `b` holds the trigger's end
        break;
      }
      if (c.a >= horizon) break;
      if (c.a < lastEnd) continue;
      let a = c.a;
      let wrap = false;
      if (js) {
        // walk the JSON state up to the candidate, then check the span keeps the JSON structure intact
        for (let i = pos; i < a; i++) jsonStep(js, text.charCodeAt(i));
        res += text.slice(pos, a);
        pos = a;
        const ok = jsonSpan(js, text, a, c.b);
        if (ok < 0) continue;
        a = ok;
        wrap = !js.inStr;
        if (a > pos) {
          for (let i = pos; i < a; i++) jsonStep(js, text.charCodeAt(i));
          res += text.slice(pos, a);
          pos = a;
        }
      }
      res += text.slice(pos, a);
      res += this.#replace(c.d, text, a, c.b, sink, js !== null, wrap);
      if (js) for (let i = a; i < c.b; i++) jsonStep(js, text.charCodeAt(i));
      const name = dets[c.d]!.name;
      sink.counts[name] = (sink.counts[name] ?? 0) + 1;
      if (sink.spans) {
        sink.spans.push(sink.spanText ? { start: st.base + a, end: st.base + c.b, type: name, original: text.slice(a, c.b) } : { start: st.base + a, end: st.base + c.b, type: name });
      }
      pos = c.b;
      lastEnd = c.b;
    }

    let releaseTo = block >= 0 ? block : eof ? len : Math.max(horizon, lastEnd);
    if (releaseTo < pos) releaseTo = pos;
    // never split a surrogate pair at a hold boundary
    if (!eof && releaseTo > lastEnd && releaseTo - 1 >= pos && releaseTo < len && isHighSurrogate(text.charCodeAt(releaseTo - 1))) releaseTo--;
    if (releaseTo > pos) {
      if (js) for (let i = pos; i < releaseTo; i++) jsonStep(js, text.charCodeAt(i));
      res += text.slice(pos, releaseTo);
    }

    // drop what no future scan needs
    const scanNext = Math.max(0, Math.min(releaseTo - this.#maxCut, retain));
    const keep = Math.max(0, scanNext - this.#lookbehind);
    if (keep > 0) {
      st.buf = text.slice(keep);
      st.base += keep;
      st.clean = Math.max(0, st.clean - keep);
      if (st.openDet >= 0) { st.openS -= keep; st.openTe -= keep; }
    }
    st.r = releaseTo - keep;
    st.scanFrom = scanNext - keep;
    return res;
  }

  /**
   * Turns a trigger match `[s, te)` of detector `di` into a candidate: reads the value's extent, validates it, and
   * pushes it when it starts at or after the release point `r` (an open candidate when its end is not known yet).
   */
  #candidate(d: Detector, di: number, view: string, s: number, te: number, eof: boolean, r: number, cands: Cand[]): void {
    let e = te;
    if (d.extend) {
      e = d.extend(view, s, e, eof);
      if (e === REJECT) return;
      if (e === NEED_MORE) {
        if (s + d.maxCut >= r) cands.push({ a: s, b: te, s, d: di, open: true });
        return;
      }
    }
    let a = s;
    let b = e;
    if (d.refine) {
      const out = this.#r;
      if (!d.refine(view, s, e, out)) return;
      a = out.start;
      b = out.end;
    }
    if (a >= r && b > a) cands.push({ a, b, s, d: di, open: false });
  }

  /** The replacement text for `text[a, b)` found by detector `di`. */
  #replace(di: number, text: string, a: number, b: number, sink: RedactSink, json: boolean, wrap: boolean): string {
    const style = this.style;
    let rep: string;
    switch (style.kind) {
      case 'label':
        rep = json ? this.#jsonLabels[di]! : this.#labels[di]!;
        break;
      case 'mask':
        rep = json ? this.#jsonMask : this.#mask;
        break;
      case 'hash': {
        const d = this.detectors[di]!;
        const h = createHmac('sha256', sink.key).update(d.name).update('\0').update(text.slice(a, b)).digest('hex').slice(0, 8);
        rep = `[${json ? jsonInner(d.tokenName) : d.tokenName}:${h}]`;
        break;
      }
      case 'partial':
        rep = partialMask(text, a, b, style.keep, style.maskChar, json);
        break;
    }
    return wrap ? `"${rep}"` : rep;
  }
}

/** Mutable state of one stream (or one whole-text pass). Positions are relative to `buf`. @internal */
export interface StreamState {
  /** Received text from a little before the release point on. */
  buf: string;
  /** Absolute position of `buf[0]` in the whole input. */
  base: number;
  /** Release point: everything before it has been returned. */
  r: number;
  /** Where the next scan for triggers starts. */
  scanFrom: number;
  /** Leading characters of `buf` known to hold no foldable character (see foldView). */
  clean: number;
  /** JSON string state at `r` (JSON-source fields only). */
  json: JsonState | null;
  /** The detector, trigger start and trigger end of a value still in progress (openDet -1: none). */
  openDet: number;
  openS: number;
  openTe: number;
}

function newState(json: boolean): StreamState {
  return { buf: '', base: 0, r: 0, scanFrom: 0, clean: 0, json: json ? { inStr: false, esc: 0 } : null, openDet: -1, openS: 0, openTe: 0 };
}

/**
 * Checks that replacing `text[a, b)` keeps JSON source valid, given the JSON state at `a`. Returns the (possibly
 * later) start of the span to replace, or -1. Inside a string: the span may not close the string or end inside an
 * escape; a span starting inside an escape starts after it. Outside strings: the span may not contain a quote
 * (the replacement is then written as a JSON string).
 */
function jsonSpan(st: JsonState, text: string, a: number, b: number): number {
  const probe: JsonState = { inStr: st.inStr, esc: st.esc };
  let start = a;
  if (probe.esc > 0) {
    while (start < b && probe.esc > 0) { jsonStep(probe, text.charCodeAt(start)); start++; }
    if (start >= b) return -1;
  }
  const wasIn = probe.inStr;
  for (let i = start; i < b; i++) {
    jsonStep(probe, text.charCodeAt(i));
    if (probe.inStr !== wasIn) return -1;
  }
  if (probe.esc > 0) return -1;
  return start;
}

/** The inside of a JSON string literal for `s` (quotes stripped). */
function jsonInner(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Masks every letter and digit of `text[a, b)` except the last `keep` ones (at most half of them), keeping
 * separators so the shape stays readable. In JSON source, escape sequences are copied as they are.
 */
function partialMask(text: string, a: number, b: number, keep: number, maskChar: string, json: boolean): string {
  let total = 0;
  for (let i = a; i < b; i++) {
    if (json && text.charCodeAt(i) === 92) { i += text[i + 1] === 'u' ? 5 : 1; continue; }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (cp > 0xffff) i++;
    if (isLetterOrDigit.test(ch)) total++;
  }
  const shown = Math.min(keep, Math.floor(total / 2));
  let out = '';
  let seen = 0;
  for (let i = a; i < b; i++) {
    if (json && text.charCodeAt(i) === 92) {
      const n = text[i + 1] === 'u' ? 6 : 2;
      out += text.slice(i, i + n);
      i += n - 1;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (cp > 0xffff) i++;
    if (isLetterOrDigit.test(ch)) {
      seen++;
      out += seen > total - shown ? ch : maskChar;
    } else out += ch;
  }
  return out;
}

/**
 * Redacts a stream of text pieces for one field (one choice's content, or one tool call's arguments).
 * `push` returns the text that is safe to release now (already redacted); `flush` returns the rest at the end.
 * Guarantee: the concatenation of everything returned equals `engine.redact(concatenated input)`, however the
 * input is split, and no released prefix ever contains a character of a span that the whole-text pass redacts.
 */
export class StreamRedactor {
  readonly #engine: RedactionEngine;
  readonly #sink: RedactSink;
  readonly #st: StreamState;
  readonly #cands: Cand[] = [];
  #done = false;

  constructor(engine: RedactionEngine, sink: RedactSink, json: boolean) {
    this.#engine = engine;
    this.#sink = sink;
    this.#st = newState(json);
  }

  /** Characters received but not released yet. */
  get held(): number {
    return this.#st.buf.length - this.#st.r;
  }

  /** Adds a piece; returns the redacted text that can be released now (possibly ''). */
  push(piece: string): string {
    if (this.#done) throw new Error('push after flush');
    if (piece.length === 0) return '';
    this.#st.buf += piece;
    return this.#engine.step(this.#st, this.#sink, false, this.#cands);
  }

  /** Ends the stream: returns every held character, redacted. Idempotent (a second call returns ''). */
  flush(): string {
    if (this.#done) return '';
    this.#done = true;
    const st = this.#st;
    if (st.r >= st.buf.length) return '';
    const out = this.#engine.step(st, this.#sink, true, this.#cands);
    st.buf = '';
    st.r = 0;
    return out;
  }
}
