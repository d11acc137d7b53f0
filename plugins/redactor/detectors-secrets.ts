// Built-in detectors, secret family: JWTs, URL credentials, tokens with a known prefix (OpenAI, GitHub, Slack, Stripe,
// bearer), PEM private keys (extent over the body), and secrets introduced by a keyword (AWS secret keys, passwords).
// Each family exports its find / extend / refine functions; detectors.ts puts them in the table.
import { charClass, inClass, isDigit, NEED_MORE, REJECT, type SpanOut } from './detector-kit.ts';
import { distinctChars, jwtHeaderValid, mixedCase } from './validators.ts';
// ---------------------------------------------------------------------------------------------------------
// JWT (JWS compact: 3 segments; JWE compact: 5), header must decode to a JSON object with "alg".

export const JWT_CHARS = charClass('A-Za-z0-9_=.-');

export function refineJwt(text: string, s: number, e: number, out: SpanOut): boolean {
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

export const URL_AUTH = charClass('\x21\x24-\x26\x28-\x2e\x30-\x3b\x3d\x40-\x5b\x5d-\x7e'); // printable minus space " # ' / < > ? \

export function refineUrlCredentials(text: string, s: number, e: number, out: SpanOut): boolean {
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

export const TOKEN_CHARS = charClass('A-Za-z0-9_-');
export const SLACK_CHARS = charClass('A-Za-z0-9-');
export const BEARER_CHARS = charClass('A-Za-z0-9._~+/=-');

/** OpenAI keys carry the marker `T3BlbkFJ` (base64 of "OpenAI"); Anthropic keys start with `sk-ant-`. */
export function refineOpenAi(text: string, s: number, e: number, out: SpanOut): boolean {
  if (e - s < 40 || !mixedCase(text, s + 3, e) || distinctChars(text, s + 3, e) < 12) return false;
  const marked = text.indexOf('T3BlbkFJ', s);
  if (!((marked >= 0 && marked + 8 <= e) || text.startsWith('sk-ant-', s))) return false;
  out.start = s;
  out.end = e;
  return true;
}

export function refineDistinct(min: number) {
  return (text: string, s: number, e: number, out: SpanOut): boolean => {
    if (distinctChars(text, s, e) < min) return false;
    out.start = s;
    out.end = e;
    return true;
  };
}

export const WORD_CHARS = charClass('A-Za-z0-9_');

/** Classic tokens: `gh?_` + 36; fine-grained: `github_pat_` + 82 (22 + `_` + 59). */
export function refineGithub(text: string, s: number, e: number, out: SpanOut): boolean {
  const len = text[s + 2] === 't' ? 93 : 40;
  if (e - s !== len || distinctChars(text, s, e) < 10) return false;
  out.start = s;
  out.end = e;
  return true;
}

export function refineSlack(text: string, s: number, e: number, out: SpanOut): boolean {
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

export function refineBearer(text: string, s: number, e: number, out: SpanOut): boolean {
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
export const PEM_CAP = 16384;
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

export function extendPem(text: string, s: number, te: number, eof: boolean): number {
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
export const AWS_SECRET_KEYWORD = `(?:(?:aws[_ .-]?)?secret[_ .-]?access[_ .-]?key|aws[_ .-]?secret(?:[_ .-]?key)?|aws[_ .-]?access[_ .-]?key)${SEPARATOR}`;
export const PASSWORD_KEYWORD = `(?:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?key)?)${SEPARATOR}`;
const AWS_SECRET_STICKY = new RegExp(AWS_SECRET_KEYWORD, 'iy');
const PASSWORD_STICKY = new RegExp(PASSWORD_KEYWORD, 'iy');
const AWS_SECRET_CHARS = charClass('A-Za-z0-9/+');
export const VALUE_MAX = 128;

/** End of the keyword and separator that start at `s` (the trigger, matched again), or -1. */
function keywordEnd(re: RegExp, text: string, s: number): number {
  re.lastIndex = s;
  return re.exec(text) !== null ? re.lastIndex : -1;
}

export function extendAwsSecret(text: string, s: number, te: number, eof: boolean): number {
  let i = te;
  if (i < text.length && (text[i] === '"' || text[i] === "'")) i++;
  const v = i;
  while (i < text.length && i - v <= 40 && inClass(AWS_SECRET_CHARS, text.charCodeAt(i))) i++;
  if (i === text.length && !eof) return NEED_MORE;
  return i === v ? REJECT : i;
}

/** Exactly 40 characters of `[A-Za-z0-9/+]` after the keyword (not followed by `=`), upper and lower case, 10+ distinct. */
export function refineAwsSecret(text: string, s: number, e: number, out: SpanOut): boolean {
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

export function extendPassword(text: string, s: number, te: number, eof: boolean): number {
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
export function refinePassword(text: string, s: number, e: number, out: SpanOut): boolean {
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
export const WEBHOOK_CHARS = charClass('A-Za-z0-9/+_-');
export function refineSlackWebhook(text: string, s: number, e: number, out: SpanOut): boolean {
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
export function refineStripe(text: string, s: number, e: number, out: SpanOut): boolean {
  const t = text.indexOf('_', s + 3) + 1;
  if (e - t < 10 || e - t > 99 || distinctChars(text, t, e) < 8) return false;
  let digit = false;
  for (let i = t; i < e && !digit; i++) digit = isDigit(text.charCodeAt(i));
  if (!digit || (e < text.length && (text[e] === '_' || text[e] === '-'))) return false;
  out.start = s;
  out.end = e;
  return true;
}

