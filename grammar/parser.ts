// Parse stage: tokens → CST + recognition errors. A Chevrotain CstParser with error recovery; one instance is
// reused for every file. The grammar is generic (policies, bodies, statements, terms); plugins give meaning.
import { CstParser, type CstNode, type IRecognitionException, type IToken } from 'chevrotain';
import { parserErrorMessageProvider } from './diagnostics.ts';
import {
  allTokens, Comma, Identifier, LBrace, NumberLiteral, Policy, RBrace, RegexLiteral, Separator, StringLiteral,
} from './tokens.ts';

/**
 * The .policy grammar:
 * ```
 * policyFile := ( Separator | policyDecl | statement | body | "}" | "," )*   -- the last three are errors, kept
 *                                                                             so parsing goes on (the builder reports them)
 * policyDecl := "policy" (String | Identifier | Number)? body    -- a non-string or missing id is reported
 * body       := "{" ( Separator | statement )* "}"
 * statement  := term+ body?
 * term       := scalar ( "," scalar )*
 * scalar     := Identifier | String | Number | Regex
 * ```
 * `policy` is reserved: it never starts a statement, so a missing "}" before the next policy is recovered by
 * inserting the "}".
 */
export class PolicyParser extends CstParser {
  constructor() {
    super(allTokens, {
      recoveryEnabled: true,
      nodeLocationTracking: 'full',
      errorMessageProvider: parserErrorMessageProvider,
      maxLookahead: 1,
    });
    this.performSelfAnalysis();
  }

  policyFile = this.RULE('policyFile', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Separator) },
        { ALT: () => this.SUBRULE(this.policyDecl) },
        { ALT: () => this.SUBRULE(this.statement) },
        { ALT: () => this.SUBRULE(this.body) },
        { ALT: () => this.CONSUME(RBrace) },
        { ALT: () => this.CONSUME(Comma) },
      ]);
    });
  });

  policyDecl = this.RULE('policyDecl', () => {
    this.CONSUME(Policy);
    // The id must be a string; a bare word or number is accepted here and reported by the AST builder, so
    // the policy body is still parsed (and checked) instead of being skipped by recovery.
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(StringLiteral) },
        { ALT: () => this.CONSUME(Identifier) },
        { ALT: () => this.CONSUME(NumberLiteral) },
      ]);
    });
    this.SUBRULE(this.body);
  });

  body = this.RULE('body', () => {
    this.CONSUME(LBrace);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Separator) },
        { ALT: () => this.SUBRULE(this.statement) },
      ]);
    });
    this.CONSUME(RBrace);
  });

  statement = this.RULE('statement', () => {
    this.AT_LEAST_ONE(() => this.SUBRULE(this.term));
    this.OPTION(() => this.SUBRULE(this.body));
  });

  term = this.RULE('term', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.scalar) });
  });

  scalar = this.RULE('scalar', () => {
    this.OR([
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(RegexLiteral) },
    ]);
  });
}

/** The single parser instance (Chevrotain parsers are built once and reused by setting `input`). */
export const parser = new PolicyParser();

/** Parses a token vector into a `policyFile` CST; never throws (errors are returned, recovery keeps going). */
export function parseTokens(tokens: IToken[]): { cst: CstNode; errors: IRecognitionException[] } {
  parser.input = tokens;
  const cst = parser.policyFile();
  const errors = parser.errors;
  parser.input = [];
  return { cst, errors };
}
