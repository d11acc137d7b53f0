// The .policy AST: what the parser hands to the checker and to each plugin's compile step.
// Syntax only: the grammar knows policies, blocks, statements and values, never what a plugin means by them.

/** A position in a source file: 1-based line and column, 0-based character offset. */
export interface Pos {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}

/** A half-open source range `[start, end)` in one file. */
export interface Span {
  readonly file: string;
  readonly start: Pos;
  readonly end: Pos;
}

/** A double-quoted string with escapes resolved (`\n`, `\t`, `\"`, `\\`, `\u{…}`). */
export interface StringValue {
  readonly kind: 'String';
  readonly value: string;
  readonly span: Span;
}

/**
 * A number, optionally with a unit suffix.
 * - count suffixes `k`, `M`, `G` multiply (`200k` → 200000, unit `count`);
 * - duration suffixes `ms`, `s`, `m`, `h`, `d` give milliseconds (`30s` → 30000, unit `duration`);
 * - `%` gives a percentage (`10%` → 10, unit `percent`);
 * - no suffix: unit `none`.
 * `raw` is the text as written, so the formatter keeps `200k` as `200k`.
 */
export interface NumberValue {
  readonly kind: 'Number';
  readonly value: number;
  readonly unit: 'none' | 'count' | 'duration' | 'percent';
  readonly raw: string;
  readonly span: Span;
}

/** A regex literal `/source/flags`; `source` is the text between the slashes, unescaped `\/` kept as written. */
export interface RegexValue {
  readonly kind: 'Regex';
  readonly source: string;
  readonly flags: string;
  readonly span: Span;
}

/** A bare word: keywords, detector names, units (`requests`, `per`, `minute`). May contain `_`, `-`, `/`, `*` after the first letter (`self-harm/intent`, `credit_card`). */
export interface IdentValue {
  readonly kind: 'Ident';
  readonly name: string;
  readonly span: Span;
}

/** A comma-separated list of two or more values: `"a", "b", /c/i`. */
export interface ListValue {
  readonly kind: 'List';
  readonly items: readonly ScalarValue[];
  readonly span: Span;
}

export type ScalarValue = StringValue | NumberValue | RegexValue | IdentValue;
export type Value = ScalarValue | ListValue;

/**
 * One statement: a sequence of terms, ended by `;`, a newline, or `}`; optionally followed by a
 * nested `{ … }` body (for sub-blocks such as `provider openai { url "…" }` or `test "x" { … }`).
 * `allow "refund policy", "shipping"` → terms [Ident allow, List[String, String]].
 */
export interface Statement {
  readonly kind: 'Statement';
  readonly terms: readonly Value[];
  readonly body?: readonly Statement[];
  readonly span: Span;
}

/**
 * A plugin block inside a policy: `name qualifier* { statements }`.
 * `redact response { email, phone }` → name "redact", qualifiers [Ident response].
 * `nameSpan` covers just the block keyword (for "unknown block" diagnostics).
 */
export interface Block {
  readonly kind: 'Block';
  readonly name: string;
  readonly nameSpan: Span;
  readonly qualifiers: readonly ScalarValue[];
  readonly statements: readonly Statement[];
  readonly span: Span;
}

/**
 * `policy "id" { settings and blocks }`. Settings are policy-level statements that are not blocks
 * (`description "…"`, `models "gpt-*"`, `default`); a statement whose first term is an identifier
 * immediately followed by `{` is a Block.
 */
export interface Policy {
  readonly kind: 'Policy';
  readonly id: string;
  readonly idSpan: Span;
  readonly settings: readonly Statement[];
  readonly blocks: readonly Block[];
  readonly span: Span;
}

/** A comment, kept so the formatter can put it back. `text` includes the `#` or `//` marker. */
export interface Comment {
  readonly kind: 'Comment';
  readonly text: string;
  readonly span: Span;
}

/** One parsed `.policy` file: any number of policies. */
export interface PolicyFile {
  readonly kind: 'PolicyFile';
  readonly file: string;
  readonly policies: readonly Policy[];
  readonly comments: readonly Comment[];
  readonly span: Span;
}
