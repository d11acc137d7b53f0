// Precision floor of the builtin classifier on the labelled corpus (test/fixtures/moderation/corpus.jsonl; sources in
// SOURCES.md). Floors sit below the measured values (see `npm run eval:moderation`) so lexicon edits that cost precision fail.
import { describe, expect, it } from 'vitest';
import { evaluateBuiltin, loadCorpus, precision, recall } from '../../../plugins/moderation/eval.ts';

const corpus = loadCorpus();

describe('builtin classifier evaluation', () => {
  it('the corpus has at least 30 positives per family and 200+ benign items', () => {
    const r = evaluateBuiltin(corpus);
    for (const f of r.families) expect(f.support, f.name).toBeGreaterThanOrEqual(30);
    expect(r.benign).toBeGreaterThanOrEqual(200);
    expect(new Set(corpus.map((i) => i.id)).size).toBe(corpus.length);
    expect(corpus.every((i) => i.split === 'dev' || i.split === 'test')).toBe(true);
  });

  it.each(['all', 'test'] as const)('precision per family is at least 90%, recall at least 85% (%s split)', (split) => {
    const r = evaluateBuiltin(split === 'all' ? corpus : corpus.filter((i) => i.split === split));
    for (const f of r.families) {
      expect(precision(f), `${f.name} precision`).toBeGreaterThanOrEqual(0.9);
      expect(recall(f), `${f.name} recall`).toBeGreaterThanOrEqual(0.85);
    }
  });

  it('flags at most 2% of the benign set', () => {
    const r = evaluateBuiltin(corpus);
    expect(r.benignFlagged.length / r.benign).toBeLessThanOrEqual(0.02);
  });
});
