import { benchPhrases, benchPrompt, compileDenyList } from '../bench/matcher.ts';
import { WordAutomaton, WordScanner } from '../plugins/topics/automaton.ts';
import { TextNormalizer, normalizeText } from '../plugins/topics/normalize.ts';
const prompt = benchPrompt();
const n = Number(process.env.N ?? 100000), share = Number(process.env.SHARE ?? 0.5);
const phrases = benchPhrases(n, 42, share);
const pats = [...new Set(phrases.map(normalizeText))];
const ac = new WordAutomaton(pats.map((p) => p.split(' ')));
let hits = 0;
const sc = new WordScanner(ac, { onMatch() { hits++; } });
const norm = new TextNormalizer();
let cnt = 0;
const nullSink = { onWord(_c: Uint16Array, _s: number, l: number, h: number) { cnt += l ^ h; } };
const cfg = compileDenyList(phrases);
const runs: [string, () => void][] = [
  ['tokenize', () => norm.tokenize(prompt, nullSink)],
  ['tokenize+scan', () => { sc.reset(); norm.tokenize(prompt, sc); }],
  ['matchText', () => { cfg.matcher.matchText(prompt); }],
];
for (const [, f] of runs) for (let i = 0; i < 3000; i++) f();
const res = runs.map(() => [] as number[]);
for (let r = 0; r < 21; r++) runs.forEach(([, f], k) => { const a = performance.now(); for (let i = 0; i < 300; i++) f(); res[k]!.push((performance.now() - a) * 1000 / 300); });
runs.forEach(([name], k) => console.log(n, share, name.padEnd(14), res[k]!.sort((a, b) => a - b)[10]!.toFixed(2)));
