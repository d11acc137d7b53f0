// Diagnostic type shared by every stage of the policy pipeline (lex, parse, check, plugin compile).
// Rendering (file:line:col, source excerpt, caret) lives here too so CLI, logs and goldens agree.
import type { Span } from './ast.ts';
import type { ILexerErrorMessageProvider, ILexingError, IParserErrorMessageProvider, IRecognitionException, IToken, TokenType } from 'chevrotain';
import { EOF, tokenLabel } from 'chevrotain';
import type { SourceText } from './source.ts';

/** One problem found in a policy source. Codes: POL01xx lex, 02xx parse, 03xx check, 04xx plugin blocks. */
export interface Diagnostic {
  readonly code: `POL${string}`;
  readonly severity: 'error' | 'warning';
  /** Lower-case, no final period, names in double quotes. */
  readonly message: string;
  readonly span: Span;
  /** Extra lines: "did you mean …", "expected one of: …", "first defined at …". */
  readonly notes?: readonly string[];
}

// ---------------------------------------------------------------------------------------------------------
// Ordering, limits and rendering (one format for the CLI, reload logs and golden files), and the single place
// where Chevrotain's lexing and recognition errors become Diagnostics.


/** Most error diagnostics reported in one run; the rest are summarised by one POL0001. */
export const MAX_ERRORS = 20;

/** Width of a tab in rendered excerpts (the caret line uses the same expansion). */
const TAB_WIDTH = 4;

/** Stable order: file, line, column, then message (and code, to break exact ties). */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.span.file !== b.span.file) return a.span.file < b.span.file ? -1 : 1;
  if (a.span.start.line !== b.span.start.line) return a.span.start.line - b.span.start.line;
  if (a.span.start.col !== b.span.start.col) return a.span.start.col - b.span.start.col;
  if (a.message !== b.message) return a.message < b.message ? -1 : 1;
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}

/**
 * Sorts diagnostics (see compareDiagnostics), drops exact duplicates, and keeps at most `max` errors: when
 * more were found, the rest are replaced by one POL0001 "too many errors" at the first dropped error.
 * Warnings before that point are kept. Returns a new array.
 */
export function finalizeDiagnostics(diags: readonly Diagnostic[], max: number = MAX_ERRORS): Diagnostic[] {
  const sorted = [...diags].sort(compareDiagnostics);
  const out: Diagnostic[] = [];
  let errors = 0;
  let total = 0;
  for (const d of sorted) if (d.severity === 'error') total++;
  let last: Diagnostic | undefined;
  for (const d of sorted) {
    if (last && compareDiagnostics(last, d) === 0 && last.severity === d.severity) { if (d.severity === 'error') total--; continue; }
    last = d;
    if (d.severity === 'error') {
      if (errors === max) {
        out.push({ code: 'POL0001', severity: 'error', message: `too many errors, stopping after ${max}`, span: d.span,
          notes: [`${total - max} more error${total - max === 1 ? '' : 's'} not shown; fix the ones above and run again`] });
        break;
      }
      errors++;
    }
    out.push(d);
  }
  return out;
}

/** Display width of `s` with tabs expanded (every other UTF-16 code unit counts 1). */
function expandTabs(s: string): string {
  return s.includes('\t') ? s.replace(/\t/g, ' '.repeat(TAB_WIDTH)) : s;
}

/**
 * Renders one diagnostic as text, the format used everywhere:
 * ```
 * rules/quota.policy:12:14: error[POL0302]: unknown unit "tokns"
 *    |
 * 12 |   limit 1000 tokns per minute
 *    |              ^^^^^
 *    = note: expected one of: "tokens", "requests"
 * ```
 * The caret covers the span, clamped to its first line (at least one caret). Without `sourceText` (or when
 * the line does not exist) only the header and notes are printed. No trailing newline.
 */
export function renderDiagnostic(d: Diagnostic, sourceText?: string): string {
  const { file, start, end } = d.span;
  const header = `${file}:${start.line}:${start.col}: ${d.severity}[${d.code}]: ${d.message}`;
  const w = String(start.line).length;
  const pad = ' '.repeat(w);
  const lines = [header];
  const lineText = sourceText === undefined ? undefined : lineAt(sourceText, start.line);
  if (lineText !== undefined) {
    const before = lineText.slice(0, Math.max(0, start.col - 1));
    const endCol = end.line === start.line ? end.col : lineText.length + 1;
    const first = Math.min(start.col, lineText.length + 1);
    const last = Math.max(first + 1, Math.min(endCol, lineText.length + 1));
    const covered = lineText.slice(first - 1, last - 1);
    const caretLen = Math.max(1, expandTabs(covered).length);
    lines.push(`${pad} |`);
    lines.push(`${start.line} | ${expandTabs(lineText)}`.trimEnd());
    lines.push(`${pad} | ${' '.repeat(expandTabs(before.slice(0, first - 1)).length)}${'^'.repeat(caretLen)}`);
  }
  for (const n of d.notes ?? []) lines.push(`${pad} = note: ${n}`);
  return lines.join('\n');
}

/** The text of 1-based `line` in `text` without its terminator, or undefined past the end. */
function lineAt(text: string, line: number): string | undefined {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = nextLineStart(text, start);
    if (nl < 0) return undefined;
    start = nl;
  }
  let end = start;
  while (end < text.length && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
  return text.slice(start, end);
}

function nextLineStart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) return i + 1;
    if (c === 13) return text.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
  }
  return -1;
}

/**
 * Renders many diagnostics, separated by blank lines, each with the source of its own file when known,
 * followed by a newline. `sources` maps file names to their text.
 */
export function renderDiagnostics(diags: readonly Diagnostic[], sources: ReadonlyMap<string, string> | ((file: string) => string | undefined)): string {
  const get = typeof sources === 'function' ? sources : (f: string) => sources.get(f);
  return diags.length === 0 ? '' : diags.map((d) => renderDiagnostic(d, get(d.span.file))).join('\n\n') + '\n';
}

/** "2 errors, 1 warning" (or "no problems"). */
export function summarizeDiagnostics(diags: readonly Diagnostic[]): string {
  const e = diags.filter((d) => d.severity === 'error').length;
  const w = diags.length - e;
  const parts: string[] = [];
  if (e) parts.push(`${e} error${e === 1 ? '' : 's'}`);
  if (w) parts.push(`${w} warning${w === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : 'no problems';
}

// --- Chevrotain error conversion -------------------------------------------------------------------------

/** Diagnostic text is carried through Chevrotain's `message` as JSON so that notes survive. */
interface EncodedMessage { readonly message: string; readonly notes?: readonly string[] }
const encode = (message: string, notes?: readonly string[]): string => JSON.stringify(notes?.length ? { message, notes } : { message });

const VALUE_NOTE = 'a value is a name, a "string", a number (60, 200k, 30s, 10%) or a /regex/';

/** How a found token reads in a message: `"name"`, `string "abc"`, `number 60`, `end of file`. */
export function describeToken(tok: IToken): string {
  if (tok.tokenType === EOF || !tok.tokenType) return 'end of file';
  const name = tok.tokenType.name;
  const img = tok.image.length > 40 ? tok.image.slice(0, 37) + '…' : tok.image;
  switch (name) {
    case 'Newline': return 'a new line';
    case 'PlainString': case 'UnterminatedString': case 'SingleQuotedString': case 'TripleString': case 'UnterminatedTripleString':
      return `string ${img.replace(/[\r\n]+/g, ' ')}`;
    case 'NumberLiteral': return `number ${img}`;
    case 'Regex': case 'UnterminatedRegex': return `regex ${img}`;
    default: return `"${img}"`;
  }
}

/** Label of an expected token type in messages (`"}"`, `a string`). */
function label(t: TokenType): string {
  return t === EOF ? 'end of file' : tokenLabel(t);
}

/** Lexer messages in DSL wording (positions are added by the conversion below). */
export const lexerErrorMessageProvider: ILexerErrorMessageProvider = {
  buildUnexpectedCharactersMessage(fullText, startOffset, length) {
    const text = fullText.slice(startOffset, startOffset + length);
    const shown = text.length > 20 ? text.slice(0, 20) + '…' : text;
    const chars = [...text].length;
    const notes: string[] = [];
    if (text.startsWith('=') || text.startsWith(':')) notes.push('write a statement as words separated by spaces, e.g. user 60 requests per minute');
    else if (text.startsWith('-') && /^-\d/.test(fullText.slice(startOffset, startOffset + 2))) notes.push('numbers cannot be negative');
    else if (text.startsWith('/*')) notes.push('comments start with # or // and run to the end of the line');
    return encode(`unexpected character${chars === 1 ? '' : 's'} ${JSON.stringify(shown)}`, notes);
  },
  buildUnableToPopLexerModeMessage(token) {
    return encode(`unexpected ${describeToken(token)}`);
  },
};

/** Parser messages in DSL wording; `ruleName` gives context-specific hints. */
export const parserErrorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    const found = describeToken(actual);
    if (ruleName === 'policyDecl' && expected.name === 'StringLiteral') {
      const notes = actual.tokenType?.name === 'Identifier' ? [`write the id in double quotes: policy "${actual.image}" { … }`] : [];
      return encode(`expected a policy id string after "policy", found ${found}`, notes);
    }
    if (expected.name === 'LBrace' && ruleName === 'policyDecl') {
      return encode(`expected "{" after the policy id, found ${found}`, ['a policy is written policy "id" { … }']);
    }
    if (actual.tokenType === EOF && expected.name === 'RBrace') return encode('unexpected end of file, expected "}"');
    return encode(`expected ${label(expected)}, found ${found}`);
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    const notes = firstRedundant.tokenType?.name === 'RBrace' ? ['there is no open "{" for this "}" to close'] : [];
    return encode(`unexpected ${describeToken(firstRedundant)}`, notes);
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const found = describeToken(actual[0]!);
    if (ruleName === 'scalar') return encode(`expected a value, found ${found}`, [VALUE_NOTE]);
    const firsts = new Set<string>();
    for (const alt of expectedPathsPerAlt) for (const path of alt) if (path[0]) firsts.add(label(path[0]));
    return encode(`unexpected ${found}`, firsts.size ? [`expected one of: ${[...firsts].join(', ')}`] : []);
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const found = describeToken(actual[0]!);
    if (ruleName === 'term' || ruleName === 'statement') return encode(`expected a value, found ${found}`, [VALUE_NOTE]);
    const firsts = new Set<string>();
    for (const path of expectedIterationPaths) if (path[0]) firsts.add(label(path[0]));
    return encode(`unexpected ${found}`, firsts.size ? [`expected one of: ${[...firsts].join(', ')}`] : []);
  },
};

function decode(message: string, fallback: string): EncodedMessage {
  try {
    const m = JSON.parse(message) as EncodedMessage;
    if (typeof m.message === 'string') return m;
  } catch { /* not ours */ }
  return { message: fallback };
}

/** Converts one Chevrotain lexing error (unexpected characters) to POL0101. */
export function lexErrorToDiagnostic(e: ILexingError, src: SourceText): Diagnostic {
  const m = decode(e.message, 'unexpected character');
  return withNotes({ code: 'POL0101', severity: 'error', message: m.message, span: src.span(e.offset, e.offset + Math.max(1, e.length)) }, m.notes);
}

/** Chevrotain exception name → diagnostic code. */
const RECOGNITION_CODES: Readonly<Record<string, `POL${string}`>> = {
  MismatchedTokenException: 'POL0201',
  NoViableAltException: 'POL0203',
  EarlyExitException: 'POL0203',
  NotAllInputParsedException: 'POL0204',
};

/**
 * Converts one Chevrotain recognition error to a Diagnostic (POL0201 expected/found, POL0203 unexpected
 * token, POL0204 input after the end). Errors at end of file point just past the last character.
 * `extraNotes` adds context the caller knows (e.g. where an unclosed "{" was opened).
 */
export function recognitionErrorToDiagnostic(e: IRecognitionException, src: SourceText, extraNotes: readonly string[] = []): Diagnostic {
  const m = decode(e.message, 'syntax error');
  const tok = e.token;
  const atEof = !tok || tok.tokenType === EOF || !Number.isFinite(tok.startOffset);
  const eof = src.text.trimEnd().length;
  const span = atEof
    ? src.span(eof, eof)
    : src.span(tok.startOffset, tok.tokenType?.name === 'Newline' ? tok.startOffset : (tok.endOffset ?? tok.startOffset) + 1);
  const code = RECOGNITION_CODES[e.name] ?? 'POL0203';
  return withNotes({ code, severity: 'error', message: m.message, span }, [...(m.notes ?? []), ...extraNotes]);
}

function withNotes(d: Diagnostic, notes: readonly string[] | undefined): Diagnostic {
  return notes && notes.length ? { ...d, notes } : d;
}
