// Checksum and structure validators behind the built-in detectors (Luhn, IBAN mod-97, SSN ranges, E.164 country
// codes, IPv6 syntax, JWT header): pure functions over a slice of the scanned text, run only on regex candidates.

/** True when the digits of `text[start, end)` (separators ignored) pass the Luhn check. */
export function luhnValid(text: string, start: number, end: number): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = end - 1; i >= start; i--) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) continue;
    let v = c;
    if (dbl) { v *= 2; if (v > 9) v -= 9; }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** The ASCII digits of `text[start, end)` as a string (separators dropped). */
export function digitsOf(text: string, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) out += text[i];
  }
  return out;
}

/**
 * True when a card number's digits carry a known issuer prefix with a length that issuer uses:
 * Visa, Mastercard (51–55, 2221–2720), Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir, RuPay, Dankort, UATP.
 */
export function cardBrandValid(d: string): boolean {
  const n = d.length;
  const p2 = +d.slice(0, 2);
  const p4 = +d.slice(0, 4);
  switch (d[0]) {
    case '1': return n === 15; // UATP (AirPlus)
    case '2':
      if (n !== 16) return false;
      return (p4 >= 2221 && p4 <= 2720) || (p4 >= 2200 && p4 <= 2204); // Mastercard 2-series, Mir
    case '3':
      if (p2 === 34 || p2 === 37) return n === 15; // Amex
      if (p2 === 35) return p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19; // JCB
      if ((p2 === 30 && +d[2]! <= 5) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
      return false;
    case '4': return n === 13 || n === 16 || n === 19; // Visa
    case '5': return n >= 16 && n <= 19; // Mastercard 51–55, Maestro 50/56–58, Dankort 5019
    case '6': return n >= 16 && n <= 19; // Discover, UnionPay 62, Maestro 6x, RuPay
    default: return false;
  }
}

/** IBAN length per ISO 13616 country code (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30,
  KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
});

/** True when `iban` (upper-case letters and digits, no spaces) has its country's length and passes mod-97. */
export function ibanValid(iban: string): boolean {
  const len = IBAN_LENGTHS[iban.slice(0, 2)];
  if (len === undefined || iban.length !== len) return false;
  let rem = 0;
  for (let k = 0; k < len; k++) {
    const ch = iban.charCodeAt((k + 4) % len);
    if (ch >= 48 && ch <= 57) rem = (rem * 10 + (ch - 48)) % 97;
    else if (ch >= 65 && ch <= 90) rem = (rem * 100 + (ch - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/**
 * True for a US SSN that the SSA could have issued: area not 000, 666 or 900–999; group not 00; serial not 0000;
 * and not one of the publicly burnt numbers (078-05-1120, 219-09-9999, 123-45-6789, 457-55-5462).
 */
export function ssnValid(d: string): boolean {
  if (d.length !== 9) return false;
  const area = d.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  return d !== '078051120' && d !== '219099999' && d !== '123456789' && d !== '457555462';
}

/** Country calling-code prefixes that are unassigned (E.164): `+0…`, `+28…`, `+83…`, `+89…`. */
export function callingCodeValid(d: string): boolean {
  if (d[0] === '0') return false;
  const p2 = d.slice(0, 2);
  return p2 !== '28' && p2 !== '83' && p2 !== '89';
}

function hexGroup(s: string): boolean {
  if (s.length < 1 || s.length > 4) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** True for a dotted-quad IPv4 address with octets 0–255 and no leading zeros. */
export function ipv4Valid(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length < 1 || p.length > 3 || (p.length > 1 && p[0] === '0')) return false;
    for (let i = 0; i < p.length; i++) { const c = p.charCodeAt(i); if (c < 48 || c > 57) return false; }
    if (+p > 255) return false;
  }
  return true;
}

/**
 * True for an IPv6 address in RFC 4291 text form: eight 1–4 digit hex groups, or fewer with one `::`, the last
 * two groups optionally written as an IPv4 address. The bare unspecified address `::` is not accepted (it
 * identifies nothing and is common in code, e.g. `a :: b`).
 */
export function ipv6Valid(s: string): boolean {
  if (s === '::') return false;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return false;
  const countGroups = (part: string, allowV4: boolean): number => {
    if (part === '') return 0;
    const gs = part.split(':');
    let n = 0;
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i]!;
      if (allowV4 && i === gs.length - 1 && g.includes('.')) {
        if (!ipv4Valid(g)) return -1;
        n += 2;
      } else if (hexGroup(g)) n += 1;
      else return -1;
    }
    return n;
  };
  if (dbl === -1) return countGroups(s, true) === 8;
  const left = countGroups(s.slice(0, dbl), false);
  const right = countGroups(s.slice(dbl + 2), true);
  return left >= 0 && right >= 0 && left + right <= 7;
}

/** Decodes a base64url segment to a string, or undefined when it is not valid base64url. */
export function base64UrlDecode(seg: string): string | undefined {
  if (seg.length % 4 === 1) return undefined;
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
    if (!ok) return undefined;
  }
  return Buffer.from(seg, 'base64url').toString('utf8');
}

/** True when a JWT/JWS/JWE header segment decodes to a JSON object with an `alg` member (RFC 7515 §4.1.1). */
export function jwtHeaderValid(seg: string): boolean {
  const json = base64UrlDecode(seg);
  if (json === undefined) return false;
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** Last call's stamp per ASCII code (distinctChars counts without allocating for ASCII values). */
const SEEN = new Uint32Array(128);
let stamp = 0;

/** Number of distinct characters in `text[start, end)` (a cheap entropy floor for secrets). */
export function distinctChars(text: string, start: number, end: number): number {
  if (++stamp === 0xffffffff) { SEEN.fill(0); stamp = 1; }
  let n = 0;
  let other: Set<number> | undefined;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      if (SEEN[c] !== stamp) { SEEN[c] = stamp; n++; }
    } else (other ??= new Set()).add(c);
  }
  return n + (other?.size ?? 0);
}

/** True when `text[start, end)` contains an ASCII digit, an upper-case and a lower-case letter. */
export function mixedCase(text: string, start: number, end: number): boolean {
  let d = false;
  let u = false;
  let l = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) d = true;
    else if (c >= 65 && c <= 90) u = true;
    else if (c >= 97 && c <= 122) l = true;
  }
  return d && u && l;
}
