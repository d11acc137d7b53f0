// `npm run eval:moderation`: evaluates the builtin classifier on the labelled corpus (test/fixtures/moderation/corpus.jsonl):
// precision and recall per category and per family, false positives on the benign set, per split (dev/test) and source.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtinClassifier, type BuiltinClassifier } from './builtin.ts';
import { CATEGORIES, CATEGORY_INDEX, PARENT } from '../../src/sdk/taxonomy.ts';

/** One labelled corpus item. */
export interface CorpusItem {
  readonly id: string;
  readonly text: string;
  /** Taxonomy categories (children imply their parents when scoring). Empty for benign items. */
  readonly labels: readonly string[];
  readonly source: string;
  readonly split: 'dev' | 'test';
  /** Unsafe, but in no taxonomy category (privacy, discrimination on non-protected traits): neither benign nor a positive. */
  readonly unsafe_other?: boolean;
  /** Categories the source did not label (public set): neither a positive nor a negative for them. */
  readonly unknown?: readonly string[];
}

/** Precision/recall counts for one category or family. */
export interface Counts {
  readonly name: string;
  tp: number;
  fp: number;
  fn: number;
  /** Positives in the evaluated items. */
  support: number;
}

/** Everything one evaluation computes. */
export interface EvalResult {
  readonly items: number;
  readonly threshold: number;
  readonly categories: Counts[];
  readonly families: Counts[];
  readonly benign: number;
  /** Benign items flagged in any category. */
  readonly benignFlagged: { id: string; text: string; flagged: string[] }[];
  /** Positive items missed entirely (no flag in any of their families). */
  readonly missed: { id: string; text: string; labels: readonly string[] }[];
  /** Items flagged in a category they are not labelled with (benign included). */
  readonly wrong: { id: string; text: string; labels: readonly string[]; flagged: string[] }[];
}

/** The default corpus path. */
export const CORPUS_PATH = fileURLToPath(new URL('../../test/fixtures/moderation/corpus.jsonl', import.meta.url));

/** Reads a JSONL corpus. */
export function loadCorpus(path: string = CORPUS_PATH): CorpusItem[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as CorpusItem);
}

/** Labels plus their parents (`self-harm/intent` implies `self-harm`). */
function closure(labels: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const l of labels) {
    out.add(l);
    const p = PARENT[CATEGORY_INDEX.get(l)!]!;
    if (p >= 0) out.add(CATEGORIES[p]!);
  }
  return out;
}

const family = (c: string): string => c.split('/')[0]!;
const FAMILIES = [...new Set(CATEGORIES.map(family))];

/** Flags `items` with the builtin classifier at `threshold` (a category is flagged when its score is above it) and counts. */
export function evaluateBuiltin(items: readonly CorpusItem[], threshold = 0.5, classifier: BuiltinClassifier = builtinClassifier()): EvalResult {
  const cats = new Map<string, Counts>(CATEGORIES.map((c) => [c, { name: c, tp: 0, fp: 0, fn: 0, support: 0 }]));
  const fams = new Map<string, Counts>(FAMILIES.map((f) => [f, { name: f, tp: 0, fp: 0, fn: 0, support: 0 }]));
  const benignFlagged: EvalResult['benignFlagged'] = [];
  const missed: EvalResult['missed'] = [];
  const wrong: EvalResult['wrong'] = [];
  let benign = 0;
  for (const it of items) {
    const scores = classifier.classify([it.text]);
    const flagged = CATEGORIES.filter((c) => scores[c]! > threshold);
    const truth = closure(it.labels);
    const isBenign = it.labels.length === 0 && !it.unsafe_other;
    if (isBenign) benign++;
    if (isBenign && flagged.length > 0) benignFlagged.push({ id: it.id, text: it.text, flagged });
    for (const c of CATEGORIES) {
      const k = cats.get(c)!;
      const want = truth.has(c);
      const got = flagged.includes(c);
      if (want) k.support++;
      if (want && got) k.tp++;
      else if (got) k.fp++;
      else if (want) k.fn++;
    }
    const truthF = new Set([...truth].map(family));
    const gotF = new Set(flagged.map(family));
    for (const f of FAMILIES) {
      const k = fams.get(f)!;
      const want = truthF.has(f);
      const got = gotF.has(f);
      if (want) k.support++;
      if (want && got) k.tp++;
      else if (got) k.fp++;
      else if (want) k.fn++;
    }
    if (truthF.size > 0 && ![...truthF].some((f) => gotF.has(f))) missed.push({ id: it.id, text: it.text, labels: it.labels });
    if (flagged.some((c) => !truth.has(c))) wrong.push({ id: it.id, text: it.text, labels: it.labels, flagged });
  }
  return { items: items.length, threshold, categories: [...cats.values()], families: [...fams.values()], benign, benignFlagged, missed, wrong };
}

/** Precision, or NaN when nothing was flagged. */
export const precision = (k: Counts): number => (k.tp + k.fp === 0 ? NaN : k.tp / (k.tp + k.fp));
/** Recall, or NaN without positives. */
export const recall = (k: Counts): number => (k.support === 0 ? NaN : k.tp / k.support);

const pct = (x: number): string => (Number.isNaN(x) ? '   — ' : `${(x * 100).toFixed(1).padStart(5)}%`);

function table(title: string, rows: readonly Counts[]): string {
  const out = [`${title.padEnd(26)} support   tp   fp   fn  precision  recall`];
  for (const k of rows) {
    out.push(`${k.name.padEnd(26)} ${String(k.support).padStart(7)} ${String(k.tp).padStart(4)} ${String(k.fp).padStart(4)} ${String(k.fn).padStart(4)}     ${pct(precision(k))}  ${pct(recall(k))}`);
  }
  return out.join('\n');
}

/** Renders one evaluation as text. */
export function renderEval(name: string, r: EvalResult, opts: { errors?: boolean } = {}): string {
  const lines = [
    `== ${name}: ${r.items} items, threshold ${r.threshold} (flag when score > threshold) ==`,
    table('family', r.families),
    '',
    table('category', r.categories),
    '',
    `benign set: ${r.benign} items, ${r.benignFlagged.length} flagged (false-positive rate ${pct(r.benign ? r.benignFlagged.length / r.benign : NaN).trim()})`,
  ];
  for (const b of r.benignFlagged) lines.push(`  FP ${b.id}: ${JSON.stringify(b.text)} → ${b.flagged.join(', ')}`);
  if (opts.errors) {
    lines.push(`missed positives (${r.missed.length}):`);
    for (const m of r.missed) lines.push(`  FN ${m.id} [${m.labels.join(', ')}]: ${JSON.stringify(m.text)}`);
    lines.push(`flagged outside their labels (${r.wrong.length}):`);
    for (const w of r.wrong) lines.push(`  XX ${w.id} [${w.labels.join(', ')}] → ${w.flagged.join(', ')}: ${JSON.stringify(w.text)}`);
  }
  return lines.join('\n');
}

/** The public set: OpenAI's moderation evaluation samples and ToxiGen's demonstration sentences (SOURCES.md). */
export const PUBLIC_PATH = fileURLToPath(new URL('../../test/fixtures/moderation/public.jsonl', import.meta.url));

/**
 * The benign items built from public sources: OpenAI samples with all eight labels present and 0, ToxiGen's neutral
 * sentences, and XSTest's safe prompts (from the main corpus).
 */
export function publicBenign(pub: readonly CorpusItem[], corpus: readonly CorpusItem[]): CorpusItem[] {
  return [
    ...pub.filter((i) => i.labels.length === 0 && !i.unknown),
    ...corpus.filter((i) => i.source.startsWith('xstest') && i.labels.length === 0 && !i.unsafe_other),
  ];
}

/**
 * The blind benign set (issue 16 follow-up): 2,699 prompts from PHTest (harmless), CoCoNot's contrast set and
 * Self-Instruct's user-oriented tasks, sources the earlier tuning never saw (SOURCES.md). Its `dev` split was used to
 * tune the lexicon after the first measurement; its `test` split is held out.
 */
export const BLIND_PATH = fileURLToPath(new URL('../../test/fixtures/moderation/blind.jsonl', import.meta.url));

/** Flagged categories of one text at `threshold` (score above it). */
function flags(c: BuiltinClassifier, text: string, threshold: number): string[] {
  const s = c.classify([text]);
  return CATEGORIES.filter((k) => s[k]! > threshold);
}

/** Per-category counts over items whose label for the category is known (public set: unknown labels are skipped). */
export function countKnown(items: readonly CorpusItem[], flagged: (it: CorpusItem) => readonly string[], cats: readonly string[]): Counts[] {
  const out = cats.map((name) => ({ name, tp: 0, fp: 0, fn: 0, support: 0 }));
  for (const it of items) {
    const got = new Set(flagged(it));
    const truth = closure(it.labels);
    const unknown = new Set(it.unknown ?? []);
    out.forEach((k) => {
      if (unknown.has(k.name) && !truth.has(k.name)) return;
      const want = truth.has(k.name);
      const g = got.has(k.name);
      if (want) k.support++;
      if (want && g) k.tp++;
      else if (g) k.fp++;
      else if (want) k.fn++;
    });
  }
  return out;
}

/** One cascade run: the share of items sent to the remote provider, and per-category counts against the remote's labels. */
export interface CascadeResult {
  readonly band: readonly [number, number];
  readonly items: number;
  readonly remote: number;
  readonly counts: Counts[];
}

/**
 * Simulates `provider builtin then <remote> { band LOW HIGH }` on labelled items with a fake remote whose answer is
 * the item's labels (score 1 for each labelled category and its parent, 0 otherwise): an item the builtin scores
 * (highest category) inside the band takes the remote's answer, any other the builtin's flags at `threshold`.
 * The counts compare the cascade with the remote alone (which, being the labels, flags exactly the positives).
 */
export function evaluateCascade(items: readonly CorpusItem[], band: readonly [number, number], threshold = 0.5, c: BuiltinClassifier = builtinClassifier()): CascadeResult {
  let remote = 0;
  const decided = new Map<CorpusItem, readonly string[]>();
  for (const it of items) {
    const s = c.classify([it.text]);
    let top = 0;
    for (const k of CATEGORIES) if (s[k]! > top) top = s[k]!;
    if (top >= band[0] && top <= band[1]) { remote++; decided.set(it, [...closure(it.labels)]); }
    else decided.set(it, CATEGORIES.filter((k) => s[k]! > threshold));
  }
  return { band, items: items.length, remote, counts: countKnown(items, (it) => decided.get(it)!, CATEGORIES) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      split: { type: 'string', default: 'all' },
      threshold: { type: 'string', default: '0.5' },
      errors: { type: 'boolean', default: false },
      corpus: { type: 'string' },
    },
  });
  const all = loadCorpus(values.corpus ?? CORPUS_PATH);
  const threshold = Number(values.threshold);
  const c = builtinClassifier();
  process.stdout.write(`builtin classifier: ${c.lexicon.files.length} lexicon files, ${c.lexicon.rules.length} rules, ${c.phraseCount} phrases\n\n`);
  const splits = values.split === 'all' ? ['all', 'dev', 'test'] : [values.split!];
  for (const s of splits) {
    const items = s === 'all' ? all : all.filter((i) => i.split === s);
    process.stdout.write(renderEval(`split ${s}`, evaluateBuiltin(items, threshold, c), { errors: values.errors }) + '\n\n');
  }
  // ---- the public set (issue 16): benign false positives, per-category precision/recall, the cascade
  const pub = loadCorpus(PUBLIC_PATH);
  const benign = publicBenign(pub, all);
  const rate = (xs: readonly CorpusItem[]): string => {
    const f = xs.filter((i) => flags(c, i.text, threshold).length > 0).length;
    return `${f} of ${xs.length} flagged (${pct(xs.length ? f / xs.length : NaN).trim()})`;
  };
  process.stdout.write(`== public set: ${pub.length} items (OpenAI moderation evaluation samples 1,680 + ToxiGen demonstrations 587; SOURCES.md) ==\n`);
  process.stdout.write(`benign prompts from public sources (OpenAI samples labelled 0 in all 8 categories, ToxiGen neutral, XSTest safe): ${rate(benign)}\n`);
  for (const sp of ['dev', 'test'] as const) process.stdout.write(`  ${sp} split: ${rate(benign.filter((i) => i.split === sp))}\n`);
  for (const src of ['openai-moderation', 'toxigen', 'xstest']) process.stdout.write(`  ${src}: ${rate(benign.filter((i) => i.source.startsWith(src)))}\n`);
  const loose = pub.filter((i) => i.source.startsWith('openai') && i.labels.length === 0);
  process.stdout.write(`OpenAI samples with no positive label (some labels unknown; the figure issue 16 quotes): ${rate(loose)}\n\n`);
  const oaiCats = ['sexual', 'sexual/minors', 'hate', 'hate/threatening', 'violence', 'violence/graphic', 'harassment', 'self-harm'];
  process.stdout.write(table('category (OpenAI labels)', countKnown(pub.filter((i) => i.source.startsWith('openai')), (it) => flags(c, it.text, threshold), oaiCats)) + '\n');
  process.stdout.write(table('hate (ToxiGen sentences)', countKnown(pub.filter((i) => i.source.startsWith('toxigen')), (it) => flags(c, it.text, threshold), ['hate'])) + '\n');
  process.stdout.write('Recall is low, plainly: a lexicon classifier finds what its phrases and rules name and little else (implicit hate,\n'
    + 'long narratives, other languages); use it as a cheap first stage in a cascade with a model-based provider.\n\n');
  // ---- the blind benign set (issue 16 follow-up)
  const blind = loadCorpus(BLIND_PATH);
  process.stdout.write(`== blind benign set: ${blind.length} prompts (PHTest harmless, CoCoNot contrast, Self-Instruct user-oriented; SOURCES.md) ==\n`);
  process.stdout.write('first measurement, before any change it prompted (lexicon of 45a86b1): 36 of 2,699 flagged (1.33%); dev 14 of 1,328, test 22 of 1,371\n');
  process.stdout.write(`now: ${rate(blind)}\n`);
  process.stdout.write(`  dev split (used for tuning after the first measurement): ${rate(blind.filter((i) => i.split === 'dev'))}\n`);
  process.stdout.write(`  test split (held out: its prompts were never looked at): ${rate(blind.filter((i) => i.split === 'test'))}\n`);
  for (const src of ['phtest', 'coconot-contrast', 'self-instruct']) process.stdout.write(`  ${src}: ${rate(blind.filter((i) => i.source.startsWith(src)))}\n`);
  process.stdout.write('\n');
  const cascadeItems = [...pub, ...all.filter((i) => !i.unsafe_other)];
  process.stdout.write(`== cascade (provider builtin then <remote>), fake remote answering each item's labels, ${cascadeItems.length} items (public set + corpus) ==\n`);
  process.stdout.write('band         sent to remote   precision  recall   (per category, pooled, against the remote alone: 100% sent, precision = recall = 100%)\n');
  for (const band of [[0.1, 0.9], [0.05, 0.95], [0.2, 0.8], [0.01, 1]] as const) {
    const r = evaluateCascade(cascadeItems, band, threshold, c);
    const tp = r.counts.reduce((a, k) => a + k.tp, 0);
    const fp = r.counts.reduce((a, k) => a + k.fp, 0);
    const fn = r.counts.reduce((a, k) => a + k.fn, 0);
    process.stdout.write(`${`${band[0]}–${band[1]}`.padEnd(12)} ${`${r.remote} (${pct(r.remote / r.items).trim()})`.padStart(15)}   ${pct(tp / (tp + fp)).padStart(8)}  ${pct(tp / (tp + fn)).padStart(6)}\n`);
  }
  process.stdout.write('\n');
  if (values.split === 'all') {
    for (const src of ['xstest', 'own']) {
      const items = all.filter((i) => i.source.startsWith(src));
      const r = evaluateBuiltin(items, threshold, c);
      process.stdout.write(`-- source ${src}: ${items.length} items --\n${table('family', r.families)}\nbenign ${r.benign}, flagged ${r.benignFlagged.length}\n\n`);
    }
  }
}
