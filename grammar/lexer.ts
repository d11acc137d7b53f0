// Lex stage: text → tokens, comments and lexical diagnostics (POL01xx). One Chevrotain Lexer instance is
// reused for every file. After lexing, newlines are turned into statement separators by a Go-style rule.
import { Lexer, type IToken, type TokenType } from 'chevrotain';
import {
  allTokens, Identifier, Newline, NumberLiteral, PlainString, Policy, RBrace, Regex, SingleQuotedString, TripleString,
  UnterminatedRegex, UnterminatedString, UnterminatedTripleString,
} from './tokens.ts';
import { type Diagnostic, lexErrorToDiagnostic, lexerErrorMessageProvider } from './diagnostics.ts';
import { decodeString, parseNumber, type LiteralProblem } from './literals.ts';
import type { SourceText } from './source.ts';

const lexer = new Lexer(allTokens, {
  positionTracking: 'full',
  errorMessageProvider: lexerErrorMessageProvider,
  ensureOptimizations: true,
});

/**
 * Tokens after which a newline ends the statement (Go's rule): a line whose last token is a word, a string,
 * a number, a regex or `}` is complete. After `,`, `{` or `;` a newline is just white space, which is what
 * lets a list continue over several lines.
 */
const ENDS_STATEMENT: ReadonlySet<TokenType> = new Set([
  Identifier, Policy, PlainString, UnterminatedString, SingleQuotedString, TripleString, UnterminatedTripleString,
  Regex, UnterminatedRegex, NumberLiteral, RBrace,
]);

/** What the lex stage hands to the parser. */
export interface LexResult {
  /** Significant tokens, with newlines kept only where they end a statement. */
  readonly tokens: IToken[];
  /** `#`/`//` comments in source order (for the formatter). */
  readonly comments: IToken[];
  readonly diagnostics: Diagnostic[];
}

/** Tokenizes one source file; never throws. Reports POL0101–POL0108. */
export function tokenizePolicy(src: SourceText): LexResult {
  const result = lexer.tokenize(src.text);
  const diagnostics: Diagnostic[] = result.errors.map((e) => lexErrorToDiagnostic(e, src));
  const tokens: IToken[] = [];
  let last: TokenType | undefined;
  for (const t of result.tokens) {
    const type = t.tokenType;
    if (type === Newline) {
      if (last !== undefined && ENDS_STATEMENT.has(last)) {
        tokens.push(t);
        last = Newline;
      }
      continue;
    }
    tokens.push(t);
    last = type;
    checkLiteral(t, src, diagnostics);
  }
  return { tokens, comments: result.groups['comments'] ?? [], diagnostics };
}

/** Reports problems inside one literal token. */
function checkLiteral(t: IToken, src: SourceText, out: Diagnostic[]): void {
  const type = t.tokenType;
  const at = (p: LiteralProblem): Diagnostic => {
    const d: Diagnostic = { code: p.code, severity: 'error', message: p.message, span: src.span(t.startOffset + p.offset, t.startOffset + p.offset + p.length) };
    return p.notes ? { ...d, notes: p.notes } : d;
  };
  if (type === PlainString || type === TripleString) {
    for (const p of decodeString(t.image).problems) out.push(at(p));
  } else if (type === NumberLiteral) {
    const p = parseNumber(t.image).problem;
    if (p) out.push(at(p));
  } else if (type === UnterminatedString) {
    out.push({ code: 'POL0102', severity: 'error', message: 'unterminated string', span: src.span(t.startOffset, t.startOffset + t.image.length),
      notes: ['a string ends with " on the same line; use """…""" for text over several lines'] });
  } else if (type === SingleQuotedString) {
    const closed = t.image.length >= 2 && t.image.endsWith("'");
    const inner = t.image.slice(1, closed ? -1 : undefined);
    out.push({ code: 'POL0108', severity: 'error', message: 'strings use double quotes', span: src.span(t.startOffset, t.startOffset + t.image.length),
      notes: [`write "${inner.replace(/"/g, '\\"')}"`] });
  } else if (type === UnterminatedTripleString) {
    out.push({ code: 'POL0106', severity: 'error', message: 'unterminated multi-line string', span: src.span(t.startOffset, t.startOffset + 3),
      notes: ['this """ has no closing """ before the end of the file'] });
  } else if (type === UnterminatedRegex) {
    out.push({ code: 'POL0105', severity: 'error', message: 'unterminated regex', span: src.span(t.startOffset, t.startOffset + t.image.length),
      notes: ['a regex ends with / on the same line (write \\/ for a literal slash)'] });
  }
}
