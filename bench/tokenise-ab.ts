// Tokenise once, in one process: the topic scan (10,000 deny phrases, as in bench/rules-full) and the builtin
// moderation classifier on the benchmark prompt, this checkout against another (`--base DIR`, e.g. a `git archive`
// of the commit before), interleaved rounds; medians of µs per request and of the per-round ratio this ÷ base.
//   npx node bench/tokenise-ab.ts --base /tmp/base [--rounds 15] [--repeat 1]   (--repeat N: the prompt N times over)
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PROMPT } from './contenders.ts';

const { values: opts } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string', default: '15' }, repeat: { type: 'string', default: '1' } } });
if (!opts.base) throw new Error('usage: npx node bench/tokenise-ab.ts --base DIR [--rounds N]');
const HEAD = fileURLToPath(new URL('../', import.meta.url));
const BASE = opts.base.endsWith('/') ? opts.base : `${opts.base}/`;

/** A checkout's matcher, classifier, prompt view and normaliser (the normaliser lived in plugins/topics/ before src/text/). */
async function load(root: string) {
  const { existsSync } = await import('node:fs');
  return {
    matcher: await import(`${root}plugins/topics/matcher.ts`),
    builtin: await import(`${root}plugins/moderation/builtin.ts`),
    view: await import(`${root}src/sdk/prompt-view.ts`),
    norm: await import(existsSync(`${root}src/text/normalize.ts`) ? `${root}src/text/normalize.ts` : `${root}plugins/topics/normalize.ts`),
    tapes: existsSync(`${root}src/text/word-tape.ts`) ? (await import(`${root}src/text/word-tape.ts`)).promptTapes : undefined,
  };
}

const request = { model: 'm', messages: [{ role: 'system', content: 'You are a helpful customer-support assistant.' }, { role: 'user', content: Array.from({ length: Number(opts.repeat) }, () => PROMPT).join(' ') }] };
const phrase = (i: number): string => `zq${(i * 7919) % 100003} xv${i}`;

/** One request's topic scan and moderation on a checkout; `topicsOnly` leaves moderation out. */
async function workload(root: string, topicsOnly: boolean): Promise<() => void> {
  const m = await load(root);
  const entries = Array.from({ length: 10_000 }, (_, i) => ({ kind: 'deny', text: phrase(i), rule: 'r' }));
  const matcher = new m.matcher.TopicMatcher(entries, entries.map((e, i) => ({ entry: i, normalized: m.norm.normalizeText(e.text) })), []);
  const classifier = m.builtin.builtinClassifier();
  return () => {
    const v = m.view.readPrompt('chat', request);
    matcher.matchPrompt(v, 'user', 'latest', m.tapes);
    if (!topicsOnly) classifier.classifyPrompt(v, 'user', m.tapes);
  };
}

const fns: Record<string, () => void> = {
  'base: topics + moderation': await workload(BASE, false),
  'this: topics + moderation': await workload(HEAD, false),
  'base: topics only': await workload(BASE, true),
  'this: topics only': await workload(HEAD, true),
};
const time = (f: () => void, n: number): number => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t) / n / 1000;
};
for (const f of Object.values(fns)) time(f, 20_000);
const samples: Record<string, number[]> = {};
for (let r = 0; r < Number(opts.rounds); r++) {
  const order = r % 2 === 0 ? Object.entries(fns) : Object.entries(fns).reverse();
  for (const [k, f] of order) (samples[k] ??= []).push(time(f, 5_000));
}
const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [k, v] of Object.entries(samples)) console.log(`${k.padEnd(28)} ${median(v).toFixed(2)} µs`);
const ratio = (a: string, b: string): string => median(samples[a]!.map((x, i) => x / samples[b]![i]!)).toFixed(3);
console.log(`this ÷ base, topics + moderation: ${ratio('this: topics + moderation', 'base: topics + moderation')}`);
console.log(`this ÷ base, topics only:         ${ratio('this: topics only', 'base: topics only')}`);
