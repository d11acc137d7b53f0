// The built-in detectors: a short, bounded trigger regex each (our own, linear: only bounded quantifiers over
// simple classes), optionally a linear extent scanner for values whose tail length varies (emails' domains, JWTs,
// PEM bodies, tokens), and a validator (checksums, ranges, structure) that turns a trigger into a redactable span.
import { RegExpParser } from '@chevrotain/regexp-to-ast';
import {
  callingCodeValid, cardBrandValid, digitsOf, distinctChars, IBAN_LENGTHS, ibanValid, ipv6Valid, jwtHeaderValid,
  luhnValid, mixedCase, ssnValid,
} from './validators.ts';

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

interface TriggerSpec { before?: string; body: string; after?: string; flags?: string }

interface ReNode { type: string; value?: unknown; complement?: boolean; quantifier?: { atLeast: number; atMost: number } }

/** Longest match of a parsed non-unicode regex in UTF-16 units (every character or class is one unit). */
function nodeMax(n: ReNode): number {
  let base: number;
  switch (n.type) {
    case 'Pattern': case 'Group': base = nodeMax(n.value as ReNode); break;
    case 'Disjunction': base = Math.max(0, ...(n.value as ReNode[]).map(nodeMax)); break;
    case 'Alternative': base = (n.value as ReNode[]).reduce((t, x) => t + nodeMax(x), 0); break;
    case 'Character': case 'Set': base = 1; break;
    case 'GroupBackReference': base = Infinity; break;
    default: base = 0; // anchors and assertions consume nothing
  }
  return n.quantifier ? base * n.quantifier.atMost : base;
}

/** Longest match of a built-in trigger body, in UTF-16 code units (exported for tests). */
export function bodyMaxLength(body: string): number {
  return nodeMax(new RegExpParser().pattern(`/${body}/`) as unknown as ReNode);
}

/**
 * Writes counted digit runs out: `\\d{3}` → `\\d\\d\\d`, `\\d{2,8}` → `\\d\\d\\d{0,6}` — the same language and the same
 * backtracking order, but V8's regex compiler only looks ahead through literal runs when it picks the positions
 * worth trying ("quick check"), so the written-out form rejects most positions without entering the pattern
 * (a card trigger starting `\\d\\d\\d\\d` scans ~2.5× faster than one starting `\\d{4}`).
 */
export function unrollDigitCounts(source: string): string {
  return source.replace(/(?<!\\)\\d\{(\d+)(?:,(\d+))?\}/g, (all, lo: string, hi: string | undefined) => {
    const m = Number(lo);
    if (m > 8) return all;
    const rest = hi === undefined ? '' : Number(hi) > m ? `\\d{0,${Number(hi) - m}}` : '';
    return '\\d'.repeat(m) + rest;
  });
}

/** Compiles a trigger (lookbehind + body + lookahead) and measures the body's longest match. */
function trigger(spec: TriggerSpec): { find: Detector['find']; triggerMax: number; source: string } {
  const source = unrollDigitCounts(`${spec.before ?? ''}${spec.body}${spec.after ?? ''}`);
  const re = new RegExp(source, `g${spec.flags ?? ''}`);
  const len = bodyMaxLength(spec.body);
  if (!Number.isFinite(len)) throw new Error(`built-in trigger is unbounded: ${spec.body}`);
  return { find: nativeFind(re), triggerMax: len, source };
}

/**
 * Adds to `out` every character code a match of `n` can start with; returns true when `n` can match the empty
 * string (so what follows it can start a match too). Zero-width assertions add nothing and are transparent.
 * Throws on a negated class (its first set is not a short list).
 */
function firstOf(n: ReNode, out: Set<number>): boolean {
  let nullable: boolean;
  switch (n.type) {
    case 'Pattern': case 'Group': nullable = firstOf(n.value as ReNode, out); break;
    case 'Disjunction': nullable = (n.value as ReNode[]).map((x) => firstOf(x, out)).some(Boolean); break;
    case 'Alternative':
      nullable = true;
      for (const t of n.value as ReNode[]) if (!firstOf(t, out)) { nullable = false; break; }
      break;
    case 'Character': out.add(n.value as number); nullable = false; break;
    case 'Set':
      if (n.complement) throw new Error('negated class at the start of a grouped trigger');
      for (const v of n.value as (number | { from: number; to: number })[]) {
        if (typeof v === 'number') out.add(v);
        else for (let c = v.from; c <= v.to; c++) out.add(c);
      }
      nullable = false;
      break;
    default: nullable = true; // anchors, word boundaries and lookarounds consume nothing
  }
  return nullable || (n.quantifier !== undefined && n.quantifier.atLeast === 0);
}

/** The characters a match of the trigger body can start with, as a string; case variants added for `i`. */
export function firstChars(body: string, flags = ''): string {
  const out = new Set<number>();
  if (firstOf(new RegExpParser().pattern(`/${body}/`) as unknown as ReNode, out)) throw new Error(`trigger can match the empty string: ${body}`);
  if (flags.includes('i')) {
    for (const c of [...out]) {
      const ch = String.fromCharCode(c);
      out.add(ch.toLowerCase().charCodeAt(0));
      out.add(ch.toUpperCase().charCodeAt(0));
    }
  }
  const chars = [...out].sort((a, b) => a - b);
  if (chars.some((c) => c >= 128)) throw new Error(`grouped trigger can start with a non-ASCII character: ${body}`);
  return String.fromCharCode(...chars);
}

// ---------------------------------------------------------------------------------------------------------
// Character classes for the extent scanners (ASCII bitmaps: one lookup per character, no regex on the hot path).

function charClass(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i + 1] === '-' && i + 2 < chars.length) {
      for (let c = chars.charCodeAt(i); c <= chars.charCodeAt(i + 2); c++) t[c] = 1;
      i += 2;
    } else t[chars.charCodeAt(i)] = 1;
  }
  return t;
}
const inClass = (t: Uint8Array, c: number): boolean => c < 128 && t[c] === 1;

/** Scans `[from, …)` while characters are in `cls`, up to `s + cap`; an extent result (see Detector.extend). */
function scanClass(text: string, s: number, from: number, eof: boolean, cls: Uint8Array, cap: number): number {
  const limit = s + cap;
  let i = from;
  while (i < text.length && i < limit && inClass(cls, text.charCodeAt(i))) i++;
  if (i === limit) return i;
  if (i === text.length && !eof) return NEED_MORE;
  return i;
}

const ALNUM = charClass('A-Za-z0-9');
const isAlnum = (c: number): boolean => inClass(ALNUM, c);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

// ---------------------------------------------------------------------------------------------------------
// email

const DOMAIN = charClass('A-Za-z0-9.-');

/**
 * Letters, digits and marks of every script (BMP), as one bit per code unit: the characters an internationalised
 * address (RFC 6530) may use in its local part and domain labels besides the ASCII ones. Built once at load.
 */
const UNI_WORD = (() => {
  const t = new Uint8Array(65536);
  const re = /^[\p{L}\p{N}\p{M}]$/u;
  for (let c = 128; c < 65536; c++) if ((c < 0xd800 || c > 0xdfff) && re.test(String.fromCharCode(c))) t[c] = 1;
  return t;
})();

/** Han, kana and Hangul: scripts written without spaces, so an ASCII address may be glued to them. */
function isCjk(c: number): boolean {
  return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff)
    || (c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f) || (c >= 0x31f0 && c <= 0x31ff)
    || (c >= 0xff66 && c <= 0xff9f);
}

const TLD = /^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}|[\p{L}\p{M}]{2,63})$/u;

const LOCAL = charClass("A-Za-z0-9._%+'-");
/** Local-part characters: ASCII atext subset (with the apostrophe) plus letters, digits and marks of any script. */
const isLocal = (c: number): boolean => (c < 128 ? LOCAL[c] === 1 : UNI_WORD[c] === 1);
/** Domain characters: ASCII letters, digits, '.', '-', plus letters, digits and marks of any script (IDN U-labels). */
const isDomain = (c: number): boolean => (c < 128 ? DOMAIN[c] === 1 : UNI_WORD[c] === 1);
const EMAIL_LOCAL_MAX = 64;
const EMAIL_MAX = 64 + 1 + 253;

/**
 * The e-mail trigger, found from each '@' instead of trying every word start: the local part is the maximal run of
 * local-part characters before the '@' (at most 64). Two cuts keep prose out of it: where Han/kana/Hangul and other
 * characters meet inside the run, the address starts after the last CJK character (`请发邮件到test@…`); leading
 * apostrophes are quotes, not part of it. A run right after `://` is the userinfo of a URL, not an address.
 */
function findEmail(text: string, from: number, m: SpanOut): boolean {
  let at = text.indexOf('@', from);
  while (at >= 0) {
    let s = at;
    while (s > 0 && at - s <= EMAIL_LOCAL_MAX && isLocal(text.charCodeAt(s - 1))) s--;
    if (at - s >= 1 && at - s <= EMAIL_LOCAL_MAX && !(s > 0 && isLocal(text.charCodeAt(s - 1)))
      && !(s >= 3 && text.charCodeAt(s - 1) === 47 && text.charCodeAt(s - 2) === 47 && text.charCodeAt(s - 3) === 58)) {
      let lastCjk = -1;
      let other = false;
      for (let i = s; i < at; i++) {
        if (isCjk(text.charCodeAt(i))) lastCjk = i;
        else if (lastCjk >= 0) other = true;
      }
      if (lastCjk >= 0 && other) s = lastCjk + 1;
      while (s < at && text.charCodeAt(s) === 39) s++;
      const next = text.charCodeAt(at + 1);
      if (s >= from && s < at && (isAlnum(next) || (next >= 128 && UNI_WORD[next] === 1))) {
        m.start = s;
        m.end = at + 2;
        return true;
      }
    }
    at = text.indexOf('@', at + 1);
  }
  return false;
}

/** The domain's extent: domain characters, ending where a label switches between CJK and other characters. */
function extendEmail(text: string, s: number, te: number, eof: boolean): number {
  const limit = s + EMAIL_MAX;
  let kind = isCjk(text.charCodeAt(te - 1)) ? 1 : 0; // of the current label: -1 none yet
  let i = te;
  while (i < text.length && i < limit) {
    const c = text.charCodeAt(i);
    if (!isDomain(c)) break;
    if (c === 46) kind = -1;
    else if (c !== 45) {
      const k = isCjk(c) ? 1 : 0;
      if (kind >= 0 && k !== kind) break;
      kind = k;
    }
    i++;
  }
  if (i === limit) return i;
  if (i === text.length && !eof) return NEED_MORE;
  return i;
}

function refineEmail(text: string, s: number, e: number, out: SpanOut): boolean {
  while (e > s && (text[e - 1] === '.' || text[e - 1] === '-')) e--;
  const at = text.indexOf('@', s);
  if (at < 0 || at >= e) return false;
  const local = text.slice(s, at);
  if (local[0] === '.' || local[local.length - 1] === '.' || local.includes('..')) return false;
  const labels = text.slice(at + 1, e).split('.');
  if (labels.length < 2) return false;
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || l[0] === '-' || l[l.length - 1] === '-') return false;
  }
  if (!TLD.test(labels[labels.length - 1]!)) return false;
  out.start = s;
  out.end = e;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// phone

function groupCount(text: string, s: number, e: number): number {
  let n = 0;
  let inRun = false;
  for (let i = s; i < e; i++) {
    const d = isDigit(text.charCodeAt(i));
    if (d && !inRun) n++;
    inRun = d;
  }
  return n;
}

/** Number of digit groups of exactly four digits in `text[s, e)`. */
function fourGroups(text: string, s: number, e: number): number {
  let n = 0;
  let run = 0;
  for (let i = s; i <= e; i++) {
    if (i < e && isDigit(text.charCodeAt(i))) { run++; continue; }
    if (run === 4) n++;
    run = 0;
  }
  return n;
}

/**
 * True when the text before `s` is a chain of space-separated 4-character groups of capitals and digits, one of
 * them mixing letters and digits ("DK50 0040 ", "NL91 1BNA "): the number continues an IBAN-like code, it is not a phone.
 */
function afterCodeGroup(text: string, s: number): boolean {
  let i = s;
  for (let g = 0; g < 8 && i >= 5 && text[i - 1] === ' '; g++) {
    if (i > 5 && isAlnum(text.charCodeAt(i - 6))) return false;
    let letter = false;
    let digit = false;
    for (let k = i - 5; k < i - 1; k++) {
      const c = text.charCodeAt(k);
      if (c >= 65 && c <= 90) letter = true;
      else if (isDigit(c)) digit = true;
      else return false;
    }
    if (letter) return digit; // "DK50", "1BNA": a code group; "ACME": a word
    i -= 5;
  }
  return false;
}

/** How far before an unbroken digit run a phone word is looked for (same line). */
const PHONE_CONTEXT = 40;
/** Words that say a number is a phone number (any script; ASCII ones as whole words). */
const PHONE_WORDS = /\b(?:phone|phones|phoned|tel|telephone|mobile|mob|cell|cellphone|call|called|calling|text|sms|whatsapp|signal|telegram|viber|fax|dial|ring|contact|reach|hotline|helpline|landline|switchboard|office|telefoon|mobiel|mobil|mobilnummer|komórka|komorka|cep|telemóvel|telepon|ponsel)\b|電話|电话|手机|手機|携帯|ケータイ|連絡|联系|聯絡|号码|연락|전화|휴대폰|핸드폰|телефон|тел|téléphone|portable|telefon|handy|teléfono|móvil|movil|celular|telefone|telefono|cellulare|điện thoại|โทร|هاتف|جوال|טלפון|फ़ोन|फोन|मोबाइल/giu;
/** Words that say a number is an identifier; the nearer of the two kinds decides. */
const ID_WORDS = /\b(?:order|orders|invoice|account|acct|tracking|id|ref|reference|transaction|ticket|case|serial|isbn|sku|item|items|customer|policy|receipt|parcel|shipment|booking|confirmation|passport|iban|card)\b|订单|注文|주문/giu;

/** Position just after the last match of `re` in `w`, or -1. */
function lastMatchEnd(re: RegExp, w: string): number {
  re.lastIndex = 0;
  let end = -1;
  for (let m = re.exec(w); m !== null; m = re.exec(w)) end = m.index + m[0].length;
  return end;
}

/**
 * True when a phone word precedes `s` on the same line within PHONE_CONTEXT characters and no identifier word
 * ("order", "invoice", "tracking", …) stands between it and the number.
 */
function phoneContext(text: string, s: number): boolean {
  const w = contextWindow(text, s);
  const phone = lastMatchEnd(PHONE_WORDS, w);
  return phone >= 0 && phone > lastMatchEnd(ID_WORDS, w) && phone > lastMatchEnd(SSN_WORDS, w);
}

/** True when an SSN word precedes `s` on the same line (PHONE_CONTEXT characters), nearer than phone and identifier words. */
function ssnContext(text: string, s: number): boolean {
  const w = contextWindow(text, s);
  const ssn = lastMatchEnd(SSN_WORDS, w);
  return ssn >= 0 && ssn > lastMatchEnd(PHONE_WORDS, w) && ssn > lastMatchEnd(ID_WORDS, w);
}

/** The text on the same line in the PHONE_CONTEXT characters before `s`. */
function contextWindow(text: string, s: number): string {
  let a = Math.max(0, s - PHONE_CONTEXT);
  const nl = text.lastIndexOf('\n', s - 1);
  if (nl >= a) a = nl + 1;
  return a >= s ? '' : text.slice(a, s);
}

/**
 * An unbroken run of digits is a phone number only with a phone word before it (see phoneContext) and a national
 * length: 8–12 digits (national significant numbers are at most 12 with a trunk prefix), or 00 + E.164 (10–13 more).
 */
function unbrokenPhoneValid(text: string, s: number, d: string): boolean {
  const n = d.length;
  const shape = d.startsWith('00') ? n >= 12 && n <= 15 && callingCodeValid(d.slice(2)) : n >= 8 && n <= 12;
  return shape && phoneContext(text, s);
}

/** The phone-number checks of refinePhone on `text[s, numEnd)` (extension excluded). */
function phoneValid(text: string, s: number, numEnd: number): boolean {
  const d = digitsOf(text, s, numEnd);
  const first = text[s] === '(' ? text[s + 1] : text[s];
  if (first === '+') return d.length >= 8 && d.length <= 15 && callingCodeValid(d);
  if (first === '0') {
    if (d.startsWith('00')) {
      const rest = d.slice(2);
      if (rest.length < 8 || rest.length > 15 || !callingCodeValid(rest)) return false;
    } else if (d.length < 9 || d.length > 11) return false;
    else if (d.length === 9 && groupCount(text, s, numEnd) > 2) return false; // 3-2-4 and the like: SSN, not phone
    // bank-style grouping: the tail of an IBAN or account number ("DE89 3704 0044 0532 …"), not a phone number
    return fourGroups(text, s, numEnd) < 3 && !afterCodeGroup(text, s);
  }
  return d.length === 10 || (d.length === 11 && d[0] === '1');
}

function refinePhone(text: string, s: number, e: number, out: SpanOut): boolean {
  let numEnd = e;
  let unbroken = true;
  for (let i = s; i < e; i++) {
    const c = text[i]!;
    if (c === 'x' || c === 'X' || c === 'e' || c === 'E') { numEnd = i; break; }
    if (!isDigit(text.charCodeAt(i))) unbroken = false;
  }
  if (unbroken) {
    if (!unbrokenPhoneValid(text, s, text.slice(s, numEnd))) return false;
    out.start = s;
    out.end = e;
    return true;
  }
  let end = e;
  // the regex takes the longest run of groups; without an extension, shorter prefixes ending at a space are tried
  while (!phoneValid(text, s, numEnd)) {
    if (numEnd !== end) return false;
    let k = numEnd - 1;
    while (k > s && isDigit(text.charCodeAt(k))) k--;
    if (k <= s || text[k] !== ' ') return false;
    numEnd = end = k;
  }
  out.start = s;
  out.end = end;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// credit card: the regex takes the longest digit run; try it, then shorter prefixes that end at a separator.

/** Digit-group layouts printed on cards (no separators is always accepted): 4-4-4-4(-1..3), Amex 4-6-5, Diners 4-6-4. */
const CARD_GROUPS = new Set(['4,4,4,4', '4,4,4,4,1', '4,4,4,4,2', '4,4,4,4,3', '4,6,5', '4,6,4', '4,4,4,1', '4,4,4,3', '4,4,5', '5,5,5,4']);

/** The group layout of `text[s, end)` ("4,4,4,4"), '' without separators, or null when separators differ. */
function groupLayout(text: string, s: number, end: number): string | null {
  let sep = -1;
  let run = 0;
  let layout = '';
  for (let i = s; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) { run++; continue; }
    if (sep === -1) sep = c;
    else if (c !== sep) return null;
    layout += `${run},`;
    run = 0;
  }
  return sep === -1 ? '' : `${layout}${run}`;
}

function refineCard(text: string, s: number, e: number, out: SpanOut): boolean {
  let end = e;
  for (;;) {
    const d = digitsOf(text, s, end);
    if (d.length >= 13 && d.length <= 19 && cardBrandValid(d) && luhnValid(text, s, end)) {
      const layout = groupLayout(text, s, end);
      if (layout === '' || (layout !== null && CARD_GROUPS.has(layout))) {
        out.start = s;
        out.end = end;
        return true;
      }
    }
    let k = end - 1;
    while (k > s && isDigit(text.charCodeAt(k))) k--;
    if (k <= s) return false;
    end = k; // cut at the separator before the last group
  }
}

// ---------------------------------------------------------------------------------------------------------
// US SSN

/** Words that say a bare nine-digit run is a US social security number. */
const SSN_WORDS = /\b(?:ssn|ssns|social security|social sec|soc sec|ss#|ss no|tin|itin|taxpayer|tax id)\b/giu;

function refineSsn(text: string, s: number, e: number, out: SpanOut): boolean {
  if (!ssnValid(digitsOf(text, s, e))) return false;
  // nine digits without separators are far more often an order, account or phone number: they need an SSN word
  // before them, nearer than any phone or identifier word
  if (isDigit(text.charCodeAt(s + 3)) && !ssnContext(text, s)) return false;
  out.start = s;
  out.end = e;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// IBAN: the country's length decides where it ends; that end must be a word boundary.

function refineIban(text: string, s: number, e: number, out: SpanOut): boolean {
  const len = IBAN_LENGTHS[text.slice(s, s + 2).toUpperCase()];
  if (len === undefined) return false;
  let n = 0;
  let compact = '';
  let i = s;
  let sep = 0;      // the one separator used (space or dash), 0 before the first
  let letters = 0;  // 1: upper case seen, 2: lower case seen
  for (; i < e && n < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 45) {
      if (sep !== 0 && c !== sep) return false;
      sep = c;
      continue;
    }
    if (c >= 65 && c <= 90) letters |= 1;
    else if (c >= 97 && c <= 122) letters |= 2;
    compact += text[i];
    n++;
  }
  if (n < len || letters === 3) return false; // one case throughout
  compact = compact.toUpperCase();
  if (i < text.length && isAlnum(text.charCodeAt(i))) return false;
  if (!ibanValid(compact)) return false;
  out.start = s;
  out.end = i;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// IPv6: the trigger takes a run of hex digits, colons and dots (+ zone, + prefix length); validate, trimming
// trailing sentence punctuation, and require a boundary after the address.

function ipv6Boundary(text: string, i: number): boolean {
  if (i >= text.length) return true;
  const c = text.charCodeAt(i);
  if (isAlnum(c) || c === 95) return false; // word char, '_'
  if (c === 58) { // ':' only as punctuation ("…::1: done"), not followed by more address characters
    const n = i + 1 < text.length ? text.charCodeAt(i + 1) : 32;
    return !(isAlnum(n) || n === 58 || n === 46);
  }
  if (c === 46 && i + 1 < text.length && isDigit(text.charCodeAt(i + 1))) return false;
  return true;
}

const HEX = charClass('0-9A-Fa-f');
const IPV6_BEFORE = '(?<![\\w:.])';
const IPV6_BODY = '(?:[0-9A-Fa-f]{1,4}:|::)[0-9A-Fa-f:.]{0,41}(?:%[0-9A-Za-z]{1,15})?(?:\\/\\d{1,3})?';
const IPV6_STICKY = new RegExp(IPV6_BEFORE + IPV6_BODY, 'y');

/**
 * The IPv6 trigger, found from each ':' instead of trying every position: a match must start at the hex run that
 * ends at a colon (or at the colon of a leading '::'), so only those starts are tried, with the same sticky regex.
 */
function findIpv6(text: string, from: number, m: SpanOut): boolean {
  let p = text.indexOf(':', from);
  while (p >= 0) {
    // an address has two colons or more, and the first two are at most 5 apart (a group has at most four digits,
    // and an embedded IPv4 address only follows the last colon): a colon without another one within 5 characters
    // after it cannot be the first colon of an address (most colons in text: times, "key: value", URLs)
    const q = text.indexOf(':', p + 1);
    if (q < 0 || q > p + 5) {
      if (q < 0 && text.length - p <= 5) { /* the next colon may still arrive: let the trigger decide */ } else { p = q; continue; }
    }
    let s = p;
    while (s > 0 && p - s <= 4 && inClass(HEX, text.charCodeAt(s - 1))) s--;
    if (s >= from && p - s <= 4) {
      IPV6_STICKY.lastIndex = s;
      const r = IPV6_STICKY.exec(text);
      if (r !== null) {
        m.start = s;
        m.end = s + r[0].length;
        return true;
      }
    }
    p = text.indexOf(':', p + 1);
  }
  return false;
}

function ipv6Address(text: string, s: number, end: number): boolean {
  if (end - s < 3) return false;
  let digit = false;
  for (let i = s; i < end && !digit; i++) digit = isDigit(text.charCodeAt(i));
  return digit && ipv6Valid(text.slice(s, end));
}

function refineIpv6(text: string, s: number, e: number, out: SpanOut): boolean {
  let addrEnd = s;
  while (addrEnd < e && text[addrEnd] !== '%' && text[addrEnd] !== '/') addrEnd++;
  let end = addrEnd;
  while (!ipv6Address(text, s, end)) {
    const last = text[end - 1];
    if (end - s > 1 && (last === '.' || (last === ':' && text[end - 2] !== ':'))) end--;
    else return false;
  }
  let spanEnd = end;
  if (end === addrEnd) {
    // untrimmed address: a zone id and a prefix length may follow, each kept only when well-formed
    let k = end;
    if (text[k] === '%') {
      let z = k + 1;
      while (z < e && text[z] !== '/') z++;
      if (z > k + 1) k = z;
    }
    if (text[k] === '/') {
      let p = k + 1;
      while (p < e && isDigit(text.charCodeAt(p))) p++;
      if (p > k + 1 && +text.slice(k + 1, p) <= 128 && !(p < text.length && isDigit(text.charCodeAt(p)))) k = p;
    }
    if (k > end && ipv6Boundary(text, k)) spanEnd = k;
  }
  if (spanEnd === end && !ipv6Boundary(text, end) && text[end] !== '/' && text[end] !== '%') return false;
  out.start = s;
  out.end = spanEnd;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// JWT (JWS compact: 3 segments; JWE compact: 5), header must decode to a JSON object with "alg".

const JWT_CHARS = charClass('A-Za-z0-9_=.-');

function refineJwt(text: string, s: number, e: number, out: SpanOut): boolean {
  const full = e;
  while (e > s && text[e - 1] === '.') e--;
  const segs = text.slice(s, e).split('.');
  // `header.payload.` is an unsecured JWS (RFC 7519 §6.1: empty signature): its dot is part of the token
  if (segs.length === 2 && full > e) e++;
  if (segs.length !== 2 && segs.length !== 3 && segs.length !== 5) return false;
  if (e - s < 20 || segs[1]!.length < 2) return false;
  let h = segs[0]!;
  while (h.endsWith('=')) h = h.slice(0, -1);
  if (!jwtHeaderValid(h)) return false;
  out.start = s;
  out.end = e;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// URL credentials: `scheme://user:password@host` → the `user:password` part.

const URL_AUTH = charClass('\x21\x24-\x26\x28-\x2e\x30-\x3b\x3d\x40-\x5b\x5d-\x7e'); // printable minus space " # ' / < > ? \

function refineUrlCredentials(text: string, s: number, e: number, out: SpanOut): boolean {
  const u = s + 3;
  const at = text.lastIndexOf('@', e - 1);
  if (at <= u) return false;
  const colon = text.indexOf(':', u);
  if (colon < 0 || colon >= at) {
    // no password: the user name is a credential only when it is token-shaped (`https://ghp_…@github.com/`)
    if (!tokenShaped(text, u, at)) return false;
  } else if (colon === u || colon === at - 1 || text.lastIndexOf('@', colon) >= u) {
    // user (no '@') ':' password (non-empty), all before the last '@' of the authority
    return false;
  }
  out.start = u;
  out.end = at;
  return true;
}

/** A URL user name that is a token: 16+ characters of `[A-Za-z0-9._~-]` with letters and digits, 8+ distinct. */
function tokenShaped(text: string, a: number, b: number): boolean {
  if (b - a < 16) return false;
  let digit = false;
  let letter = false;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letter = true;
    else if (c !== 95 && c !== 45 && c !== 46 && c !== 126) return false;
  }
  return digit && letter && distinctChars(text, a, b) >= 8;
}

// ---------------------------------------------------------------------------------------------------------
// Secrets with a known prefix.

const TOKEN_CHARS = charClass('A-Za-z0-9_-');
const SLACK_CHARS = charClass('A-Za-z0-9-');
const BEARER_CHARS = charClass('A-Za-z0-9._~+/=-');

/** OpenAI keys carry the marker `T3BlbkFJ` (base64 of "OpenAI"); Anthropic keys start with `sk-ant-`. */
function refineOpenAi(text: string, s: number, e: number, out: SpanOut): boolean {
  if (e - s < 40 || !mixedCase(text, s + 3, e) || distinctChars(text, s + 3, e) < 12) return false;
  const marked = text.indexOf('T3BlbkFJ', s);
  if (!((marked >= 0 && marked + 8 <= e) || text.startsWith('sk-ant-', s))) return false;
  out.start = s;
  out.end = e;
  return true;
}

function refineDistinct(min: number) {
  return (text: string, s: number, e: number, out: SpanOut): boolean => {
    if (distinctChars(text, s, e) < min) return false;
    out.start = s;
    out.end = e;
    return true;
  };
}

const WORD_CHARS = charClass('A-Za-z0-9_');

/** Classic tokens: `gh?_` + 36; fine-grained: `github_pat_` + 82 (22 + `_` + 59). */
function refineGithub(text: string, s: number, e: number, out: SpanOut): boolean {
  const len = text[s + 2] === 't' ? 93 : 40;
  if (e - s !== len || distinctChars(text, s, e) < 10) return false;
  out.start = s;
  out.end = e;
  return true;
}

function refineSlack(text: string, s: number, e: number, out: SpanOut): boolean {
  if (text[e - 1] === '-' || e - s < 24) return false;
  // numeric segments: one of 8+ digits, or three of 5+ (team/user ids); else a long mixed-case secret (config tokens)
  let run = 0;
  let longest = 0;
  let fives = 0;
  for (let i = s; i <= e; i++) {
    if (i < e && isDigit(text.charCodeAt(i))) { run++; continue; }
    if (run > longest) longest = run;
    if (run >= 5) fives++;
    run = 0;
  }
  if (longest < 8 && fives < 3 && !(e - s >= 60 && mixedCase(text, s, e))) return false;
  out.start = s;
  out.end = e;
  return true;
}

function refineBearer(text: string, s: number, e: number, out: SpanOut): boolean {
  let a = s + 6;
  while (text[a] === ' ' || text[a] === '\t') a++;
  while (e > a && text[e - 1] === '.') e--;
  if (e - a < 16 || distinctChars(text, a, e) < 8) return false;
  let digit = false;
  let letter = false;
  for (let i = a; i < e; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letter = true;
  }
  if (!digit || !letter) return false;
  out.start = a;
  out.end = e;
  return true;
}

/**
 * PEM body, line by line: base64 lines, armor headers (`Proc-Type: 4,ENCRYPTED`), blank lines, newlines raw or
 * JSON-escaped (`\\n`); it ends with the `-----END …-----` line, or after the last good line when a line fits none.
 */
const PEM_B64 = charClass('A-Za-z0-9+/=');
const PEM_HDR_NAME = charClass('A-Za-z0-9-');
const PEM_END = /-----END [A-Z0-9 ]{1,60}-----/y;
const PEM_CAP = 16384;
/** Fewest base64 body characters of a key block (the smallest real keys have well over 100). */
const PEM_MIN_BODY = 16;
const PEM_END_PREFIX = /^-----(?:E(?:N(?:D(?: [A-Z0-9 ]{0,60}(?:-{1,4})?)?)?)?)?$/;

/** Length of the newline at `i` (`\r\n`, `\n`, or the JSON escapes `\\n` / `\\r\\n`), 0 if none, -1 if undecidable yet. */
function newlineAt(text: string, i: number, eof: boolean): number {
  const c = text[i];
  if (c === '\n') return 1;
  if (c === '\r') return text[i + 1] === '\n' ? 2 : i + 1 >= text.length && !eof ? -1 : 1;
  if (c === '\\') {
    if (i + 1 >= text.length) return eof ? 0 : -1;
    if (text[i + 1] === 'n') return 2;
    if (text[i + 1] === 'r') {
      if (i + 3 >= text.length && !eof) return -1;
      return text[i + 2] === '\\' && text[i + 3] === 'n' ? 4 : 2;
    }
  }
  return 0;
}

function extendPem(text: string, s: number, te: number, eof: boolean): number {
  const limit = s + PEM_CAP;
  const len = text.length;
  let i = te;
  let lastGood = te;
  let body = 0; // base64 characters read in body lines
  // a block without a key body (BEGIN/END lines only, or a header quoted in prose) is not a key
  const done = (): number => (body >= PEM_MIN_BODY ? lastGood : REJECT);
  for (let first = true; ; first = false) {
    if (i >= len) return eof ? done() : NEED_MORE;
    const nl = newlineAt(text, i, eof);
    if (nl < 0) return NEED_MORE;
    if (nl === 0 && !first) break;
    i += nl;
    // read one line, giving up as soon as it can be neither base64 nor an armor header
    let j = i;
    let b64 = true;
    let hdr = 0; // 0: name, 1: ':' seen, 2: value, -1: not a header
    for (;;) {
      if (j >= limit) return done();
      if (j >= len) {
        if (!eof) return NEED_MORE;
        break;
      }
      const k = newlineAt(text, j, eof);
      if (k < 0) return NEED_MORE;
      if (k > 0) break;
      const c = text.charCodeAt(j);
      if (c === 45 && j === i && text.startsWith('-----', i)) {
        PEM_END.lastIndex = i;
        const m = PEM_END.exec(text);
        if (m) return body >= PEM_MIN_BODY ? i + m[0].length : REJECT;
        if (!eof && len - i < 70 && PEM_END_PREFIX.test(text.slice(i))) return NEED_MORE;
        return done();
      }
      if (b64 && !inClass(PEM_B64, c)) b64 = false;
      if (hdr === 0) { if (c === 58 && j > i) hdr = 1; else if (!inClass(PEM_HDR_NAME, c)) hdr = -1; }
      else if (hdr === 1) hdr = c === 32 ? 2 : -1;
      else if (hdr === 2 && (c < 32 || c > 126)) hdr = -1;
      if (!b64 && hdr < 0) return done();
      j++;
    }
    if (j > i) {
      if (!b64 && hdr !== 2) return done();
      if (b64) body += j - i;
      lastGood = j;
    }
    i = j;
  }
  return done();
}

// ---------------------------------------------------------------------------------------------------------
// Secrets introduced by a keyword (`AWS_SECRET_ACCESS_KEY=…`, `password: …`): the trigger is the keyword with its
// separator, `extend` reads the value (quoted or bare), `refine` checks its shape and narrows the span to it.

const SEPARATOR = `["']?[ \\t]{0,3}(?::=|=>|[=:])[ \\t]{0,3}`;
const AWS_SECRET_KEYWORD = `(?:(?:aws[_ .-]?)?secret[_ .-]?access[_ .-]?key|aws[_ .-]?secret(?:[_ .-]?key)?|aws[_ .-]?access[_ .-]?key)${SEPARATOR}`;
const PASSWORD_KEYWORD = `(?:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?key)?)${SEPARATOR}`;
const AWS_SECRET_STICKY = new RegExp(AWS_SECRET_KEYWORD, 'iy');
const PASSWORD_STICKY = new RegExp(PASSWORD_KEYWORD, 'iy');
const AWS_SECRET_CHARS = charClass('A-Za-z0-9/+');
const VALUE_MAX = 128;

/** End of the keyword and separator that start at `s` (the trigger, matched again), or -1. */
function keywordEnd(re: RegExp, text: string, s: number): number {
  re.lastIndex = s;
  return re.exec(text) !== null ? re.lastIndex : -1;
}

function extendAwsSecret(text: string, s: number, te: number, eof: boolean): number {
  let i = te;
  if (i < text.length && (text[i] === '"' || text[i] === "'")) i++;
  const v = i;
  while (i < text.length && i - v <= 40 && inClass(AWS_SECRET_CHARS, text.charCodeAt(i))) i++;
  if (i === text.length && !eof) return NEED_MORE;
  return i === v ? REJECT : i;
}

/** Exactly 40 characters of `[A-Za-z0-9/+]` after the keyword (not followed by `=`), upper and lower case, 10+ distinct. */
function refineAwsSecret(text: string, s: number, e: number, out: SpanOut): boolean {
  let v = keywordEnd(AWS_SECRET_STICKY, text, s);
  if (v < 0) return false;
  if (text[v] === '"' || text[v] === "'") v++;
  if (e - v !== 40 || text[e] === '=') return false;
  let upper = false;
  let lower = false;
  for (let i = v; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
  }
  if (!upper || !lower || distinctChars(text, v, e) < 10) return false;
  out.start = v;
  out.end = e;
  return true;
}

/** Characters that end a bare (unquoted) value: white space, quotes and the delimiters of URLs, lists and markup. */
const VALUE_END = charClass('\x00-\x20"\'`&;,<>()[]{}');

function extendPassword(text: string, s: number, te: number, eof: boolean): number {
  let i = te;
  if (i >= text.length) return eof ? REJECT : NEED_MORE;
  const q = text.charCodeAt(i);
  if (q === 34 || q === 39 || q === 96) {
    // quoted: up to the closing quote on the same line
    for (i++; i < text.length && i - te <= VALUE_MAX + 1; i++) {
      const c = text.charCodeAt(i);
      if (c === q) return i + 1;
      if (c === 10 || c === 13) return REJECT;
    }
    return i === text.length && !eof ? NEED_MORE : REJECT;
  }
  while (i < text.length && i - te <= VALUE_MAX && !inClass(VALUE_END, text.charCodeAt(i))) i++;
  if (i === text.length && !eof) return NEED_MORE;
  return i === te ? REJECT : i;
}

const PLACEHOLDER = /^(?:none|null|nil|undefined|true|false|yes|no|required|optional|string|str|text|password|passwd|secret|hidden|redacted|masked|empty|changeit|default|value|todo|tbd)$|your|example|placeholder|fake|dummy|xxxx|\*\*\*/i;
const DOTTED_NAME = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/;
/** A bare name made of letters only, snake_case or camelCase (`real_key`, `dbPassword`): a variable, not a value. */
const IDENTIFIER = /^(?:[A-Za-z]+(?:_[A-Za-z]+)+|[a-z]+(?:[A-Z][a-z]+)+)$/;

/**
 * The value after a password/secret keyword is redacted when it looks like a credential, not like prose or code:
 * 6–128 characters; no placeholder (`<…>`, `${…}`, `{{…}}`, `%s`, `your_password`, `***`, `null`…), no code
 * (a call, a dotted name such as `os.environ.get`, a path); a bare value needs two character classes (lower, upper,
 * digit, symbol), six or more digits, or 20+ characters with 10+ distinct; a quoted one two classes or 8+ characters.
 */
function refinePassword(text: string, s: number, e: number, out: SpanOut): boolean {
  const v = keywordEnd(PASSWORD_STICKY, text, s);
  if (v < 0) return false;
  let a = v;
  let b = e;
  const q = text.charCodeAt(a);
  const quoted = q === 34 || q === 39 || q === 96;
  if (quoted) { a++; b--; }
  else while (b > a && (text[b - 1] === '.' || text[b - 1] === ':')) b--; // sentence punctuation
  const n = b - a;
  if (n < 6 || n > VALUE_MAX) return false;
  const first = text[a]!;
  if (!quoted && (text[e] === '(' || text[e] === '[')) return false; // a call or an index: code, not a value
  if (first === '=' || first === '$' || first === '<' || first === '{' || first === '%' || first === '/' || first === '~') return false;
  const value = text.slice(a, b);
  if (PLACEHOLDER.test(value) || DOTTED_NAME.test(value) || value.includes('://') || (!quoted && IDENTIFIER.test(value))) return false;
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) lower = 1;
    else if (c >= 65 && c <= 90) upper = 1;
    else if (c >= 48 && c <= 57) digit = 1;
    else if (c === 32 && !quoted) return false;
    else other = 1;
  }
  const classes = lower + upper + digit + other;
  if (distinctChars(text, a, b) < 3) return false;
  // `NAME=value` written without spaces (env files, URLs, command lines) is an assignment, never prose
  const compact = !quoted && text[v - 1] === '=' && !/\s/.test(text.slice(s, v));
  const ok = quoted || compact
    ? classes >= 2 || n >= 8
    : classes >= 2 || (digit === 1 && classes === 1) || (n >= 20 && distinctChars(text, a, b) >= 10);
  if (!ok) return false;
  out.start = a;
  out.end = b;
  return true;
}

/** Slack incoming-webhook URLs: `hooks.slack.com/services|workflows|triggers/…` with a 43+ character path. */
const WEBHOOK_CHARS = charClass('A-Za-z0-9/+_-');
function refineSlackWebhook(text: string, s: number, e: number, out: SpanOut): boolean {
  while (e > s && text[e - 1] === '/') e--;
  const p = text.indexOf('.com/', s) + 5;
  const tail = text.indexOf('/', p) + 1;
  if (tail <= 0 || e - tail < 43 || distinctChars(text, tail, e) < 10) return false;
  let digit = false;
  for (let i = tail; i < e && !digit; i++) digit = isDigit(text.charCodeAt(i));
  if (!digit) return false;
  out.start = s;
  out.end = e;
  return true;
}

/** Stripe secret and restricted keys: `sk_|rk_` + `live|test|prod` + `_` + 10–99 letters and digits, 8+ distinct, with a digit. */
function refineStripe(text: string, s: number, e: number, out: SpanOut): boolean {
  const t = text.indexOf('_', s + 3) + 1;
  if (e - t < 10 || e - t > 99 || distinctChars(text, t, e) < 8) return false;
  let digit = false;
  for (let i = t; i < e && !digit; i++) digit = isDigit(text.charCodeAt(i));
  if (!digit || (e < text.length && (text[e] === '_' || text[e] === '-'))) return false;
  out.start = s;
  out.end = e;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// IPv4: a dotted quad is not an address when it is a version ("version 1.2.3.4", "build 10.0.0.1").

const VERSION_WORDS = new Set(['version', 'versions', 'ver', 'v', 'build', 'release', 'firmware']);
/** Characters before a dotted quad read for a version word (the word plus ": " or " "). */
const IPV4_CONTEXT = 12;

function refineIpv4(text: string, s: number, e: number, out: SpanOut): boolean {
  let i = s;
  let seps = 0;
  while (i > 0 && seps < 3 && ' \t:=#.'.includes(text[i - 1]!)) { i--; seps++; }
  if (seps > 0) {
    let w = i;
    while (w > 0 && i - w < IPV4_CONTEXT - 3 && /[A-Za-z]/.test(text[w - 1]!)) w--;
    if (w < i && !(w > 0 && /[A-Za-z0-9]/.test(text[w - 1]!)) && VERSION_WORDS.has(text.slice(w, i).toLowerCase())) return false;
  }
  out.start = s;
  out.end = e;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// The table. Order = tie-break priority (same start and length): more specific detectors first.

function def(
  name: string, label: string, spec: TriggerSpec,
  rest: {
    lookahead?: number; lookbehind?: number; maxCut?: number; maxLength?: number; extend?: Detector['extend']; refine?: Detector['refine'];
    find?: Detector['find']; group?: string;
  },
): Detector {
  const t = trigger(spec);
  const flags = spec.flags ?? '';
  return Object.freeze({
    name, label: `[${label}]`, tokenName: label, find: rest.find ?? t.find, triggerMax: t.triggerMax,
    lookahead: rest.lookahead ?? (spec.after ? 1 : 0), lookbehind: rest.lookbehind ?? (spec.before ? 1 : 0),
    maxCut: rest.maxCut ?? 0, maxLength: rest.maxLength ?? t.triggerMax,
    ...(rest.extend ? { extend: rest.extend } : {}), ...(rest.refine ? { refine: rest.refine } : {}),
    ...(rest.group && !rest.find ? { scan: Object.freeze({ group: rest.group, source: t.source, flags, first: firstChars(spec.body, flags) }) } : {}),
  });
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** Every built-in detector, in tie-break priority order. */
export const BUILTIN_DETECTORS: readonly Detector[] = Object.freeze([
  def('private_key', 'PRIVATE_KEY', { body: '-----BEGIN (?:[A-Z0-9]{1,10} ){0,2}PRIVATE KEY(?: BLOCK)?-----' },
    { group: 'prefix', lookbehind: 0, maxLength: PEM_CAP, extend: extendPem }),
  def('jwt', 'JWT', { before: '(?<![A-Za-z0-9_+/.-])', body: 'eyJ[A-Za-z0-9_-]{4}' },
    { group: 'prefix', maxLength: 8192, extend: (t, s, te, eof) => scanClass(t, s, te, eof, JWT_CHARS, 8192), refine: refineJwt }),
  def('url_credentials', 'URL_CREDENTIALS', { before: '(?<=[A-Za-z0-9+.-])', body: ':\\/\\/[A-Za-z0-9._~%!$&()*+,;=-]' },
    { group: 'prefix', maxCut: 3, maxLength: 320, extend: (t, s, te, eof) => scanClass(t, s, te, eof, URL_AUTH, 324), refine: refineUrlCredentials }),
  def('slack_webhook', 'API_KEY', { before: '(?<![A-Za-z0-9.-])', body: '(?:https?:\\/\\/)?hooks\\.slack\\.com\\/(?:services|workflows|triggers)\\/[A-Za-z0-9]' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, WEBHOOK_CHARS, 256), refine: refineSlackWebhook }),
  def('openai_key', 'API_KEY', { before: '(?<![A-Za-z0-9_-])', body: 'sk-[A-Za-z0-9_-]{16}' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, TOKEN_CHARS, 256), refine: refineOpenAi }),
  def('stripe_key', 'API_KEY', { before: '(?<![A-Za-z0-9_])', body: '[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10}' },
    { group: 'prefix', maxLength: 108, extend: (t, s, te, eof) => scanClass(t, s, te, eof, ALNUM, 108), refine: refineStripe }),
  def('github_token', 'API_KEY', { before: '(?<![A-Za-z0-9_])', body: '(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{8})' },
    { group: 'prefix', maxLength: 93, extend: (t, s, te, eof) => scanClass(t, s, te, eof, WORD_CHARS, 94), refine: refineGithub }),
  def('slack_token', 'API_KEY', { before: '(?<![A-Za-z0-9_.-])', body: '(?:xox[abposer]|xapp|xoxe\\.xox[bp])-[0-9A-Za-z]' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, SLACK_CHARS, 256), refine: refineSlack }),
  def('google_api_key', 'API_KEY', { before: '(?<![A-Za-z0-9_-])', body: 'AIza[0-9A-Za-z_-]{35}', after: '(?![A-Za-z0-9_-])' },
    { group: 'prefix', refine: refineDistinct(10) }),
  def('aws_access_key', 'API_KEY', { before: '(?<![A-Za-z0-9])', body: '(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}', after: '(?![A-Za-z0-9])' },
    { group: 'prefix', refine: refineDistinct(8) }),
  def('aws_secret_key', 'API_KEY', { body: AWS_SECRET_KEYWORD, flags: 'i' },
    { group: 'keyword', maxCut: 40, maxLength: 40, lookahead: 1, extend: extendAwsSecret, refine: refineAwsSecret }),
  def('bearer_token', 'TOKEN', { before: '(?<![A-Za-z0-9_-])', body: '(?:[Bb]earer|BEARER)[ \\t]{1,3}[A-Za-z0-9._~+/-]' },
    { group: 'prefix', maxCut: 9, maxLength: 4096, extend: (t, s, te, eof) => scanClass(t, s, te, eof, BEARER_CHARS, 4096), refine: refineBearer }),
  def('password', 'PASSWORD', { body: PASSWORD_KEYWORD, flags: 'i' },
    { group: 'keyword', maxCut: 21, maxLength: VALUE_MAX, lookahead: 1, extend: extendPassword, refine: refinePassword }),
  // the first four digits are never apart: refineCard accepts no layout whose first group is shorter (CARD_GROUPS)
  def('credit_card', 'CREDIT_CARD', { before: '(?<!\\d|\\d-)', body: '\\d{4}(?:[ -]?\\d){9,15}', after: '(?!\\d)' },
    { lookbehind: 2, refine: refineCard }),
  def('iban', 'IBAN', { before: '(?<![A-Za-z0-9])', body: '[A-Za-z]{2}\\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,4})?' },
    { lookahead: 1, refine: refineIban }),
  def('us_ssn', 'US_SSN', { before: '(?<![\\w#$.-])', body: '\\d{3}(?:-\\d{2}-|\\.\\d{2}\\.| \\d{2} |\\d{2})\\d{4}', after: '(?!\\w|[.-]\\d)' },
    { lookahead: 2, lookbehind: PHONE_CONTEXT, refine: refineSsn }),
  def('email', 'EMAIL', { before: '(?<![A-Za-z0-9._%+\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f-])', body: '[A-Za-z0-9._%+\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f-]{1,64}@[A-Za-z0-9]' },
    { lookbehind: 3, maxLength: EMAIL_MAX, find: findEmail, extend: extendEmail, refine: refineEmail }),
  def('phone', 'PHONE', {
    before: '(?<![\\w+.-])',
    body: '(?:(?:\\(\\+\\d{1,3}\\)|\\+\\d{1,3})[ .-]?(?:\\(\\d{1,4}\\)[ .-]?)?(?:\\d[ .-]?){5,13}\\d'
      + '|(?:0\\d{1,4}|\\(0\\d{1,4}\\))(?:[ .-]\\d{2,8}){1,4}'
      + '|(?:1[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}'
      + '|\\d{8,15})'
      + '(?: ?(?:[xX]|[eE][xX][tT]\\.?) ?\\d{1,5})?',
    after: '(?!\\w|[.-]\\d)',
  }, { lookahead: 2, lookbehind: Math.max(41, PHONE_CONTEXT), refine: refinePhone }),
  def('ipv6', 'IPV6', { before: IPV6_BEFORE, body: IPV6_BODY }, { lookahead: 2, find: findIpv6, refine: refineIpv6 }),
  def('ipv4', 'IPV4', { before: '(?<![\\w.])', body: `${OCTET}(?:\\.${OCTET}){3}(?:\\/(?:3[0-2]|[12]?\\d))?`, after: '(?!\\w|\\.\\d)' },
    { lookahead: 2, lookbehind: IPV4_CONTEXT, refine: refineIpv4 }),
]);

/** Built-in detector names and the groups a policy may name. `all` enables every built-in detector. */
export const DETECTOR_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  api_key: [
    'openai_key', 'aws_access_key', 'aws_secret_key', 'github_token', 'slack_token', 'slack_webhook', 'stripe_key', 'google_api_key',
    'private_key', 'bearer_token',
  ],
  ip: ['ipv4', 'ipv6'],
  all: BUILTIN_DETECTORS.map((d) => d.name),
});

/** Every name a `redact` block accepts as a detector (built-ins, then groups). */
export const DETECTOR_NAMES: readonly string[] = Object.freeze([...BUILTIN_DETECTORS.map((d) => d.name), ...Object.keys(DETECTOR_GROUPS)]);
