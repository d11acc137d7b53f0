// Precision floor of the builtin classifier on the labelled corpus (test/fixtures/moderation/corpus.jsonl; sources in
// SOURCES.md). Floors sit below the measured values (see `npm run eval:moderation`) so lexicon edits that cost precision fail.
import { describe, expect, it } from 'vitest';
import { BLIND_PATH, countKnown, evaluateBuiltin, evaluateCascade, loadCorpus, precision, publicBenign, PUBLIC_PATH, recall } from '../../../plugins/moderation/corpus-eval.ts';
import { builtinClassifier } from '../../../plugins/moderation/builtin.ts';

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

describe('public evaluation set (issue 16)', () => {
  const pub = loadCorpus(PUBLIC_PATH);
  const benign = publicBenign(pub, corpus);

  it('has the OpenAI moderation samples and ToxiGen demonstrations, 800+ benign prompts from public sources', () => {
    expect(pub.filter((i) => i.source.startsWith('openai-moderation'))).toHaveLength(1680);
    expect(pub.filter((i) => i.source.startsWith('toxigen')).length).toBeGreaterThan(500);
    expect(benign.length).toBeGreaterThan(800);
  });

  it('flags at most 1% of the benign prompts from public sources', () => {
    const flagged = benign.filter((i) => {
      const s = builtinClassifier().classify([i.text]);
      return Object.values(s).some((v) => v > 0.5);
    });
    expect(flagged.length / benign.length, flagged.map((i) => i.id).join(' ')).toBeLessThanOrEqual(0.01);
  });

  it('per-category precision on the OpenAI labels stays at or above the values before issue 16', () => {
    // before: sexual 82.9 %, hate 90.9 %, violence 38.5 %, harassment 55.2 %, self-harm 41.7 %, hate/threatening 66.7 %
    const before: Record<string, number> = { sexual: 0.829, hate: 0.909, violence: 0.385, harassment: 0.552, 'self-harm': 0.417, 'hate/threatening': 0.667 };
    const c = builtinClassifier();
    const counts = countKnown(pub.filter((i) => i.source.startsWith('openai')), (it) => {
      const s = c.classify([it.text]);
      return Object.keys(s).filter((k) => s[k]! > 0.5);
    }, Object.keys(before));
    for (const k of counts) expect(precision(k), k.name).toBeGreaterThanOrEqual(before[k.name]!);
  });

  it('the cascade sends only the band to the remote and is exact where the remote decides', () => {
    const items = pub.slice(0, 400);
    const all = evaluateCascade(items, [0, 1]);
    expect(all.remote).toBe(items.length); // band 0–1: the remote alone
    for (const k of all.counts) expect(k.fp + k.fn, k.name).toBe(0);
    const some = evaluateCascade(items, [0.1, 0.9]);
    expect(some.remote).toBeGreaterThan(0);
    expect(some.remote).toBeLessThan(items.length / 2);
  });
});

describe('blind benign set (issue 16 follow-up: test/fixtures/moderation/blind.jsonl)', () => {
  const blind = loadCorpus(BLIND_PATH);
  const c = builtinClassifier();
  const isFlagged = (text: string): boolean => Object.values(c.classify([text])).some((v) => v > 0.5);
  const rate = (items: typeof blind): number => items.filter((i) => isFlagged(i.text)).length / items.length;

  it('holds 2,699 benign prompts from three public sources, none already in the other moderation sets', () => {
    expect(blind).toHaveLength(2699);
    expect(new Set(blind.map((i) => i.id)).size).toBe(blind.length);
    const count = (p: string): number => blind.filter((i) => i.source.startsWith(p)).length;
    expect([count('phtest:'), count('coconot-contrast:'), count('self-instruct:')]).toEqual([2068, 379, 252]);
    expect(blind.every((i) => i.labels.length === 0 && (i.split === 'dev' || i.split === 'test'))).toBe(true);
    const key = (t: string): string => t.trim().toLowerCase().replace(/\s+/g, ' ');
    const seen = new Set([...corpus, ...loadCorpus(PUBLIC_PATH)].map((i) => key(i.text)));
    expect(blind.filter((i) => seen.has(key(i.text))).map((i) => i.id)).toEqual([]);
  });

  it('flags at most 1% of the whole set (1.33% at the first measurement)', () => {
    expect(rate(blind)).toBeLessThanOrEqual(0.01);
  });

  it('flags at most 1.25% of the held-out test split (1.60% at the first measurement, 1.24% after the dev-split fixes)', () => {
    expect(rate(blind.filter((i) => i.split === 'test'))).toBeLessThanOrEqual(0.0125);
  });
});
