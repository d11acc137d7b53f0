import { benchPhrases, benchPrompt } from '../bench/matcher.ts';
import { TextNormalizer, normalizeText } from '../plugins/topics/normalize.ts';
const prompt = benchPrompt();
const mods = (process.env.MODS ?? 'autoA,autoB').split(',');
const sizes = (process.env.SIZES ?? '10,100000').split(',').map(Number);
const share = Number(process.env.SHARE ?? 0.5);
const runs: { name: string; mod: string; n: number; run: () => void }[] = [];
const norm = new TextNormalizer();
let cnt = 0;
const nullSink = { onWord(_c: Uint16Array, _s: number, l: number, h: number) { cnt += l ^ h; } };
runs.push({ name: 'tokenize', mod: '-', n: 0, run: () => norm.tokenize(prompt, nullSink) });
for (const n of sizes) {
  const pats = [...new Set(benchPhrases(n, 42, share).map(normalizeText))].map((p) => p.split(' '));
  for (const m of mods) {
    const { WordAutomaton, WordScanner } = await import(`./${m}.ts`);
    const t0 = performance.now();
    const ac = new WordAutomaton(pats);
    const ms = performance.now() - t0;
    let hits = 0;
    const sc = new WordScanner(ac, { onMatch() { hits++; } });
    const nm = new TextNormalizer();
    runs.push({ name: `${m} ${n} (${ms.toFixed(0)}ms)`, mod: m, n, run: () => { sc.reset(); nm.tokenize(prompt, sc); } });
  }
}
for (const r of runs) for (let i = 0; i < 1500; i++) r.run();
const R = Number(process.env.ROUNDS ?? 31), per = 250;
const means = runs.map(() => [] as number[]);
for (let r = 0; r < R; r++) for (let k = 0; k < runs.length; k++) { const a = performance.now(); for (let i = 0; i < per; i++) runs[k]!.run(); means[k]!.push((performance.now() - a) * 1000 / per); }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
runs.forEach((r, k) => {
  const b = runs.findIndex((x) => x.mod === r.mod && x.n === sizes[0]);
  console.log(r.name.padEnd(28), med(means[k]!).toFixed(2).padStart(8), b >= 0 ? med(means[k]!.map((m, i) => m / means[b]![i]!)).toFixed(2) : '', ' -tok', med(means[k]!.map((m, i) => m - means[0]![i]!)).toFixed(2));
});
