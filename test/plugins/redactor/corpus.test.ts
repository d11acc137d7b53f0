// The labelled corpus (test/fixtures/redaction/corpus.json, public recognizer test vectors hand-adapted; sources in
// SOURCES.md): every built-in detector type must reach precision and recall of at least 0.95 on it.
import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS } from '../../../plugins/redactor/detectors.ts';
import { evaluateCorpus, loadCorpus } from '../../../plugins/redactor/eval.ts';

describe('redaction corpus', () => {
  const corpus = loadCorpus();
  const { scores, errors } = evaluateCorpus(corpus);

  it('covers every built-in detector type with labelled values', () => {
    for (const d of BUILTIN_DETECTORS) expect(scores.find((s) => s.type === d.name)?.labelled ?? 0).toBeGreaterThanOrEqual(5);
  });

  it.each(BUILTIN_DETECTORS.map((d) => ({ type: d.name })))('$type: precision and recall ≥ 0.95', ({ type }) => {
    const s = scores.find((x) => x.type === type)!;
    expect(s.precision, JSON.stringify(errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.95);
    expect(s.recall, JSON.stringify(errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.95);
  });

  it('every deviation from a source expectation is explained', () => {
    for (const c of corpus) if (c.sourceLabels) expect((c.deviation ?? '').length, c.text).toBeGreaterThan(20);
  });

  it('the eval catches a wrong label (scoring is not vacuous)', () => {
    const tampered = [{ source: 'test', text: 'mail a@example.com', labels: [{ type: 'phone', value: 'a@example.com' }] }];
    const r = evaluateCorpus(tampered);
    expect(r.scores.find((s) => s.type === 'email')!.precision).toBe(0);
    expect(r.scores.find((s) => s.type === 'phone')!.recall).toBe(0);
  });
});
