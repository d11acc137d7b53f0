// Built-in detectors, contact family: e-mail addresses (Unicode local parts and IDN domains, CJK-glued text) and
// phone numbers (international and national layouts, judged by the words around an unbroken digit run).
// Each family exports its find / extend / refine functions; detectors.ts puts them in the table.
import { charClass, isAlnum, isDigit, NEED_MORE, type SpanOut } from './detector-kit.ts';
import { callingCodeValid, digitsOf } from './validators.ts';
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
export const EMAIL_MAX = 64 + 1 + 253;

/**
 * The e-mail trigger, found from each '@' instead of trying every word start: the local part is the maximal run of
 * local-part characters before the '@' (at most 64). Two cuts keep prose out of it: where Han/kana/Hangul and other
 * characters meet inside the run, the address starts after the last CJK character (`请发邮件到test@…`); leading
 * apostrophes are quotes, not part of it. A run right after `://` is the userinfo of a URL, not an address.
 */
export function findEmail(text: string, from: number, m: SpanOut): boolean {
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
export function extendEmail(text: string, s: number, te: number, eof: boolean): number {
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

export function refineEmail(text: string, s: number, e: number, out: SpanOut): boolean {
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
export const PHONE_CONTEXT = 40;
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

/** Words that say a bare nine-digit run is a US social security number. */
const SSN_WORDS = /\b(?:ssn|ssns|social security|social sec|soc sec|ss#|ss no|tin|itin|taxpayer|tax id)\b/giu;

/** True when an SSN word precedes `s` on the same line (PHONE_CONTEXT characters), nearer than phone and identifier words. */
export function ssnContext(text: string, s: number): boolean {
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

export function refinePhone(text: string, s: number, e: number, out: SpanOut): boolean {
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

