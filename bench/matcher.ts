// Topic matcher benchmark: cost per request (normalise + Aho–Corasick scan + hit collection) of a 4 KB prompt against
// 10 … 100,000 deny phrases, compiled through the real `topics` block compiler. `npx node bench/matcher.ts`, or via `npm run bench`.
import { fileURLToPath } from 'node:url';
import { parsePolicy } from '../grammar/index.ts';
import { compileTopics } from '../plugins/topics/block.ts';
import { builtinClassifier } from '../plugins/moderation/builtin.ts';

/** One row of the result table. */
export interface MatcherRow {
  phrases: number;
  states: number;
  vocabulary: number;
  build_ms: number;
  /** Size of the automaton's packed tables (MB). */
  table_mb: number;
  /** Median µs per request over the samples. */
  us_per_request: number;
  /** 90th percentile of the per-sample means. */
  us_p90: number;
  /** Median over rounds of (this size's sample mean / the 10-phrase sample mean of the same round). */
  ratio_vs_10: number;
  hits: number;
}

/** Phrase counts measured. */
export const PHRASE_COUNTS: readonly number[] = [10, 1_000, 10_000, 100_000];

/** A deterministic PRNG (mulberry32) so every run measures the same phrases. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PARAGRAPHS = [
  'Hi, I ordered a pair of running shoes last week and the package still has not arrived. The tracking page says it left the',
  'warehouse on Monday, but nothing has changed since then. Could you check the shipping status and tell me when I can expect',
  'delivery? If the parcel is lost, I would like a replacement or a refund to my original payment method. I also noticed that',
  'I was charged twice for the same order, once on the 3rd and again on the 5th, so please look into the billing as well. My',
  'account is registered under my work email address and the order number is in the confirmation message you sent me. In',
  'addition, the discount code from your newsletter did not apply at checkout even though it was still valid, and the total',
  'was higher than the price shown on the product page. I have been a customer for several years and have always been happy',
  'with the service, so I hope we can sort this out quickly. Please let me know what information you need from me, whether I',
  'should return anything, and how long a refund usually takes to show up on a credit card statement. Thanks for your help!',
];

/**
 * A 4,096-character customer-support prompt (English prose with numbers and punctuation), as a flat string: the
 * gateway's message strings come out of JSON.parse (sequential strings), whereas `slice` of the built-up text
 * returns a sliced string whose every character read goes through an indirection no request has (it inflated the
 * cost shared by every phrase count, and so flattered the ratios).
 */
export function benchPrompt(): string {
  let text = '';
  for (let i = 0; text.length < 4096; i++) text += PARAGRAPHS[i % PARAGRAPHS.length] + ' ';
  return JSON.parse(JSON.stringify(text.slice(0, 4096))) as string;
}

/**
 * `n` distinct 1–3-word phrases. Each word is, with probability `promptShare`, one of the prompt's ~150 distinct
 * words (so scans walk into the automaton and fall back through failure links, as deny lists of ordinary words
 * make them do), else one of max(3,000, n/2) synthetic words (large lists have large vocabularies).
 * About 1 in 2,000 phrases is a phrase of the prompt, so large lists also report hits.
 * `promptShare` 0.1 is the realistic workload; 0.5 is adversarial: at 100,000 phrases nearly every bigram of the
 * prompt is then a phrase prefix, so almost every word of the prompt follows an automaton edge.
 */
export function benchPhrases(n: number, seed = 42, promptShare = 0.5): string[] {
  const r = rng(seed);
  const promptWords = [...new Set(benchPrompt().toLowerCase().match(/[a-z]+/g) ?? [])];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const synthetic: string[] = [];
  // the vocabulary grows with the list (3,000 words for small lists, n/2 for large ones), as real lists' vocabularies do
  for (let i = 0; i < Math.max(3000, n / 2); i++) {
    let w = '';
    const len = 3 + Math.floor(r() * 8);
    for (let k = 0; k < len; k++) w += letters[Math.floor(r() * 26)];
    synthetic.push(w);
  }
  const word = (): string => (r() < promptShare ? promptWords[Math.floor(r() * promptWords.length)]! : synthetic[Math.floor(r() * synthetic.length)]!);
  const out = new Set<string>();
  const promptTokens = benchPrompt().toLowerCase().match(/[a-z]+/g) ?? [];
  while (out.size < n) {
    if (r() < 0.0005) {
      const at = Math.floor(r() * (promptTokens.length - 2));
      out.add(promptTokens.slice(at, at + 2).join(' '));
      continue;
    }
    const k = 1 + Math.floor(r() * 3);
    const ws: string[] = [];
    for (let i = 0; i < k; i++) ws.push(word());
    const p = ws.join(' ');
    if (k === 1 && promptWords.includes(p)) continue; // single prompt words would make every list match everything
    out.add(p);
  }
  return [...out];
}

/** Compiles a `topics { deny list "phrases.txt" }` block whose list holds `phrases`, through the real compiler. */
export function compileDenyList(phrases: readonly string[]) {
  const { ast, diagnostics } = parsePolicy('policy "bench" {\n  topics { deny list "phrases.txt" }\n}\n', 'bench.policy');
  if (diagnostics.length > 0) throw new Error('bench policy does not parse');
  const errors: string[] = [];
  const config = compileTopics(ast.policies[0]!.blocks, {
    policyId: 'bench',
    report: (d) => { if (d.severity === 'error') errors.push(d.message); },
    readText: () => phrases.join('\n'),
  });
  if (!config || errors.length > 0) throw new Error(`bench topics block failed to compile: ${errors.join('; ')}`);
  return config;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The two workloads: the share of phrase words drawn from the prompt's vocabulary. */
export const WORKLOADS = Object.freeze({ realistic: 0.1, adversarial: 0.5 });

/**
 * Measures the matcher cost per request for each phrase count and workload. All matchers are built first, then
 * sampled round-robin (one sample of `perSample` matches per configuration per round) so load from other processes
 * hits every configuration alike; reports the median and p90 of the per-sample means (µs) and, per size, the median
 * of the per-round ratios to the 10-phrase matcher of the same workload.
 */
export function benchMatcher(opts: { quick?: boolean } = {}): {
  realistic: MatcherRow[]; adversarial: MatcherRow[]; moderation: Record<string, number>; targets: Record<string, string>;
} {
  const quick = opts.quick === true;
  const rounds = quick ? 15 : 41;
  const perSample = quick ? 100 : 250;
  const prompt = benchPrompt();
  const built = (Object.entries(WORKLOADS) as [keyof typeof WORKLOADS, number][]).flatMap(([workload, share]) => PHRASE_COUNTS.map((n) => {
    const phrases = benchPhrases(n, 42, share);
    const t0 = performance.now();
    const config = compileDenyList(phrases);
    return { workload, n, config, buildMs: performance.now() - t0 };
  }));
  const c = builtinClassifier();
  const runners: (() => unknown)[] = [...built.map((b) => () => b.config.matcher.matchText(prompt)), () => c.classify([prompt])];
  for (const run of runners) for (let i = 0; i < perSample * 5; i++) run(); // warm-up (JIT)
  const means: number[][] = runners.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < runners.length; k++) {
      const run = runners[k]!;
      const a = performance.now();
      for (let i = 0; i < perSample; i++) run();
      means[k]!.push(((performance.now() - a) * 1000) / perSample);
    }
  }
  const sorted = means.map((m) => [...m].sort((x, y) => x - y));
  const rowsOf = (workload: keyof typeof WORKLOADS): MatcherRow[] => {
    const base = built.findIndex((b) => b.workload === workload && b.n === PHRASE_COUNTS[0]);
    return built.flatMap((b, k) => b.workload !== workload ? [] : [{
      phrases: b.n,
      states: b.config.matcher.automaton?.stateCount ?? 0,
      vocabulary: b.config.matcher.automaton?.vocabularySize ?? 0,
      build_ms: Math.round(b.buildMs),
      table_mb: Number(((b.config.matcher.automaton?.tableBytes ?? 0) / 2 ** 20).toFixed(1)),
      us_per_request: Number(percentile(sorted[k]!, 0.5).toFixed(2)),
      us_p90: Number(percentile(sorted[k]!, 0.9).toFixed(2)),
      ratio_vs_10: Number(percentile(means[k]!.map((m, r) => m / means[base]![r]!).sort((x, y) => x - y), 0.5).toFixed(2)),
      hits: b.config.matcher.matchText(prompt).deny.length,
    }]);
  };
  const realistic = rowsOf('realistic');
  const adversarial = rowsOf('adversarial');
  const mod = sorted[runners.length - 1]!;
  const targets: Record<string, string> = {};
  for (const [name, rows] of [['realistic', realistic], ['adversarial', adversarial]] as const) {
    const at = (n: number): MatcherRow => rows.find((r) => r.phrases === n)!;
    const ratio = at(100_000).ratio_vs_10;
    const cost = at(10_000).us_per_request;
    targets[`${name}: flat, 100,000 vs 10 phrases`] = `${ratio.toFixed(2)}× (median of per-round ratios; target ≤ 2×) ${ratio <= 2 ? 'PASS' : 'FAIL'}`;
    targets[`${name}: cost at 10,000 phrases`] = `${cost.toFixed(2)} µs (median; target < 50 µs) ${cost < 50 ? 'PASS' : 'FAIL'}`;
  }
  return {
    realistic,
    adversarial,
    moderation: {
      lexicon_phrases: c.phraseCount,
      rules: c.lexicon.rules.length,
      us_per_request: Number(percentile(mod, 0.5).toFixed(2)),
      us_p90: Number(percentile(mod, 0.9).toFixed(2)),
    },
    targets,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { realistic, adversarial, targets, moderation } = benchMatcher({ quick: process.argv.includes('--quick') });
  console.log(`topic matcher, ${benchPrompt().length}-character prompt, node ${process.version}, µs per request (normalise + scan + hits)`);
  console.log(`realistic workload (${WORKLOADS.realistic * 100}% of phrase words from the prompt's vocabulary):`);
  console.table(realistic);
  console.log(`adversarial workload (${WORKLOADS.adversarial * 100}%: nearly every prompt bigram is a phrase prefix at 100,000):`);
  console.table(adversarial);
  console.log('builtin moderation classifier, same prompt:', moderation);
  for (const [k, v] of Object.entries(targets)) console.log(`${k}: ${v}`);
}
