// Declarative block schemas (src/sdk/block-schema.ts): the checks a schema gives a plugin (qualifier, unknown statement
// with did-you-mean, required, once, body; the demo schema borrows documented codes) and the reference tables, which
// docs/policy-language.md must carry verbatim for every block whose plugin declares a schema.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { parsePolicy, type Diagnostic } from '../../src/sdk/ast.ts';
import {
  checkNoBody, checkRequired, defineBlockSchema, forEachOnce, readBlock, referenceTable, spanRef, statementSchema,
} from '../../src/sdk/block-schema.ts';

const schema = defineBlockSchema({
  block: 'demo',
  noQualifier: { code: 'POL0497', message: (found) => `no qualifier, found ${found}`, notes: ['write demo { … }'] },
  statements: [
    { keyword: 'limit', syntax: 'limit N', meaning: 'the limit', default: '10', values: [{ kind: 'number', name: 'N', unit: 'none' }],
      required: { code: 'POL0406', message: 'needs a limit' },
      once: { code: 'POL0493', message: 'limit twice', notes: (first) => [`first given at ${spanRef(first)}`] } },
    { keyword: 'mode', syntax: 'mode on\\|off', meaning: 'the mode', default: '`off`', values: [{ kind: 'word', words: ['on', 'off'] }],
      noBody: { code: 'POL0496', message: '"mode" takes no body' } },
    { keyword: 'legacy', syntax: 'legacy', meaning: 'refused', default: '—', refused: true },
  ],
});

/** The demo block of a policy text, and a diagnostics collector. */
function demo(text: string) {
  const parsed = parsePolicy(`policy "p" {\n${text}\n}\n`, 'p.policy');
  const block = parsed.ast.policies[0]!.blocks[0]!;
  const diags: Diagnostic[] = [];
  return { block, env: { report: (d: Diagnostic) => { diags.push(d); } }, diags };
}

describe('block schemas', () => {
  it('checks qualifiers, unknown statements (with did-you-mean), required and repeated statements and bodies', () => {
    const { block, env, diags } = demo('demo "x" {\n  limt 3\n  mode on { }\n}');
    const byKw = readBlock(block, schema, env);
    expect(checkRequired(block, byKw, schema, env)).toBe(false);
    for (const st of byKw.get('mode') ?? []) expect(checkNoBody(st, statementSchema(schema, 'mode'), env)).toBe(false);
    expect(diags.map((d) => [d.code, d.message, d.notes ?? []])).toEqual([
      ['POL0497', 'no qualifier, found "x"', ['write demo { … }']],
      ['POL0401', 'unknown statement "limt" in demo block', ['did you mean "limit"?', 'expected one of: "limit", "mode", "legacy"']],
      ['POL0406', 'needs a limit', []],
      ['POL0496', '"mode" takes no body', []],
    ]);
  });

  it('reads a once statement once and reports each repeat with where it was first given', () => {
    const { block, env, diags } = demo('demo {\n  limit 1\n  limit 2\n  limit 3\n}');
    const read: string[] = [];
    forEachOnce(readBlock(block, schema, env).get('limit'), statementSchema(schema, 'limit'), env, (st) => read.push(st.terms[1]!.span.start.line.toString()));
    expect(read).toEqual(['3']);
    expect(diags.map((d) => `${d.code} ${d.span.start.line} ${d.notes![0]}`)).toEqual(['POL0493 4 first given at p.policy:3:3', 'POL0493 5 first given at p.policy:3:3']);
  });

  it('renders the reference table, without refused statements', () => {
    expect(referenceTable(schema)).toBe([
      '| statement | meaning | default |', '|---|---|---|', '| `limit N` | the limit | 10 |', '| `mode on\\|off` | the mode | `off` |',
    ].join('\n'));
    expect(() => defineBlockSchema({ block: 'x', statements: [schema.statements[0]!, schema.statements[0]!] })).toThrow(/twice/);
  });

  const reference = readFileSync(new URL('../../docs/policy-language.md', import.meta.url), 'utf8');
  const schemas = ALL_PLUGINS.flatMap((p) => (p.schemas ?? []).map((s) => ({ plugin: p.name, schema: s })));

  it('the registered plugins declare schemas (auth and audit at least)', () => {
    expect(schemas.map((s) => s.schema.block)).toEqual(expect.arrayContaining(['auth', 'audit']));
    for (const { plugin, schema: s } of schemas) expect(ALL_PLUGINS.find((p) => p.name === plugin)!.blocks).toContain(s.block);
  });

  it.each(schemas.map((s) => ({ block: s.schema.block, schema: s.schema })))('docs/policy-language.md carries the $block block\'s table from its schema', ({ block, schema: s }) => {
    const section = reference.slice(reference.indexOf(`\n### ${block}\n`));
    expect(section.length, `no "### ${block}" section`).toBeLessThan(reference.length);
    expect(section).toContain(referenceTable(s));
    // a statement's body settings (moderation's remote providers) have a `setting` table of their own
    for (const st of s.statements) if (st.body) expect(section).toContain(referenceTable(st.body, 'setting'));
  });
});
