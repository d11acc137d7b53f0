// Build stage: CST → AST (grammar/ast.ts), a span on every node. Structure only, no semantic checks: the
// only diagnostics here are syntax the grammar accepts for recovery's sake (stray top-level input, POL0202/0204/0205).
import type { CstNode, IToken } from 'chevrotain';
import type {
  Block, Comment, IdentValue, ListValue, NumberValue, Policy, PolicyFile, RegexValue, ScalarValue, Span, Statement,
  StringValue, Value,
} from './ast.ts';
import type {
  BodyCstChildren, PolicyCstVisitor, PolicyDeclCstChildren, PolicyFileCstChildren, ScalarCstChildren,
  StatementCstChildren, TermCstChildren,
} from './cst.d.ts';
import type { Diagnostic } from './diagnostics.ts';
import { decodeString, parseNumber, regexParts } from './literals.ts';
import { parser } from './parser.ts';
import type { SourceText } from './source.ts';
import { closestWord } from './suggest.ts';
import { KEYWORDS } from './tokens.ts';

const BaseVisitor = parser.getBaseCstVisitorConstructor<void, unknown>();

/** A token that really is in the source (not one inserted by error recovery). */
function real(t: IToken | undefined): t is IToken {
  return t !== undefined && !t.isInsertedInRecovery && Number.isFinite(t.startOffset) && t.startOffset >= 0;
}

/** The value of any string token (single-quoted and unterminated ones too, which the lexer has reported). */
function stringValue(t: IToken): string {
  const type = t.tokenType.name;
  if (type === 'SingleQuotedString') {
    const closed = t.image.length >= 2 && t.image.endsWith("'");
    return decodeString('"' + t.image.slice(1, closed ? -1 : undefined) + '"').value;
  }
  return decodeString(t.image, !type.startsWith('Unterminated')).value;
}

function tokenEnd(t: IToken): number {
  return Number.isFinite(t.endOffset) ? t.endOffset! + 1 : t.startOffset + t.image.length;
}

/** The first/last real token offsets inside a CST node, found by walking it (used when `location` is unusable). */
function walkBounds(node: CstNode, acc: { start: number; end: number }): void {
  for (const key in node.children) {
    for (const el of node.children[key]!) {
      if ('tokenType' in el) {
        if (real(el)) {
          acc.start = Math.min(acc.start, el.startOffset);
          acc.end = Math.max(acc.end, tokenEnd(el));
        }
      } else walkBounds(el, acc);
    }
  }
}

/** Visitor turning a `policyFile` CST into a PolicyFile AST. One instance, reused; not re-entrant. */
class AstBuilder extends BaseVisitor implements PolicyCstVisitor<void, unknown> {
  #src!: SourceText;
  #diags!: Diagnostic[];

  constructor() {
    super();
    this.validateVisitor();
  }

  /** Builds the AST of one file; syntax diagnostics found on the way are appended to `diags`. */
  build(cst: CstNode, comments: readonly IToken[], src: SourceText, diags: Diagnostic[]): PolicyFile {
    this.#src = src;
    this.#diags = diags;
    const file = this.visit(cst) as { policies: Policy[] };
    return {
      kind: 'PolicyFile',
      file: src.file,
      policies: file.policies,
      comments: comments.map((c): Comment => ({ kind: 'Comment', text: c.image, span: this.#tokenSpan(c) })),
      span: src.span(0, src.text.length),
    };
  }

  #tokenSpan(t: IToken): Span {
    return this.#src.span(t.startOffset, tokenEnd(t));
  }

  /** The span of a CST node (its location, or its real tokens), or undefined when it holds no real token. */
  #nodeSpan(node: CstNode): Span | undefined {
    const loc = node.location;
    if (loc && Number.isFinite(loc.startOffset) && loc.startOffset >= 0 && Number.isFinite(loc.endOffset) && loc.endOffset! >= loc.startOffset) {
      return this.#src.span(loc.startOffset, loc.endOffset! + 1);
    }
    const acc = { start: Infinity, end: -Infinity };
    walkBounds(node, acc);
    return acc.start === Infinity ? undefined : this.#src.span(acc.start, acc.end);
  }

  #error(code: `POL${string}`, span: Span, message: string, notes?: string[]): void {
    this.#diags.push(notes?.length ? { code, severity: 'error', message, span, notes } : { code, severity: 'error', message, span });
  }

  policyFile(ch: PolicyFileCstChildren): { policies: Policy[] } {
    const policies: Policy[] = [];
    for (const p of ch.policyDecl ?? []) {
      const pol = this.visit(p) as Policy | undefined;
      if (pol) policies.push(pol);
    }
    for (const st of ch.statement ?? []) this.#strayStatement(st);
    for (const b of ch.body ?? []) {
      const span = this.#nodeSpan(b);
      if (span) this.#error('POL0204', this.#src.span(span.start.offset, span.start.offset + 1), 'unexpected "{" outside a policy',
        ['a .policy file holds policies: policy "id" { … }']);
    }
    for (const t of [...(ch.RBrace ?? []), ...(ch.Comma ?? [])]) {
      if (!real(t)) continue;
      this.#error('POL0204', this.#tokenSpan(t), `unexpected "${t.image}"`,
        t.image === '}' ? ['there is no open "{" for this "}" to close'] : []);
    }
    return { policies };
  }

  /** A statement at the top level: only `policy "id" { … }` belongs there. */
  #strayStatement(node: CstNode): void {
    const st = this.visit(node) as Statement | undefined;
    if (!st) return;
    const first = st.terms[0]!;
    const word = first.kind === 'Ident' ? first.name : undefined;
    const notes: string[] = [];
    const guess = word === undefined ? undefined : closestWord(word, KEYWORDS);
    if (guess) notes.push(`did you mean "${guess}"?`);
    notes.push('a .policy file holds policies: policy "id" { … }');
    const found = word !== undefined ? `"${word}"` : first.kind === 'String' ? 'a string' : first.kind === 'Number' ? 'a number' : first.kind === 'Regex' ? 'a regex' : 'a list';
    this.#error('POL0202', first.span, `expected "policy", found ${found}`, notes);
  }

  policyDecl(ch: PolicyDeclCstChildren): Policy | undefined {
    const kw = ch.Policy?.[0];
    if (!real(kw)) return undefined;
    const strTok = ch.StringLiteral?.[0];
    const otherTok = ch.Identifier?.[0] ?? ch.NumberLiteral?.[0];
    let id = '';
    let idSpan = this.#tokenSpan(kw);
    if (real(strTok)) {
      id = stringValue(strTok);
      idSpan = this.#tokenSpan(strTok);
    } else if (real(otherTok)) {
      id = otherTok.image;
      idSpan = this.#tokenSpan(otherTok);
      this.#error('POL0201', idSpan, `expected a policy id string after "policy", found "${otherTok.image}"`,
        [`write the id in double quotes: policy "${otherTok.image}" { … }`]);
    } else {
      this.#error('POL0201', idSpan, 'expected a policy id string after "policy"', ['a policy is written policy "id" { … }']);
    }
    const bodyNode = ch.body?.[0];
    const items = bodyNode ? (this.visit(bodyNode) as Statement[]) : [];
    const settings: Statement[] = [];
    const blocks: Block[] = [];
    for (const st of items) {
      const block = this.#asBlock(st);
      if (block) blocks.push(block);
      else settings.push(st);
    }
    const bodySpan = bodyNode ? this.#nodeSpan(bodyNode) : undefined;
    const end = bodySpan ?? idSpan;
    return { kind: 'Policy', id, idSpan, settings, blocks, span: this.#src.span(kw.startOffset, end.end.offset) };
  }

  /** A statement with a body whose first term is a word is a Block: `name qualifiers* { statements }`. */
  #asBlock(st: Statement): Block | undefined {
    const first = st.terms[0];
    if (!st.body || !first || first.kind !== 'Ident') return undefined;
    const qualifiers: ScalarValue[] = [];
    for (const t of st.terms.slice(1)) {
      if (t.kind === 'List') {
        this.#error('POL0205', t.span, `a block's qualifiers cannot be a list`,
          [`write them separated by spaces: ${first.name} ${t.items.map((i) => this.#src.text.slice(i.span.start.offset, i.span.end.offset)).join(' ')} { … }`]);
        qualifiers.push(...t.items);
      } else qualifiers.push(t);
    }
    return { kind: 'Block', name: first.name, nameSpan: first.span, qualifiers, statements: st.body, span: st.span };
  }

  body(ch: BodyCstChildren): Statement[] {
    const out: Statement[] = [];
    for (const s of ch.statement ?? []) {
      const st = this.visit(s) as Statement | undefined;
      if (st) out.push(st);
    }
    return out;
  }

  statement(ch: StatementCstChildren): Statement | undefined {
    const terms: Value[] = [];
    for (const t of ch.term ?? []) {
      const v = this.visit(t) as Value | undefined;
      if (v) terms.push(v);
    }
    if (terms.length === 0) return undefined;
    const bodyNode = ch.body?.[0];
    const start = terms[0]!.span.start.offset;
    let end = terms[terms.length - 1]!.span.end.offset;
    if (bodyNode) {
      const body = this.visit(bodyNode) as Statement[];
      const bs = this.#nodeSpan(bodyNode);
      if (bs) end = Math.max(end, bs.end.offset);
      return { kind: 'Statement', terms, body, span: this.#src.span(start, end) };
    }
    return { kind: 'Statement', terms, span: this.#src.span(start, end) };
  }

  term(ch: TermCstChildren): Value | undefined {
    const items: ScalarValue[] = [];
    for (const s of ch.scalar ?? []) {
      const v = this.visit(s) as ScalarValue | undefined;
      if (v) items.push(v);
    }
    if (items.length === 0) return undefined;
    if (items.length === 1) return items[0];
    const list: ListValue = {
      kind: 'List', items,
      span: this.#src.span(items[0]!.span.start.offset, items[items.length - 1]!.span.end.offset),
    };
    return list;
  }

  scalar(ch: ScalarCstChildren): ScalarValue | undefined {
    const t = ch.Identifier?.[0] ?? ch.StringLiteral?.[0] ?? ch.NumberLiteral?.[0] ?? ch.RegexLiteral?.[0];
    if (!real(t)) return undefined;
    const span = this.#tokenSpan(t);
    if (ch.Identifier) return { kind: 'Ident', name: t.image, span } satisfies IdentValue;
    if (ch.StringLiteral) {
      return { kind: 'String', value: stringValue(t), span } satisfies StringValue;
    }
    if (ch.NumberLiteral) {
      const n = parseNumber(t.image);
      return { kind: 'Number', value: n.value, unit: n.unit, raw: t.image, span } satisfies NumberValue;
    }
    const r = regexParts(t.image);
    return { kind: 'Regex', source: r.source, flags: r.flags, span } satisfies RegexValue;
  }
}

const builder = new AstBuilder();

/**
 * Builds the AST of one parsed file. Never throws on CSTs produced by error recovery (missing children are
 * skipped). Syntax diagnostics (stray top-level input) are appended to `diags`.
 */
export function buildAst(cst: CstNode, comments: readonly IToken[], src: SourceText, diags: Diagnostic[]): PolicyFile {
  return builder.build(cst, comments, src, diags);
}
