// Literal values of the .policy language: string escapes and multi-line strings, numbers with unit
// suffixes, regex literal parts. Used by the lexer (validation), the AST builder (values) and the formatter.

/** A problem inside one literal, at `offset`..`offset+length` relative to the token start. */
export interface LiteralProblem {
  readonly code: `POL${string}`;
  readonly offset: number;
  readonly length: number;
  readonly message: string;
  readonly notes?: readonly string[];
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '0': '\0' };
const ESCAPE_NOTE = 'valid escapes: \\n \\t \\r \\0 \\" \\\\ \\u{hex}';

/**
 * Decodes the escapes of a string body (text between the quotes). Unknown escapes are kept as written and
 * reported; `base` is the body's offset inside the token, for problem positions.
 */
function decodeEscapes(body: string, base: number, problems: LiteralProblem[]): string {
  if (!body.includes('\\')) return body;
  let out = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c !== '\\') { out += c; i++; continue; }
    const n = body[i + 1];
    if (n === undefined) { out += '\\'; i++; continue; }
    const simple = SIMPLE_ESCAPES[n];
    if (simple !== undefined) { out += simple; i += 2; continue; }
    if (n === 'u') {
      const m = /^\{([0-9A-Fa-f]{1,6})\}/.exec(body.slice(i + 2, i + 10));
      const cp = m ? parseInt(m[1]!, 16) : NaN;
      if (m && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
        out += String.fromCodePoint(cp);
        i += 2 + m[0].length;
        continue;
      }
      const len = m ? 2 + m[0].length : 2;
      problems.push({ code: 'POL0103', offset: base + i, length: len, message: `invalid unicode escape "${body.slice(i, i + len)}"`,
        notes: ['write a code point as \\u{1F600}: 1 to 6 hex digits, at most 10FFFF, not a surrogate'] });
      out += body.slice(i, i + len);
      i += len;
      continue;
    }
    const cp = body.codePointAt(i + 1)!;
    const ch = String.fromCodePoint(cp);
    problems.push({ code: 'POL0103', offset: base + i, length: 1 + ch.length, message: `unknown escape sequence "\\${ch}"`, notes: [ESCAPE_NOTE] });
    out += '\\' + ch;
    i += 1 + ch.length;
  }
  return out;
}

/**
 * The value of a string token as written (`"…"` or `"""…"""`; `closed` false when unterminated), with any problems.
 * Multi-line strings drop the line break right after the opening `"""`, drop a last line holding only
 * whitespace, remove the indentation common to all non-blank lines, and use "\n" line breaks.
 */
export function decodeString(raw: string, closed = true): { value: string; problems: LiteralProblem[] } {
  const problems: LiteralProblem[] = [];
  if (raw.startsWith('"""')) {
    const body = raw.slice(3, closed ? raw.length - 3 : raw.length);
    // Escapes are decoded per line after dedenting, so each line keeps its offset inside the token.
    let lines = body.split(/\r\n|\r|\n/);
    const lineOffsets: number[] = [3];
    const re = /\r\n|\r|\n/g;
    for (let m = re.exec(body); m; m = re.exec(body)) lineOffsets.push(3 + m.index + m[0].length);
    let offsets = lineOffsets;
    if (lines.length > 1 && lines[0]!.trim() === '') { lines = lines.slice(1); offsets = offsets.slice(1); }
    if (lines.length > 1 && lines[lines.length - 1]!.trim() === '') {
      lines = lines.slice(0, -1);
      offsets = offsets.slice(0, -1);
    }
    let indent: string | undefined;
    for (const l of lines) {
      if (l.trim() === '') continue;
      const ws = /^[ \t]*/.exec(l)![0];
      if (indent === undefined) indent = ws;
      else {
        let k = 0;
        while (k < indent.length && k < ws.length && indent[k] === ws[k]) k++;
        indent = indent.slice(0, k);
      }
    }
    const cut = indent?.length ?? 0;
    const out = lines.map((l, idx) => {
      if (l.trim() === '') return '';
      return decodeEscapes(l.slice(cut), offsets[idx]! + cut, problems);
    });
    return { value: out.join('\n'), problems };
  }
  const body = raw.slice(1, closed ? raw.length - 1 : raw.length);
  return { value: decodeEscapes(body, 1, problems), problems };
}

/** A `"…"` literal whose value is `value` (escapes `"`, `\`, newlines, tabs and other control characters). */
export function encodeString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f || cp === 0x2028 || cp === 0x2029) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/** Unit suffixes of numbers: multiplier and unit kind. Order is the order the docs list them. */
export const NUMBER_SUFFIXES: Readonly<Record<string, { readonly mult: number; readonly unit: 'count' | 'duration' | 'percent' }>> = {
  k: { mult: 1e3, unit: 'count' },
  M: { mult: 1e6, unit: 'count' },
  G: { mult: 1e9, unit: 'count' },
  ms: { mult: 1, unit: 'duration' },
  s: { mult: 1000, unit: 'duration' },
  m: { mult: 60_000, unit: 'duration' },
  h: { mult: 3_600_000, unit: 'duration' },
  d: { mult: 86_400_000, unit: 'duration' },
  '%': { mult: 1, unit: 'percent' },
};

/** The value and unit of a number token (`200k`, `1.5s`, `10%`), or a problem for an unknown suffix or overflow. */
export function parseNumber(raw: string): { value: number; unit: 'none' | 'count' | 'duration' | 'percent'; problem?: LiteralProblem } {
  const m = /^(\d+)(?:\.(\d+))?(.*)$/s.exec(raw);
  if (!m) return { value: NaN, unit: 'none', problem: { code: 'POL0104', offset: 0, length: raw.length, message: `invalid number "${raw}"` } };
  const [, int, frac = '', suffix = ''] = m;
  const digits = Number(int! + frac);
  const scale = 10 ** frac.length;
  let value: number;
  let unit: 'none' | 'count' | 'duration' | 'percent' = 'none';
  let problem: LiteralProblem | undefined;
  if (suffix === '') value = digits / scale;
  else {
    const s = NUMBER_SUFFIXES[suffix];
    if (!s) {
      value = digits / scale;
      const start = raw.length - suffix.length;
      const near = Object.keys(NUMBER_SUFFIXES).find((k) => k.toLowerCase() === suffix.toLowerCase());
      problem = {
        code: 'POL0104', offset: start, length: suffix.length, message: `unknown number suffix "${suffix}" in "${raw}"`,
        notes: [
          ...(near ? [`did you mean "${int}${frac ? '.' + frac : ''}${near}"?`] : []),
          'suffixes: k M G (×1000, ×10^6, ×10^9), ms s m h d (durations), % (percent); put a space before a word',
        ],
      };
    } else {
      value = (digits * s.mult) / scale;
      unit = s.unit;
    }
  }
  if (!problem && (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER)) {
    problem = { code: 'POL0107', offset: 0, length: raw.length, message: `number "${raw}" is too large`,
      notes: [`the largest number is ${Number.MAX_SAFE_INTEGER}`] };
  }
  return problem ? { value, unit, problem } : { value, unit };
}

/** Source and flags of a regex token (`/src/flags`, or an unterminated `/src`). */
export function regexParts(raw: string): { source: string; flags: string } {
  const m = /^\/(.*)\/([A-Za-z]*)$/s.exec(raw);
  if (m) return { source: m[1]!, flags: m[2]! };
  return { source: raw.slice(1), flags: '' };
}
