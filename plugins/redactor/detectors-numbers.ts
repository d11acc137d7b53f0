// Built-in detectors, number family: payment cards (Luhn, brand, printed group layouts), US SSNs, IBANs (per-country
// length and checksum), IPv6 and IPv4 addresses (boundaries, versions that look like addresses).
// Each family exports its find / extend / refine functions; detectors.ts puts them in the table.
import { charClass, inClass, isAlnum, isDigit, type SpanOut } from './detector-kit.ts';
import { ssnContext } from './detectors-contact.ts';
import { cardBrandValid, digitsOf, IBAN_LENGTHS, ibanValid, ipv6Valid, luhnValid, ssnValid } from './validators.ts';
// ---------------------------------------------------------------------------------------------------------
// credit card: the regex takes the longest digit run; try it, then shorter prefixes that end at a separator.

/** Digit-group layouts printed on cards (no separators is always accepted): 4-4-4-4(-1..3), Amex 4-6-5, Diners 4-6-4. */
export const CARD_GROUPS = new Set(['4,4,4,4', '4,4,4,4,1', '4,4,4,4,2', '4,4,4,4,3', '4,6,5', '4,6,4', '4,4,4,1', '4,4,4,3', '4,4,5', '5,5,5,4']);

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

export function refineCard(text: string, s: number, e: number, out: SpanOut): boolean {
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

export function refineSsn(text: string, s: number, e: number, out: SpanOut): boolean {
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

export function refineIban(text: string, s: number, e: number, out: SpanOut): boolean {
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
export const IPV6_BEFORE = '(?<![\\w:.])';
export const IPV6_BODY = '(?:[0-9A-Fa-f]{1,4}:|::)[0-9A-Fa-f:.]{0,41}(?:%[0-9A-Za-z]{1,15})?(?:\\/\\d{1,3})?';
const IPV6_STICKY = new RegExp(IPV6_BEFORE + IPV6_BODY, 'y');

/**
 * The IPv6 trigger, found from each ':' instead of trying every position: a match must start at the hex run that
 * ends at a colon (or at the colon of a leading '::'), so only those starts are tried, with the same sticky regex.
 */
export function findIpv6(text: string, from: number, m: SpanOut): boolean {
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

export function refineIpv6(text: string, s: number, e: number, out: SpanOut): boolean {
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
// IPv4: a dotted quad is not an address when it is a version ("version 1.2.3.4", "build 10.0.0.1").

const VERSION_WORDS = new Set(['version', 'versions', 'ver', 'v', 'build', 'release', 'firmware']);
/** Characters before a dotted quad read for a version word (the word plus ": " or " "). */
export const IPV4_CONTEXT = 12;

export function refineIpv4(text: string, s: number, e: number, out: SpanOut): boolean {
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

