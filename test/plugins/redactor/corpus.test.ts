// The labelled corpora (test/fixtures/redaction/corpus.json and grown.json: public recognizer and secret-scanner test
// vectors, hand-adapted; sources in SOURCES.md): floors per detector type, and streaming equal to whole-text
// redaction for every corpus line, cut at every position.
import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS } from '../../../plugins/redactor/detectors.ts';
import { CORPORA, evaluateCorpus, loadCorpus } from '../../../plugins/redactor/corpus-eval.ts';
import { engineFor, oneShot, streamed } from './helpers.ts';

describe('redaction corpora', () => {
  const first = loadCorpus('corpus');
  const grown = loadCorpus('grown');
  const a = evaluateCorpus(first);
  const b = evaluateCorpus(grown);

  it('covers every built-in detector type with labelled values', () => {
    for (const d of BUILTIN_DETECTORS) {
      const n = (a.scores.find((s) => s.type === d.name)?.labelled ?? 0) + (b.scores.find((s) => s.type === d.name)?.labelled ?? 0);
      expect(n, d.name).toBeGreaterThanOrEqual(4);
    }
  });

  it.each(a.scores.filter((s) => s.labelled > 0).map((s) => ({ type: s.type })))('corpus.json, $type: precision and recall ≥ 0.95', ({ type }) => {
    const s = a.scores.find((x) => x.type === type)!;
    expect(s.precision, JSON.stringify(a.errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.95);
    expect(s.recall, JSON.stringify(a.errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.95);
  });

  it.each(b.scores.map((s) => ({ type: s.type })))('grown.json, $type: precision ≥ 0.95, recall ≥ 0.7', ({ type }) => {
    const s = b.scores.find((x) => x.type === type)!;
    expect(s.precision, JSON.stringify(b.errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.95);
    expect(s.recall, JSON.stringify(b.errors.filter((e) => e.type === type))).toBeGreaterThanOrEqual(0.7);
  });

  it('grown.json overall: precision ≥ 0.99 and recall ≥ 0.95', () => {
    const all = b.scores.find((s) => s.type === '(all)')!;
    expect(all.precision).toBeGreaterThanOrEqual(0.99);
    expect(all.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('every deviation from a source expectation is explained', () => {
    for (const c of [...first, ...grown]) if (c.sourceLabels) expect((c.deviation ?? '').length, c.text).toBeGreaterThan(20);
  });

  it('the eval catches a wrong label (scoring is not vacuous)', () => {
    const tampered = [{ source: 'test', text: 'mail a@example.com', labels: [{ type: 'phone', value: 'a@example.com' }] }];
    const r = evaluateCorpus(tampered);
    expect(r.scores.find((s) => s.type === 'email')!.precision).toBe(0);
    expect(r.scores.find((s) => s.type === 'phone')!.recall).toBe(0);
  });
});

describe('streaming equals whole-text redaction on every corpus line', () => {
  const engine = engineFor();
  for (const name of CORPORA) {
    it(`${name}.json: every single cut position, and one character at a time`, () => {
      for (const c of loadCorpus(name)) {
        const want = oneShot(engine, c.text);
        for (let k = 1; k < c.text.length; k++) expect(streamed(engine, c.text, [k]), `${c.text} cut at ${k}`).toBe(want);
        const every = Array.from({ length: Math.max(0, c.text.length - 1) }, (_, i) => i + 1);
        expect(streamed(engine, c.text, every), c.text).toBe(want);
      }
    });
  }
});
