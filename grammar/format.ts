// Format stage: AST + comments → canonical .policy text. Idempotent (fmt(fmt(x)) === fmt(x)) and
// meaning-preserving (parse(fmt(x)) equals parse(x) modulo spans). Layout decisions depend only on the AST,
// the comments' positions relative to it and blank lines in the source, never on the old indentation.
import type { Block, Comment, Policy, PolicyFile, ScalarValue, Statement, Value } from './ast.ts';
import { type Diagnostic, renderDiagnostics } from './diagnostics.ts';
import { encodeString } from './literals.ts';
import { parsePolicy } from './parse-policy.ts';

/**
 * Layout rules (docs/policy-language.md, "Formatting"):
 * - two-space indentation, one statement per line, `, ` between list items, `{` on the header line;
 * - a body (block or statement body) stays on one line, `name { statement }`, when it has exactly one
 *   statement without a body, no comment inside, and the line fits in ONE_LINE_WIDTH columns; an empty body
 *   without comments is `name {}`; everything else is one statement per line;
 * - a statement longer than LIST_BREAK_WIDTH columns, or with a comment inside a list, puts each list item
 *   after the first on its own line, indented by four more spaces (a line ending in "," continues the list);
 * - one blank line between policies, and around every block inside a policy; elsewhere a blank line in the
 *   source (one or more) is kept as exactly one; none after "{" or before "}";
 * - comments stay where they were: own-line comments before the item that follows them, trailing comments
 *   at the end of the line of the item they follow (one space before the marker).
 */
const ONE_LINE_WIDTH = 80;
const LIST_BREAK_WIDTH = 100;
const INDENT = '  ';

/** Options for formatPolicy. */
export interface FormatOptions {
  /** File name for diagnostics when formatting text (default `<input>`). */
  readonly file?: string;
  /** Original text of an AST, so strings keep their spelling (escapes, `"""`); without it strings are re-escaped. */
  readonly source?: string;
}

/** Thrown by formatPolicy when the text does not parse; holds the diagnostics. */
export class PolicyFormatError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[], source: string) {
    super(`cannot format a file with errors:\n${renderDiagnostics(diagnostics, () => source)}`);
    this.name = 'PolicyFormatError';
    this.diagnostics = diagnostics;
  }
}

/**
 * Formats a .policy file canonically. Text input is parsed first (comments kept); an AST is printed as is
 * (its `comments` included). Throws PolicyFormatError when the text has errors.
 */
export function formatPolicy(input: string | PolicyFile, opts: FormatOptions = {}): string {
  if (typeof input !== 'string') return new Printer(input, opts.source).print();
  const r = tryFormatPolicy(input, opts.file ?? '<input>');
  if (r.text === undefined) throw new PolicyFormatError(r.diagnostics, input);
  return r.text;
}

/** Formats text, or returns its error diagnostics (text undefined) when it has errors. Never throws. */
export function tryFormatPolicy(text: string, file: string): { text: string | undefined; diagnostics: Diagnostic[] } {
  const { ast, diagnostics } = parsePolicy(text, file);
  if (diagnostics.some((d) => d.severity === 'error')) return { text: undefined, diagnostics };
  return { text: new Printer(ast, text).print(), diagnostics };
}

type Item = { readonly kind: 'Block'; readonly node: Block } | { readonly kind: 'Statement'; readonly node: Statement };

/** One formatting run: output lines plus a cursor over the comments (consumed in source order). */
class Printer {
  readonly #ast: PolicyFile;
  readonly #source: string | undefined;
  readonly #comments: readonly Comment[];
  #ci = 0;
  readonly #lines: string[] = [];

  constructor(ast: PolicyFile, source: string | undefined) {
    this.#ast = ast;
    this.#source = source;
    this.#comments = [...ast.comments].sort((a, b) => a.span.start.offset - b.span.start.offset);
  }

  print(): string {
    let prevLine: number | undefined;
    let prevWasPolicy = false;
    for (const p of this.#ast.policies) {
      const lead = this.#leadingComments(p.span.start.offset, 0, prevLine, prevWasPolicy);
      prevLine = lead.line;
      const gap = prevLine !== undefined && p.span.start.line - prevLine > 1;
      if (this.#lines.length && ((prevWasPolicy && lead.printed === 0) || gap)) this.#blank();
      this.#policy(p);
      const next = this.#ast.policies[this.#ast.policies.indexOf(p) + 1];
      this.#trailingComment(p.span.end.line, next ? next.span.start.offset : Infinity);
      prevLine = p.span.end.line;
      prevWasPolicy = true;
    }
    this.#leadingComments(Infinity, 0, prevLine, false);
    while (this.#lines.length && this.#lines[this.#lines.length - 1] === '') this.#lines.pop();
    return this.#lines.length ? this.#lines.join('\n') + '\n' : '';
  }

  // --- output helpers ---

  #emit(indent: number, text: string): void {
    this.#lines.push(INDENT.repeat(indent) + text);
  }

  #append(text: string): void {
    this.#lines[this.#lines.length - 1] += text;
  }

  #blank(): void {
    if (this.#lines.length && this.#lines[this.#lines.length - 1] !== '') this.#lines.push('');
  }

  #peek(): Comment | undefined {
    return this.#comments[this.#ci];
  }

  /**
   * Prints the comments that start before `before` on their own lines at `indent`, keeping one blank line
   * where the source had any. `forceBlankFirst` puts a blank line before the first one (after a policy or
   * block). Returns the source line of the last thing printed and how many comments were printed.
   */
  #leadingComments(before: number, indent: number, prevLine: number | undefined, forceBlankFirst: boolean): { line: number | undefined; printed: number } {
    let printed = 0;
    for (let c = this.#peek(); c && c.span.start.offset < before; c = this.#peek()) {
      if (prevLine !== undefined && this.#lines.length && ((printed === 0 && forceBlankFirst) || c.span.start.line - prevLine > 1)) this.#blank();
      this.#emit(indent, c.text.trimEnd());
      prevLine = c.span.end.line;
      printed++;
      this.#ci++;
    }
    return { line: prevLine, printed };
  }

  /** Appends the comment that follows on `line` (and before `before`) to the current output line. */
  #trailingComment(line: number, before: number): void {
    const c = this.#peek();
    if (c && c.span.start.line === line && c.span.start.offset < before) {
      this.#append(' ' + c.text.trimEnd());
      this.#ci++;
    }
  }

  #hasCommentBefore(offset: number): boolean {
    const c = this.#peek();
    return c !== undefined && c.span.start.offset < offset;
  }

  // --- values ---

  #scalar(v: ScalarValue): string {
    switch (v.kind) {
      case 'Ident': return v.name;
      case 'Number': return v.raw;
      case 'Regex': return `/${v.source}/${v.flags}`;
      case 'String': {
        const raw = this.#source?.slice(v.span.start.offset, v.span.end.offset);
        return raw !== undefined && raw.startsWith('"') ? raw : encodeString(v.value);
      }
    }
  }

  #value(v: Value): string {
    return v.kind === 'List' ? v.items.map((i) => this.#scalar(i)).join(', ') : this.#scalar(v);
  }

  #termsText(terms: readonly Value[]): string {
    return terms.map((t) => this.#value(t)).join(' ');
  }

  // --- structure ---

  #policy(p: Policy): void {
    const id = this.#source?.slice(p.idSpan.start.offset, p.idSpan.end.offset);
    const idText = id !== undefined && id.startsWith('"') ? id : encodeString(p.id);
    this.#emit(0, `policy ${idText}`);
    const items: Item[] = [
      ...p.settings.map((node): Item => ({ kind: 'Statement', node })),
      ...p.blocks.map((node): Item => ({ kind: 'Block', node })),
    ].sort((a, b) => a.node.span.start.offset - b.node.span.start.offset);
    if (items.length === 0 && !this.#hasCommentBefore(p.span.end.offset)) {
      this.#append(' {}');
      return;
    }
    this.#append(' {');
    this.#trailingComment(p.idSpan.end.line, items[0]?.node.span.start.offset ?? p.span.end.offset);
    this.#items(items, 1, p.span.end.offset, true);
    this.#emit(0, '}');
  }

  /**
   * Prints the items of a body at `indent`, each preceded by its own-line comments, then the comments left
   * before `end`. `blocksApart` forces a blank line around blocks (policy bodies).
   */
  #items(items: readonly Item[], indent: number, end: number, blocksApart: boolean): void {
    let prevLine: number | undefined;
    let prev: Item | undefined;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      const force = blocksApart && prev !== undefined && (prev.kind === 'Block' || it.kind === 'Block');
      const lead = this.#leadingComments(it.node.span.start.offset, indent, prevLine, force);
      prevLine = lead.line;
      const gap = prevLine !== undefined && it.node.span.start.line - prevLine > 1;
      if (prev !== undefined && ((force && lead.printed === 0) || gap)) this.#blank();
      if (it.kind === 'Block') this.#block(it.node, indent);
      else this.#statement(it.node, indent);
      const next = items[i + 1];
      this.#trailingComment(it.node.span.end.line, next ? next.node.span.start.offset : end);
      prevLine = it.node.span.end.line;
      prev = it;
    }
    this.#leadingComments(end, indent, prevLine, false);
  }

  #block(b: Block, indent: number): void {
    const header = [b.name, ...b.qualifiers.map((q) => this.#scalar(q))].join(' ');
    this.#emit(indent, header);
    const headerLine = (b.qualifiers.length ? b.qualifiers[b.qualifiers.length - 1]!.span : b.nameSpan).end.line;
    this.#body(b.statements, indent, headerLine, b.span.end.offset);
  }

  /** Prints ` { … }` after the header already on the current line. */
  #body(statements: readonly Statement[], indent: number, headerLine: number, end: number): void {
    if (statements.length === 0 && !this.#hasCommentBefore(end)) {
      this.#append(' {}');
      return;
    }
    const only = statements.length === 1 ? statements[0]! : undefined;
    if (only && !only.body && !this.#hasCommentBefore(end)) {
      const text = this.#termsText(only.terms);
      const line = this.#lines[this.#lines.length - 1]! + ` { ${text} }`;
      if (line.length <= ONE_LINE_WIDTH && !text.includes('\n')) {
        this.#lines[this.#lines.length - 1] = line;
        return;
      }
    }
    this.#append(' {');
    this.#trailingComment(headerLine, statements[0]?.span.start.offset ?? end);
    this.#items(statements.map((node): Item => ({ kind: 'Statement', node })), indent + 1, end, false);
    this.#emit(indent, '}');
  }

  #statement(st: Statement, indent: number): void {
    const oneLine = INDENT.repeat(indent) + this.#termsText(st.terms);
    const hasList = st.terms.some((t) => t.kind === 'List');
    const listWithComment = st.terms.some((t) => t.kind === 'List' && this.#hasCommentBefore(t.span.end.offset));
    if (hasList && (listWithComment || oneLine.length > LIST_BREAK_WIDTH)) this.#brokenStatement(st, indent);
    else this.#lines.push(oneLine);
    if (st.body) {
      const last = st.terms[st.terms.length - 1]!;
      this.#body(st.body, indent, last.span.end.line, st.span.end.offset);
    }
  }

  /** A statement whose lists put every item after the first on its own line (indent + 2 levels). */
  #brokenStatement(st: Statement, indent: number): void {
    this.#emit(indent, '');
    let sep = '';
    for (const t of st.terms) {
      if (t.kind !== 'List') {
        this.#append(sep + this.#scalar(t));
        sep = ' ';
        continue;
      }
      t.items.forEach((item, i) => {
        if (i === 0) this.#append(sep + this.#scalar(item));
        else {
          this.#leadingComments(item.span.start.offset, indent + 2, undefined, false);
          this.#emit(indent + 2, this.#scalar(item));
        }
        const next = t.items[i + 1];
        if (next) {
          this.#append(',');
          this.#trailingComment(item.span.end.line, next.span.start.offset);
        }
      });
      sep = ' ';
    }
  }
}
