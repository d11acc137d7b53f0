// Property tests (fast-check): the parser never throws and keeps every span inside the input, on any text;
// on generated valid policies, parsing gives the generated AST, and formatting is idempotent and keeps meaning.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Span } from '../../grammar/ast.ts';
import { formatPolicy, parsePolicy } from '../../grammar/index.ts';
import { encodeString, parseNumber } from '../../grammar/literals.ts';
import { SourceText } from '../../grammar/source.ts';
import { stripSpans } from './helpers.ts';

/** Every Span reachable from `v` (AST nodes and diagnostics). */
function* spans(v: unknown): Generator<Span> {
  if (Array.isArray(v)) { for (const x of v) yield* spans(x); return; }
  if (!v || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'span' || k === 'nameSpan' || k === 'idSpan') && x && typeof x === 'object') yield x as Span;
    else yield* spans(x);
  }
}

/** Parses and checks the invariants every parse must keep, whatever the input. */
function parseChecked(text: string): ReturnType<typeof parsePolicy> {
  const r = parsePolicy(text, 'p.policy');
  const src = new SourceText(text, 'p.policy');
  expect(r.diagnostics.filter((d) => d.code === 'POL0299')).toEqual([]);
  for (const s of spans([r.ast, r.diagnostics])) {
    expect(s.file).toBe('p.policy');
    expect(s.start.offset).toBeGreaterThanOrEqual(0);
    expect(s.start.offset).toBeLessThanOrEqual(s.end.offset);
    expect(s.end.offset).toBeLessThanOrEqual(text.length);
    expect(src.pos(s.start.offset)).toEqual(s.start);
    expect(src.pos(s.end.offset)).toEqual(s.end);
  }
  expect(r.diagnostics.filter((d) => d.severity === 'error').length).toBeLessThanOrEqual(21);
  return r;
}

/** Fragments of the language (and of common mistakes) for "token soup" inputs that reach recovery paths. */
const FRAGMENTS = [
  'policy', ' ', '\n', '\r\n', '\t', '"id"', '"a b"', '"""x\n y"""', '"""', '"', "'q'", '{', '}', ',', ';',
  'auth', 'deny', 'self-harm/*', '200k', '30s', '0.5', '10%', '7x', '/re\\d+/i', '/', '//c', '#c', '@', '\\',
  '\\u{41}', '"\\q"', '-', '*', ':', '=', '😀', '\u0000', '\u2028',
];
const soup = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((a) => a.join(''));

describe('parsePolicy never throws and keeps spans inside the input', () => {
  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => { parseChecked(s); }), { numRuns: 300 });
  });

  it('on token soup', () => {
    fc.assert(fc.property(soup, (s) => { parseChecked(s); }), { numRuns: 500 });
  });

  it('on mutated valid policies', () => {
    const mutated = fc.tuple(validFile, fc.array(fc.tuple(fc.nat(), fc.nat(20), fc.constantFrom(...FRAGMENTS, '')), { minLength: 1, maxLength: 4 }))
      .map(([f, edits]) => edits.reduce((t, [at, del, ins]) => {
        const i = t.length ? at % t.length : 0;
        return t.slice(0, i) + ins + t.slice(i + del);
      }, f.text));
    fc.assert(fc.property(mutated, (s) => { parseChecked(s); }), { numRuns: 300 });
  });
});

// --- generated valid policies ----------------------------------------------------------------------------

type Scalar =
  | { kind: 'Ident'; name: string }
  | { kind: 'String'; value: string }
  | { kind: 'Number'; value: number; unit: string; raw: string }
  | { kind: 'Regex'; source: string; flags: string };
type Term = Scalar | { kind: 'List'; items: Scalar[] };
interface St { kind: 'Statement'; terms: Term[]; body?: St[] }
interface Bl { kind: 'Block'; name: string; qualifiers: Scalar[]; statements: St[] }
interface Pol { kind: 'Policy'; id: string; settings: St[]; blocks: Bl[]; order: boolean[] }

const identA = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}(?:[-/.][A-Za-z0-9_]{1,4}){0,2}(?:\/\*)?$/).filter((s) => s !== 'policy');
const identS: fc.Arbitrary<Scalar> = identA.map((name) => ({ kind: 'Ident', name }));
const anyString = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }));
const stringS: fc.Arbitrary<Scalar> = anyString.map((value) => ({ kind: 'String', value }));
const numberS: fc.Arbitrary<Scalar> = fc.tuple(fc.nat(99_999), fc.option(fc.stringMatching(/^[0-9]{1,3}$/)), fc.constantFrom('', 'k', 'M', 'G', 'ms', 's', 'm', 'h', 'd', '%'))
  .map(([i, f, u]) => {
    const raw = `${i}${f === null ? '' : '.' + f}${u}`;
    const n = parseNumber(raw);
    return { kind: 'Number', value: n.value, unit: n.unit, raw };
  });
const regexS: fc.Arbitrary<Scalar> = fc.tuple(
  fc.array(fc.constantFrom('a', 'b', '\\d', '\\/', '[/]', '.', '+', 'x*', ' ', '\\s', '(ab)', '[a-z]{2}', '#', '"'), { minLength: 1, maxLength: 5 }),
  fc.subarray(['i', 'm', 's']),
).map(([p, f]) => ({ kind: 'Regex', source: p.join(''), flags: f.join('') }));
const scalar = fc.oneof(identS, stringS, numberS, regexS);
const term: fc.Arbitrary<Term> = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { minLength: 2, maxLength: 4 }).map((items): Term => ({ kind: 'List', items })) },
);
const leafStatement: fc.Arbitrary<St> = fc.array(term, { minLength: 1, maxLength: 4 }).map((terms) => ({ kind: 'Statement', terms }));
const statement: fc.Arbitrary<St> = fc.oneof(
  { weight: 4, arbitrary: leafStatement },
  { weight: 1, arbitrary: fc.tuple(fc.array(term, { minLength: 1, maxLength: 2 }), fc.array(leafStatement, { maxLength: 3 }))
    .map(([terms, body]): St => ({ kind: 'Statement', terms, body })) },
);
const block: fc.Arbitrary<Bl> = fc.tuple(identA, fc.array(scalar, { maxLength: 2 }), fc.array(statement, { maxLength: 4 }))
  .map(([name, qualifiers, statements]) => ({ kind: 'Block', name, qualifiers, statements }));
/** A setting never has a body (a statement with a body and a word first is a block). */
const setting: fc.Arbitrary<St> = leafStatement;
const policy: fc.Arbitrary<Pol> = fc.tuple(anyString, fc.array(setting, { maxLength: 3 }), fc.array(block, { maxLength: 4 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([id, settings, blocks, order]) => ({ kind: 'Policy', id, settings, blocks, order }));
const commentText = fc.tuple(fc.constantFrom('#', '//'), fc.stringMatching(/^[ -~]{0,16}$/)).map(([m, t]) => m + t);

/** Renders a model with layout decided by `choices`: spacing, `;` or newlines, line-broken lists, comments. */
function render(pols: readonly Pol[], choices: readonly number[], pool: readonly string[]): { text: string; comments: string[] } {
  let k = 0;
  let ci = 0;
  const pick = (n: number): number => choices[k++ % choices.length]! % n;
  const comments: string[] = [];
  const comment = (): string => { const c = pool[ci++ % pool.length]!; comments.push(c); return c; };
  const ws = (): string => [' ', '  ', '\t'][pick(3)]!;
  const indent = (): string => ' '.repeat(pick(7));
  const eol = (): string => (pick(4) === 0 ? ws() + comment() : '') + (pick(4) === 0 ? '\n\n' : '\n');
  const sc = (s: Scalar): string => {
    switch (s.kind) {
      case 'Ident': return s.name;
      case 'String': return encodeString(s.value);
      case 'Number': return s.raw;
      case 'Regex': return `/${s.source}/${s.flags}`;
    }
  };
  const tm = (t: Term): string => t.kind === 'List'
    ? t.items.map(sc).reduce((acc, item) => acc + ',' + (pick(3) === 0 ? (pick(2) ? ws() + comment() : '') + '\n' + indent() : ws()) + item)
    : sc(t);
  const body = (sts: readonly St[]): string => {
    if (sts.length === 0) return ['{}', '{ }', '{\n}'][pick(3)]!;
    let out = '{' + (pick(2) ? ws() : eol());
    sts.forEach((s, i) => {
      if (pick(5) === 0) out += indent() + comment() + '\n';
      out += indent() + st(s);
      if (i < sts.length - 1) out += pick(2) ? ';' + ws() : eol();
    });
    return out + (pick(2) ? ws() : eol()) + '}';
  };
  const st = (s: St): string => s.terms.map(tm).join(ws()) + (s.body ? ws() + body(s.body) : '');
  const bl = (b: Bl): string => [b.name, ...b.qualifiers.map(sc)].join(ws()) + ws() + body(b.statements);
  let text = '';
  for (const p of pols) {
    if (pick(3) === 0) text += comment() + '\n';
    text += `policy${ws()}${encodeString(p.id)}${ws()}{${eol()}`;
    let si = 0;
    let bi = 0;
    let oi = 0;
    while (si < p.settings.length || bi < p.blocks.length) {
      const takeBlock = bi < p.blocks.length && (si >= p.settings.length || p.order[oi++ % p.order.length]);
      text += indent() + (takeBlock ? bl(p.blocks[bi++]!) : st(p.settings[si++]!)) + (pick(2) ? ';' + eol() : eol());
    }
    text += '}' + eol();
  }
  return { text, comments };
}

/** The AST parsePolicy must build for a model (what stripSpans leaves of it). */
function expected(pols: readonly Pol[]): unknown {
  const stm = (s: St): unknown => (s.body ? { kind: 'Statement', terms: s.terms, body: s.body.map(stm) } : { kind: 'Statement', terms: s.terms });
  return {
    kind: 'PolicyFile', file: 'p.policy',
    policies: pols.map((p) => ({
      kind: 'Policy', id: p.id, settings: p.settings.map(stm),
      blocks: p.blocks.map((b) => ({ kind: 'Block', name: b.name, qualifiers: b.qualifiers, statements: b.statements.map(stm) })),
    })),
  };
}

const validFile = fc.tuple(fc.array(policy, { maxLength: 3 }), fc.array(fc.nat(99), { minLength: 97, maxLength: 97 }), fc.array(commentText, { minLength: 5, maxLength: 5 }))
  .map(([pols, choices, pool]) => ({ pols, ...render(pols, choices, pool) }));

describe('generated valid policies', () => {
  it('parse without diagnostics into the generated AST', () => {
    fc.assert(fc.property(validFile, ({ pols, text, comments }) => {
      const r = parseChecked(text);
      expect(r.diagnostics).toEqual([]);
      expect(stripSpans(r.ast, true)).toEqual(expected(pols));
      expect(r.ast.comments.map((c) => c.text)).toEqual(comments);
    }), { numRuns: 300 });
  });

  it('format idempotently, keeping the AST and every comment in order', () => {
    fc.assert(fc.property(validFile, ({ pols, text, comments }) => {
      const once = formatPolicy(text, { file: 'p.policy' });
      expect(formatPolicy(once, { file: 'p.policy' })).toBe(once);
      const r = parsePolicy(once, 'p.policy');
      expect(r.diagnostics).toEqual([]);
      expect(stripSpans(r.ast, true)).toEqual(expected(pols));
      expect(r.ast.comments.map((c) => c.text)).toEqual(comments.map((c) => c.trimEnd()));
    }), { numRuns: 300 });
  });

  it('format the same from the AST alone (strings re-escaped) and from text', () => {
    fc.assert(fc.property(validFile, ({ text }) => {
      const ast = parsePolicy(text, 'p.policy').ast;
      const fromAst = formatPolicy(ast);
      expect(stripSpans(parsePolicy(fromAst, 'p.policy').ast, true)).toEqual(stripSpans(ast, true));
      expect(formatPolicy(fromAst)).toBe(fromAst);
    }), { numRuns: 200 });
  });
});
