// Precision/recall of the built-in detectors on the labelled corpus in test/fixtures/redaction/ (public recognizer
// test vectors, hand-adapted; see SOURCES.md there). `npm run eval:redaction` prints one row per detector type.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUILTIN_DETECTORS, DETECTOR_GROUPS } from './detectors.ts';
import { RedactionEngine } from './engine.ts';

/** One labelled text: every sensitive value in it, by detector type, in order of appearance. */
export interface CorpusCase {
  readonly source: string;
  readonly text: string;
  readonly labels: readonly { readonly type: string; readonly value: string }[];
  /** Where our labels deviate from the source's expectation: the source's labels, and why we differ. */
  readonly sourceLabels?: readonly { readonly type: string; readonly value: string }[];
  readonly deviation?: string;
}

/** Scores of one detector type (exact span and type match). */
export interface TypeScore {
  readonly type: string;
  readonly labelled: number;
  readonly predicted: number;
  readonly tp: number;
  readonly precision: number;
  readonly recall: number;
}

/** A span that was missed or wrongly redacted, for the report. */
export interface EvalError {
  readonly kind: 'missed' | 'spurious';
  readonly type: string;
  readonly value: string;
  readonly text: string;
  readonly source: string;
}

/**
 * The corpora shipped with the repository: `corpus` (the first set, public recognizer tests the detectors were
 * written against) and `grown` (issue 16: libphonenumber, python-email-validator, gitleaks, detect-secrets, Presidio
 * and Stripe values in the forms the first set missed). Sources in test/fixtures/redaction/SOURCES.md.
 */
export const CORPORA = Object.freeze(['corpus', 'grown'] as const);

/** One shipped corpus (default: the first set). */
export function loadCorpus(name: (typeof CORPORA)[number] = 'corpus'): CorpusCase[] {
  const path = fileURLToPath(new URL(`../../test/fixtures/redaction/${name}.json`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as CorpusCase[];
}

function labelSpans(c: CorpusCase, which: 'ours' | 'source'): { start: number; end: number; type: string }[] {
  const cursor = new Map<string, number>();
  const labels = which === 'source' && c.sourceLabels ? c.sourceLabels : c.labels;
  return labels.map((l) => {
    const from = cursor.get(l.value) ?? 0;
    const start = c.text.indexOf(l.value, from);
    if (start < 0) throw new Error(`label ${JSON.stringify(l.value)} not found in ${JSON.stringify(c.text)}`);
    cursor.set(l.value, start + 1);
    return { start, end: start + l.value.length, type: l.type };
  });
}

/**
 * Runs every built-in detector over the corpus and scores each type: a prediction counts as correct only when its
 * span and type equal a label's. Also scores the `api_key` group (any of its members) and the whole set.
 */
export function evaluateCorpus(corpus: readonly CorpusCase[] = loadCorpus(), which: 'ours' | 'source' = 'ours'): { scores: TypeScore[]; errors: EvalError[] } {
  const engine = new RedactionEngine(BUILTIN_DETECTORS, { kind: 'label' });
  const counts = new Map<string, { labelled: number; predicted: number; tp: number }>();
  const bump = (type: string, k: 'labelled' | 'predicted' | 'tp') => {
    let c = counts.get(type);
    if (!c) counts.set(type, (c = { labelled: 0, predicted: 0, tp: 0 }));
    c[k]++;
  };
  const groupOf = (t: string) => (DETECTOR_GROUPS.api_key!.includes(t) ? 'api_key' : undefined);
  const errors: EvalError[] = [];
  for (const c of corpus) {
    const want = labelSpans(c, which);
    const got = engine.spans(c.text);
    const key = (s: { start: number; end: number; type: string }) => `${s.start}:${s.end}:${s.type}`;
    const wantKeys = new Set(want.map(key));
    const gotKeys = new Set(got.map(key));
    for (const w of want) {
      for (const t of [w.type, groupOf(w.type), '(all)']) if (t) bump(t, 'labelled');
      if (!gotKeys.has(key(w))) errors.push({ kind: 'missed', type: w.type, value: c.text.slice(w.start, w.end), text: c.text, source: c.source });
    }
    for (const g of got) {
      const hit = wantKeys.has(key(g));
      for (const t of [g.type, groupOf(g.type), '(all)']) {
        if (!t) continue;
        bump(t, 'predicted');
        if (hit) bump(t, 'tp');
      }
      if (!hit) errors.push({ kind: 'spurious', type: g.type, value: c.text.slice(g.start, g.end), text: c.text, source: c.source });
    }
  }
  const order = [...BUILTIN_DETECTORS.map((d) => d.name), 'api_key', '(all)'];
  const scores = order.filter((t) => counts.has(t)).map((type) => {
    const c = counts.get(type)!;
    return { type, ...c, precision: c.predicted === 0 ? 1 : c.tp / c.predicted, recall: c.labelled === 0 ? 1 : c.tp / c.labelled };
  });
  return { scores, errors };
}

/** The report `npm run eval:redaction` prints. */
export function formatReport(r: ReturnType<typeof evaluateCorpus>, corpusSize: number): string {
  const lines = [`redaction corpus: ${corpusSize} texts, exact span + type matching, all built-in detectors on`, ''];
  lines.push(`${'type'.padEnd(16)}${'labelled'.padStart(9)}${'predicted'.padStart(10)}${'correct'.padStart(9)}${'precision'.padStart(11)}${'recall'.padStart(8)}`);
  for (const s of r.scores) {
    lines.push(`${s.type.padEnd(16)}${String(s.labelled).padStart(9)}${String(s.predicted).padStart(10)}${String(s.tp).padStart(9)}${s.precision.toFixed(3).padStart(11)}${s.recall.toFixed(3).padStart(8)}`);
  }
  if (r.errors.length) {
    lines.push('', 'errors:');
    for (const e of r.errors) lines.push(`  ${e.kind} ${e.type} ${JSON.stringify(e.value)} in ${JSON.stringify(e.text.slice(0, 80))} (${e.source})`);
  }
  return lines.join('\n');
}

/** Sources of a corpus with their number of texts (`libphonenumber: 98`), for the report. */
function sourceCounts(corpus: readonly CorpusCase[]): string {
  const counts = new Map<string, number>();
  for (const c of corpus) {
    const k = c.source.split(/[: (]/)[0]!;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const name of CORPORA) {
    const corpus = loadCorpus(name);
    const r = evaluateCorpus(corpus);
    console.log(`==== ${name}.json — sources: ${sourceCounts(corpus)}`);
    console.log(formatReport(r, corpus.length));
    const dev = corpus.filter((c) => c.deviation);
    const src = evaluateCorpus(corpus, 'source');
    console.log(`\nfor comparison, scored with the sources' own expectations on the ${dev.length} cases where our labels deviate`);
    console.log('(reasons in test/fixtures/redaction/SOURCES.md; these rows are informational, not thresholds):\n');
    console.log(formatReport({ scores: src.scores, errors: [] }, corpus.length).split('\n').slice(2).join('\n'));
    const floor = name === 'corpus' ? 0.95 : 0.9;
    const low = r.scores.filter((s) => s.precision < floor || s.recall < floor);
    if (low.length) {
      console.log(`\nbelow ${floor}: ${low.map((s) => s.type).join(', ')}`);
      process.exitCode = 1;
    }
    console.log('');
  }
}
