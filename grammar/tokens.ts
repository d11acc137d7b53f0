// Token types of the .policy language (lex stage). Syntax only: the one keyword is `policy`; every other word is
// an Identifier that plugins give meaning to. Newlines are tokens so lexer.ts can apply the separator rule.
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Abstract category: `;` or a newline that ends a statement (see lexer.ts for the newline rule). */
export const Separator = createToken({ name: 'Separator', pattern: Lexer.NA, label: '";" or a new line' });
/** Abstract category of every keyword (only `policy` today); keywords are also accepted where a word is. */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA, label: 'a keyword' });
/** Abstract category of every string token (plain, multi-line, and unterminated ones kept for recovery). */
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: Lexer.NA, label: 'a string' });
/** Abstract category of regex tokens (terminated or not). */
export const RegexLiteral = createToken({ name: 'RegexLiteral', pattern: Lexer.NA, label: 'a regex' });

/** Spaces, tabs, form feeds, BOM: skipped. */
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
/** A line break; lexer.ts keeps it as a Separator only where it ends a statement. */
export const Newline = createToken({
  name: 'Newline', pattern: /\r\n?|\n/, line_breaks: true, categories: [Separator], label: 'a new line',
});
/** `# …` or `// …` to the end of the line; kept in the `comments` group for the formatter. */
export const Comment = createToken({ name: 'Comment', pattern: /(?:#|\/\/)[^\r\n]*/, group: 'comments' });

/** `"""…"""`: a string over several lines (dedented; see literals.ts). */
export const TripleString = createToken({
  name: 'TripleString', pattern: /"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""/, line_breaks: true, categories: [StringLiteral],
  label: 'a string',
});
/** A `"""` string that never closes: swallows the rest of the file (reported as POL0106). */
export const UnterminatedTripleString = createToken({
  name: 'UnterminatedTripleString', pattern: /"""[\s\S]*/, line_breaks: true, categories: [StringLiteral],
  label: 'a string',
});
/** `"…"` on one line, with escapes. */
export const PlainString = createToken({
  name: 'PlainString', pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/, categories: [StringLiteral], label: 'a string',
});
/** A `"` string that reaches the end of its line (reported as POL0102, parsed as a string). */
export const UnterminatedString = createToken({
  name: 'UnterminatedString', pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/, categories: [StringLiteral], label: 'a string',
});
/** A `'…'` string: reported as POL0108 (strings use double quotes) but parsed as a string, for recovery. */
export const SingleQuotedString = createToken({
  name: 'SingleQuotedString', pattern: /'(?:[^'\\\r\n]|\\[^\r\n])*'?/, categories: [StringLiteral], label: 'a string',
});
/** `/source/flags`; `/` inside `[…]` needs no escape. `//` never gets here: it is a comment. */
export const Regex = createToken({
  name: 'Regex',
  pattern: /\/(?:[^/\\\r\n[]|\\[^\r\n]|\[(?:[^\]\\\r\n]|\\[^\r\n])*\])+\/[A-Za-z]*/,
  categories: [RegexLiteral], label: 'a regex',
});
/** A regex without its closing `/` on the same line (reported as POL0105, parsed as a regex). */
export const UnterminatedRegex = createToken({
  name: 'UnterminatedRegex', pattern: /\/[^\r\n]*/, categories: [RegexLiteral], label: 'a regex',
});
/** Digits, optional decimals, optional suffix; the suffix is validated after lexing (POL0104). */
export const NumberLiteral = createToken({
  name: 'NumberLiteral', pattern: /\d+(?:\.\d+)?(?:%|[A-Za-z_][A-Za-z0-9_]*)?/, label: 'a number',
});
/** A word; `-`, `/`, `.` may appear inside when followed by a word character, `*` anywhere after the first. */
export const Identifier = createToken({
  name: 'Identifier', pattern: /[A-Za-z_](?:[A-Za-z0-9_*]|[-/.](?=[A-Za-z0-9_*]))*/, label: 'a name',
});
/** The `policy` keyword (reserved: never a word inside a policy). */
export const Policy = createToken({
  name: 'Policy', pattern: /policy/, longer_alt: Identifier, categories: [Keyword], label: '"policy"',
});
/** Punctuation: body open/close, list separator, statement separator. */
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: '"{"' });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: '"}"' });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: '","' });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, categories: [Separator], label: '";"' });

/**
 * Every token type in lexer match order. Chevrotain takes the FIRST pattern that matches, so:
 * comments before regexes (`//` is a comment), terminated strings/regexes before their unterminated
 * fallbacks, `"""` before `"`, and the `policy` keyword before Identifier (longer_alt keeps `policyx` a word).
 */
export const allTokens: TokenType[] = [
  WhiteSpace, Newline, Comment,
  TripleString, UnterminatedTripleString, PlainString, UnterminatedString, SingleQuotedString,
  Regex, UnterminatedRegex,
  NumberLiteral, Policy, Identifier,
  LBrace, RBrace, Comma, Semicolon,
  Separator, Keyword, StringLiteral, RegexLiteral,
];

/** The keywords of the language (for "did you mean" on misspelt top-level words). */
export const KEYWORDS: readonly string[] = ['policy'];
