// Parse + build stages through the public API: AST shape, spans on every node, recovery, stray input.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../grammar/index.ts';
import type { Policy, Statement } from '../../grammar/ast.ts';
import { stripSpans } from './helpers.ts';

export const DESIGN_SAMPLE = `policy "support-bot" {
  description "Customer support assistant"
  default
  auth       { keys "keys/support.keys" }
  quota      { user 60 requests per minute; user 200k tokens per day; project 5M tokens per month }
  topics     { allow "refund policy", "shipping"; deny "competitor pricing", /wire\\s+transfer/i; deny list "lists/competitors.txt" }
  moderation { provider builtin; flag "self-harm/*" above 0.5; flag violence/graphic }
  respond    {
    when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care and point to support resources."
    when denylist refuse
    otherwise allow
  }
  redact response { email, phone, credit_card, us_ssn, iban, api_key; pattern /ACME-\\d{6}/ as "[ACCOUNT]" }
  rollout    { enforce target "support-bot"; shadow target "*" }
  audit      { tag "team:support"; prompts off }
}
`;

const only = (text: string): Policy => {
  const r = parsePolicy(text, 't.policy');
  expect(r.diagnostics).toEqual([]);
  expect(r.ast.policies).toHaveLength(1);
  return r.ast.policies[0]!;
};

describe('the DESIGN sketch', () => {
  const r = parsePolicy(DESIGN_SAMPLE, 'rules/support.policy');

  it('parses without diagnostics', () => {
    expect(r.diagnostics).toEqual([]);
  });

  it('splits settings from blocks', () => {
    const p = r.ast.policies[0]!;
    expect(p.id).toBe('support-bot');
    expect(p.settings.map((s) => stripSpans(s.terms))).toEqual([
      [{ kind: 'Ident', name: 'description' }, { kind: 'String', value: 'Customer support assistant' }],
      [{ kind: 'Ident', name: 'default' }],
    ]);
    expect(p.blocks.map((b) => b.name)).toEqual(['auth', 'quota', 'topics', 'moderation', 'respond', 'redact', 'rollout', 'audit']);
  });

  it('reads lists, regexes, numbers with units and qualifiers', () => {
    const p = r.ast.policies[0]!;
    const topics = p.blocks.find((b) => b.name === 'topics')!;
    expect(stripSpans(topics.statements[1]!.terms)).toEqual([
      { kind: 'Ident', name: 'deny' },
      { kind: 'List', items: [{ kind: 'String', value: 'competitor pricing' }, { kind: 'Regex', source: 'wire\\s+transfer', flags: 'i' }] },
    ]);
    const quota = p.blocks.find((b) => b.name === 'quota')!;
    expect(stripSpans(quota.statements[1]!.terms[1])).toEqual({ kind: 'Number', value: 200_000, unit: 'count', raw: '200k' });
    const redact = p.blocks.find((b) => b.name === 'redact')!;
    expect(stripSpans(redact.qualifiers)).toEqual([{ kind: 'Ident', name: 'response' }]);
    expect(redact.statements[0]!.terms).toHaveLength(1);
    expect(redact.statements[0]!.terms[0]!.kind).toBe('List');
  });

  it('gives every node a span that covers its text', () => {
    const p = r.ast.policies[0]!;
    const text = (s: { span: { start: { offset: number }; end: { offset: number } } }) => DESIGN_SAMPLE.slice(s.span.start.offset, s.span.end.offset);
    expect(text(p).startsWith('policy "support-bot" {')).toBe(true);
    expect(text(p).endsWith('}')).toBe(true);
    expect(DESIGN_SAMPLE.slice(p.idSpan.start.offset, p.idSpan.end.offset)).toBe('"support-bot"');
    const redact = p.blocks.find((b) => b.name === 'redact')!;
    expect(text(redact)).toBe('redact response { email, phone, credit_card, us_ssn, iban, api_key; pattern /ACME-\\d{6}/ as "[ACCOUNT]" }');
    expect(DESIGN_SAMPLE.slice(redact.nameSpan.start.offset, redact.nameSpan.end.offset)).toBe('redact');
    expect(text(redact.statements[0]!)).toBe('email, phone, credit_card, us_ssn, iban, api_key');
    expect(text(redact.statements[1]!.terms[1]!)).toBe('/ACME-\\d{6}/');
    expect(redact.span.start).toEqual({ line: 13, col: 3, offset: DESIGN_SAMPLE.indexOf('redact response') });
  });
});

describe('statements', () => {
  it.each([
    { note: '";" separates statements on one line', text: 'policy "a" { b { x 1; y 2 } }', count: 2 },
    { note: 'a newline separates statements', text: 'policy "a" { b {\n x 1\n y 2\n} }', count: 2 },
    { note: 'a list continues over lines after ","', text: 'policy "a" { b {\n x 1,\n 2,\n 3\n} }', count: 1 },
    { note: 'empty statements are ignored', text: 'policy "a" { b { ;; x 1 ;; } }', count: 1 },
  ])('$note', ({ text, count }) => {
    expect(only(text).blocks[0]!.statements).toHaveLength(count);
  });

  it('keeps a nested body on a statement inside a block', () => {
    const st = only('policy "a" { moderation { provider openai { url "http://x"; timeout 2s } } }').blocks[0]!.statements[0]! as Statement;
    expect(stripSpans(st.terms)).toEqual([{ kind: 'Ident', name: 'provider' }, { kind: 'Ident', name: 'openai' }]);
    expect(st.body?.map((s) => stripSpans(s.terms))).toEqual([
      [{ kind: 'Ident', name: 'url' }, { kind: 'String', value: 'http://x' }],
      [{ kind: 'Ident', name: 'timeout' }, { kind: 'Number', value: 2000, unit: 'duration', raw: '2s' }],
    ]);
  });

  it('treats a policy statement with a body and a non-word head as a setting', () => {
    const p = only('policy "a" { "x" { y } }');
    expect(p.blocks).toEqual([]);
    expect(p.settings).toHaveLength(1);
  });

  it('reads several policies in one file, and comments', () => {
    const r = parsePolicy('# head\npolicy "a" {}\n// mid\npolicy "b" { default }\n', 't.policy');
    expect(r.diagnostics).toEqual([]);
    expect(r.ast.policies.map((p) => p.id)).toEqual(['a', 'b']);
    expect(r.ast.comments.map((c) => [c.text, c.span.start.line])).toEqual([['# head', 1], ['// mid', 3]]);
  });
});

describe('syntax errors', () => {
  const codes = (text: string) => parsePolicy(text, 't.policy').diagnostics.map((d) => `${d.span.start.line}:${d.span.start.col} ${d.code} ${d.message}`);

  it.each([
    { note: 'misspelt keyword', text: 'polcy "a" {}', want: ['1:1 POL0202 expected "policy", found "polcy"'] },
    { note: 'unquoted policy id (body still parsed)', text: 'policy a { b { x 1,, 2 } }', want: ['1:8 POL0201 expected a policy id string after "policy", found "a"', '1:20 POL0203 expected a value, found ","'] },
    { note: 'missing policy id', text: 'policy {}', want: ['1:1 POL0201 expected a policy id string after "policy"'] },
    { note: 'missing "}" before the next policy', text: 'policy "a" {\n b { x }\npolicy "b" {}', want: ['3:1 POL0201 expected "}", found "policy"'] },
    { note: 'missing "}" at end of file', text: 'policy "a" {\n b { x }\n', want: ['2:9 POL0201 unexpected end of file, expected "}"'] },
    { note: 'extra "}"', text: 'policy "a" {}\n}\npolicy "b" {}', want: ['2:1 POL0204 unexpected "}"'] },
    { note: 'stray "{" at top level', text: '{ x }', want: ['1:1 POL0204 unexpected "{" outside a policy'] },
    { note: 'block qualifier list', text: 'policy "a" { redact a, b { x } }', want: ['1:21 POL0205 a block\'s qualifiers cannot be a list'] },
    { note: '"policy" is reserved inside bodies', text: 'policy "a" { b { x policy } }', want: ['1:20 POL0201 expected "}", found "policy"'] },
  ])('$note', ({ text, want }) => {
    expect(codes(text)).toEqual(want);
  });

  it('reports several errors in one run and still builds the good policies', () => {
    const r = parsePolicy('policy "a" { b { x @ } }\npolicy "b" { c { y,, } }\npolicy "ok" { d { z } }\n', 't.policy');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['POL0101', 'POL0203']);
    expect(r.ast.policies.map((p) => p.id)).toEqual(['a', 'b', 'ok']);
    expect(stripSpans(r.ast.policies[2])).toMatchObject({ id: 'ok', blocks: [{ name: 'd' }] });
  });

  it('refuses absurd nesting with POL0206 instead of overflowing the stack', () => {
    const deep = (n: number) => 'policy "a" {' + ' a {'.repeat(n) + ' }'.repeat(n + 1);
    expect(parsePolicy(deep(31), 't.policy').diagnostics).toEqual([]);
    const d = parsePolicy(deep(20_000), 't.policy').diagnostics;
    expect(d.map((x) => [x.code, x.message, x.span.start.col])).toEqual([['POL0206', 'bodies nested more than 32 levels deep', 12 + 32 * 4]]);
  });

  it('stops after 20 errors with POL0001', () => {
    const text = Array.from({ length: 30 }, (_, i) => `policy "p${i}" { a { x,, } }`).join('\n');
    const d = parsePolicy(text, 't.policy').diagnostics;
    expect(d).toHaveLength(21);
    expect(d.slice(0, 20).every((x) => x.code === 'POL0203')).toBe(true);
    expect(d[20]).toMatchObject({ code: 'POL0001', message: 'too many errors, stopping after 20', notes: ['10 more errors not shown; fix the ones above and run again'] });
    expect(d[20]!.span.start.line).toBe(21);
  });

  it('adds where the unclosed "{" is, and guesses the one missing its "}" from indentation', () => {
    const d = parsePolicy('policy "a" {\n  auth { keys "k"\n  quota { user 1 }\n}\n', 't.policy').diagnostics;
    expect(d).toHaveLength(1);
    expect(d[0]!.notes).toEqual([
      'the "{" at 1:12 is not closed',
      'the "{" at 2:8 may be missing its "}": the "}" that closes it now (4:1) is indented differently',
    ]);
  });
});
