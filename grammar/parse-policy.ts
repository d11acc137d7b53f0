// Parse pipeline: lexer.ts → parser.ts → ast-builder.ts, with the diagnostics of every stage sorted and limited.
// grammar/index.ts re-exports parsePolicy; format.ts uses it too.
import type { IRecognitionException, IToken } from 'chevrotain';
import type { PolicyFile } from './ast.ts';
import { buildAst } from './ast-builder.ts';
import { type Diagnostic, finalizeDiagnostics, recognitionErrorToDiagnostic } from './diagnostics.ts';
import { tokenizePolicy } from './lexer.ts';
import { parseTokens } from './parser.ts';
import { SourceText } from './source.ts';

/** What parsePolicy returns: the (possibly partial) AST and every lexical/syntax diagnostic, sorted. */
export interface ParseResult {
  readonly ast: PolicyFile;
  readonly diagnostics: Diagnostic[];
}

/** Options of parsePolicy. */
export interface ParseOptions {
  /** Errors kept before the rest are summarised by POL0001 (default 20; the loader limits across files instead). */
  readonly maxErrors?: number;
}

/**
 * Parses one .policy source into an AST with a span on every node. Never throws, on any input: problems
 * come back as diagnostics (POL01xx lexical, POL02xx syntax; at most 20 errors, then POL0001), and the AST
 * holds whatever error recovery could make of the rest.
 */
export function parsePolicy(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  const src = new SourceText(text, file);
  try {
    const lexed = tokenizePolicy(src);
    const diags: Diagnostic[] = [...lexed.diagnostics];
    const tooDeep = firstTooDeep(lexed.tokens);
    if (tooDeep) {
      // The parser recurses once per nesting level; refuse absurd nesting instead of overflowing the stack.
      diags.push({ code: 'POL0206', severity: 'error', message: `bodies nested more than ${MAX_DEPTH} levels deep`,
        span: src.span(tooDeep.startOffset, tooDeep.startOffset + 1), notes: ['policies nest a few levels at most: policy { block { statement { … } } }'] });
      return { ast: { kind: 'PolicyFile', file, policies: [], comments: [], span: src.span(0, text.length) }, diagnostics: finalizeDiagnostics(diags, opts.maxErrors) };
    }
    const { cst, errors } = parseTokens(lexed.tokens);
    for (const e of firstErrorPerStatement(errors, lexed.tokens)) {
      diags.push(recognitionErrorToDiagnostic(e, src, braceNotes(e, lexed.tokens, src)));
    }
    const ast = buildAst(cst, lexed.comments, src, diags);
    return { ast, diagnostics: finalizeDiagnostics(diags, opts.maxErrors) };
  } catch (err) {
    // NOTE: unreachable by design (property tests assert POL0299 never appears); kept so a bug in the parser
    // degrades into a diagnostic instead of taking down a reload.
    const why = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return {
      ast: { kind: 'PolicyFile', file, policies: [], comments: [], span: src.span(0, text.length) },
      diagnostics: [{ code: 'POL0299', severity: 'error', message: `internal parser error: ${why}`, span: src.span(0, 0),
        notes: ['this is a bug in policy-gateway; please report it with the file that caused it'] }],
    };
  }
}

/** Deepest `{ … }` nesting accepted (real policies use three or four levels). */
const MAX_DEPTH = 32;

/** The first "{" that opens a body deeper than MAX_DEPTH, if any. */
function firstTooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    const n = t.tokenType.name;
    if (n === 'LBrace' && ++depth > MAX_DEPTH) return t;
    if (n === 'RBrace' && depth > 0) depth--;
  }
  return undefined;
}

/**
 * Drops cascading errors: after a syntax error, recovery often trips again before the statement ends
 * (`x,, }` gives "found ','" then "found '}'"). Only the first error between two statement boundaries
 * (";", a separating newline, "{" or "}") is kept. Errors at end of file are always kept.
 */
function firstErrorPerStatement(errors: readonly IRecognitionException[], tokens: readonly IToken[]): IRecognitionException[] {
  const bounds: number[] = [];
  for (const t of tokens) {
    const n = t.tokenType.name;
    if (n === 'Semicolon' || n === 'Newline' || n === 'LBrace' || n === 'RBrace') bounds.push(t.startOffset);
  }
  const region = (offset: number): number => {
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const kept: IRecognitionException[] = [];
  let last = -1;
  for (const e of errors) {
    const off = e.token?.startOffset;
    if (off === undefined || !Number.isFinite(off) || off < 0) { kept.push(e); continue; }
    const r = region(off);
    if (r === last) continue;
    last = r;
    kept.push(e);
  }
  return kept;
}

/**
 * Notes for a missing "}": which "{" is still open at the error, and (a guess like rustc's) the first "{"
 * whose matching "}" is indented differently from the line that opened it, which is usually the real culprit.
 */
function braceNotes(e: IRecognitionException, tokens: readonly IToken[], src: SourceText): string[] {
  let message = '';
  try { message = (JSON.parse(e.message) as { message?: string }).message ?? ''; } catch { /* not ours */ }
  if (e.name !== 'MismatchedTokenException' || !/expected "\}"/.test(message)) return [];
  const so = e.token?.startOffset;
  const at = so !== undefined && Number.isFinite(so) && so >= 0 ? so : Infinity;
  const open: IToken[] = [];
  const pairs: [IToken, IToken][] = [];
  for (const t of tokens) {
    if (t.startOffset >= at) break;
    if (t.tokenType.name === 'LBrace') open.push(t);
    else if (t.tokenType.name === 'RBrace') {
      const o = open.pop();
      if (o) pairs.push([o, t]);
    }
  }
  const notes: string[] = [];
  const inner = open[open.length - 1];
  if (inner) {
    const p = src.pos(inner.startOffset);
    notes.push(`the "{" at ${p.line}:${p.col} is not closed`);
  }
  pairs.sort((a, b) => a[0].startOffset - b[0].startOffset);
  for (const [o, c] of pairs) {
    if (inner && o.startOffset < inner.startOffset) continue; // outside the unclosed body: another error's business
    const po = src.pos(o.startOffset);
    const pc = src.pos(c.startOffset);
    if (po.line === pc.line) continue;
    const indentOpen = /^[ \t]*/.exec(src.line(po.line))![0].length;
    const closeLine = src.line(pc.line);
    const indentClose = /^[ \t]*/.exec(closeLine)![0].length;
    if (indentClose !== pc.col - 1) continue; // the "}" does not start its line
    if (indentOpen !== indentClose) {
      notes.push(`the "{" at ${po.line}:${po.col} may be missing its "}": the "}" that closes it now (${pc.line}:${pc.col}) is indented differently`);
      break;
    }
  }
  return notes;
}
