// The topic matching suite (test/fixtures/topics/suite.jsonl, the cases `npm run eval:topics` reports): every case
// passes through the real compile step and matcher — plurals, exact, possessives, case folding, CJK, scope and the rest.
import { describe, expect, it } from 'vitest';
import { loadSuite, runCase } from '../../../plugins/topics/corpus-eval.ts';

describe('topic matching suite', () => {
  const suite = loadSuite();
  it('has cases for every rule of the issue 16 list', () => {
    const rules = new Set(suite.map((c) => c.rule));
    for (const r of ['plural', 'exact', 'possessive', 'case-folding', 'cjk', 'scope']) expect(rules.has(r), r).toBe(true);
  });
  it.each(suite.map((c) => ({ ...c, note: `${c.id}: ${JSON.stringify(c.phrase)} vs ${JSON.stringify(c.text ?? 'conversation')}` })))('$note', (c) => {
    const r = runCase(c);
    expect(r.error).toBeUndefined();
    expect(r.got).toBe(c.match);
  });
});
