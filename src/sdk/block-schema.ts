// Declarative block schemas: a plugin states its block's statements once — keyword, syntax, meaning, default, how
// often it may appear, its words and values with units — and the SDK derives from it the structural checks (unknown
// statements with did-you-mean, qualifiers, bodies, repeats, word values) and the language reference's table.
import type { Block, Span, Statement, Value } from './ast.ts';
import type { CompileEnv } from './plugin.ts';
import { describeValue, identName, reportError, statementsByKeyword, suggestNotes } from './block-helpers.ts';

type Code = `POL${string}`;
type Env = Pick<CompileEnv, 'report'>;

/** A diagnostic a schema rule reports: its code, message and notes (functions of what was found, when they need it). */
export interface SchemaDiagnostic<A extends unknown[] = []> {
  readonly code: Code;
  readonly message: string | ((...args: A) => string);
  readonly notes?: readonly string[] | ((...args: A) => string[]);
}

/** The unit a number value carries (the lexer's units): `2s`/`250ms` durations, `10%` percentages, plain numbers. */
export type ValueUnit = 'none' | 'duration' | 'percent';

/** One value position of a statement, for the reference and the checks: a string, a word from a list, a number. */
export type ValueSchema =
  | { readonly kind: 'string'; readonly name: string }
  | { readonly kind: 'word'; readonly words: readonly string[] }
  | { readonly kind: 'number'; readonly name: string; readonly unit: ValueUnit; readonly min?: number; readonly max?: number };

/** One statement of a block. */
export interface StatementSchema {
  readonly keyword: string;
  /** The statement as the reference writes it (markdown, inside backticks): `keys "path"`, `prompts on\|off`. */
  readonly syntax: string;
  /** What it does (markdown): the reference table's middle column. */
  readonly meaning: string;
  /** The default (markdown) when the statement is absent: the reference table's last column. */
  readonly default: string;
  /** Its values, in order (documentation, and `word` values are checked by {@link readWord}). */
  readonly values?: readonly ValueSchema[];
  /** At most once per block: what a repeat reports (given the span of the first occurrence's keyword). */
  readonly once?: SchemaDiagnostic<[first: Span]>;
  /** Required: what a block without it reports (at the block's name). */
  readonly required?: SchemaDiagnostic;
  /** Takes no `{ … }` body: what a body reports (at the statement, or at its keyword with `at: 'keyword'`). */
  readonly noBody?: SchemaDiagnostic & { readonly at?: 'statement' | 'keyword' };
  /**
   * Further reference rows for forms of this statement, after its own row; their `syntax` is markdown as the table
   * shows it (several forms in one row: `` `allow list "file"`, `deny list "file"` ``).
   */
  readonly moreRows?: readonly { readonly syntax: string; readonly meaning: string; readonly default: string }[];
  /** Recognised only to be refused (left out of the reference table): `format` in an `audit` block. */
  readonly refused?: boolean;
  /** The settings of its `{ … }` body, as a schema of their own (the reference shows them in a `setting` table). */
  readonly body?: BlockSchema;
}

/** A block's schema: its keyword, qualifier rule and statements. Frozen. */
export interface BlockSchema {
  readonly block: string;
  readonly statements: readonly StatementSchema[];
  /** Every statement keyword, in schema order (what POL0401's did-you-mean offers). */
  readonly keywords: readonly string[];
  /** The reference table's first column (default `statement`; `construct` for `redact`). */
  readonly column?: string;
  /**
   * Reference rows before the statements' for constructs that are not keyword statements (`redact`'s qualifier and
   * detector lists); `syntax` in markdown as the table shows it.
   */
  readonly preamble?: readonly { readonly syntax: string; readonly meaning: string; readonly default: string }[];
  /**
   * The block takes no qualifier (`auth { … }`, not `auth "x" { … }`): what one reports (gets the qualifier as written);
   * for the first qualifier only, or for each with `every`.
   */
  readonly noQualifier?: SchemaDiagnostic<[found: string]> & { readonly every?: boolean };
}

/** Declares a block schema (frozen; keywords derived from the statements). */
export function defineBlockSchema(schema: Omit<BlockSchema, 'keywords'>): BlockSchema {
  const keywords = schema.statements.map((s) => s.keyword);
  if (new Set(keywords).size !== keywords.length) throw new Error(`block schema ${schema.block}: a keyword is declared twice`);
  return Object.freeze({ ...schema, statements: Object.freeze(schema.statements.map((s) => Object.freeze({ ...s }))), keywords: Object.freeze(keywords) });
}

function report<A extends unknown[]>(env: Env, d: SchemaDiagnostic<A>, span: Span, ...args: A): void {
  const message = typeof d.message === 'function' ? d.message(...args) : d.message;
  const notes = typeof d.notes === 'function' ? d.notes(...args) : d.notes ? [...d.notes] : undefined;
  reportError(env, d.code, span, message, notes);
}

/**
 * The structural checks of one block against its schema, in the order a reader meets them: the qualifier (when the
 * block takes none), then each statement's keyword (POL0401 with did-you-mean for an unknown one). Returns the known
 * statements by keyword, in file order; the plugin reads their values and applies its semantic checks.
 */
export function readBlock(block: Block, schema: BlockSchema, env: Env): Map<string, Statement[]> {
  const nq = schema.noQualifier;
  if (nq) for (const q of nq.every ? block.qualifiers : block.qualifiers.slice(0, 1)) report(env, nq, q.span, describeValue(q));
  return statementsByKeyword(block, schema.keywords, env);
}

/** Reports the `required` statements a block lacks (at the block's name); true when none is missing. */
export function checkRequired(block: Block, byKeyword: ReadonlyMap<string, readonly Statement[]>, schema: BlockSchema, env: Env): boolean {
  let ok = true;
  for (const st of schema.statements) {
    if (st.required && (byKeyword.get(st.keyword)?.length ?? 0) === 0) {
      report(env, st.required, block.nameSpan);
      ok = false;
    }
  }
  return ok;
}

/** `file:line:col` of a span (the "first given at" notes). */
export function spanRef(span: Span): string {
  return `${span.file}:${span.start.line}:${span.start.col}`;
}

/** The schema of one statement keyword (throws for a keyword the schema does not declare: a plugin bug). */
export function statementSchema(schema: BlockSchema, keyword: string): StatementSchema {
  const s = schema.statements.find((x) => x.keyword === keyword);
  if (s === undefined) throw new Error(`block schema ${schema.block} has no statement "${keyword}"`);
  return s;
}

/**
 * Calls `read` for the statements of a `once` keyword, reporting each repeat (and skipping it) with the schema's
 * diagnostic at the repeat's keyword. `first` is shared across the blocks of one policy when the caller passes it.
 */
export function forEachOnce(
  statements: readonly Statement[] | undefined, st: StatementSchema, env: Env, read: (s: Statement) => void,
  first: { at?: Span } = {},
): void {
  for (const s of statements ?? []) {
    const kw = s.terms[0]!.span;
    if (first.at !== undefined && st.once) {
      reportRepeat(env, st, kw, first.at);
      continue;
    }
    first.at = kw;
    read(s);
  }
}

/** Reports a repeat of a `once` statement at `at` (its keyword), given the first occurrence's span. */
export function reportRepeat(env: Env, st: StatementSchema, at: Span, first: Span): void {
  if (st.once) report(env, st.once, at, first);
}

/** Reports the schema's `noBody` diagnostic when the statement has a `{ … }` body; true when it has none. */
export function checkNoBody(s: Statement, st: StatementSchema, env: Env): boolean {
  if (!s.body) return true;
  reportNoBody(env, st, st.noBody?.at === 'keyword' ? s.terms[0]!.span : s.span);
  return false;
}

/** Reports the schema's `noBody` diagnostic at `at` (for a plugin that checks bodies of several statements at once). */
export function reportNoBody(env: Env, st: StatementSchema, at: Span): void {
  if (st.noBody) report(env, st.noBody, at);
}

/** A `word` value: the word when it is one of the schema's words, else undefined (the caller reports). */
export function readWord(v: Value | undefined, value: ValueSchema): string | undefined {
  const w = identName(v);
  return value.kind === 'word' && w !== undefined && value.words.includes(w) ? w : undefined;
}

/** Did-you-mean notes for a word value that is not one of the schema's words. */
export function wordNotes(found: string, value: ValueSchema): string[] {
  return value.kind === 'word' ? suggestNotes(found, value.words) : [];
}

/**
 * The language reference's table of a block: `| statement | meaning | default |`, a row per (non-refused) statement;
 * `column` names the first column (`setting` for a statement's body schema).
 */
export function referenceTable(schema: BlockSchema, column = schema.column ?? 'statement'): string {
  const row = (syntax: string, r: { meaning: string; default: string }): string => `| ${syntax} | ${r.meaning} | ${r.default} |`;
  const rows = [
    ...(schema.preamble ?? []).map((p) => row(p.syntax, p)),
    ...schema.statements.filter((s) => !s.refused)
      .flatMap((s) => [row(`\`${s.syntax}\``, s), ...(s.moreRows ?? []).map((m) => row(m.syntax, m))]),
  ];
  return [`| ${column} | meaning | default |`, '|---|---|---|', ...rows].join('\n');
}
