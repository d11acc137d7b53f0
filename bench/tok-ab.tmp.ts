// In-process A/B: topics (10,000 deny phrases) + builtin moderation on the bench prompt, base tree vs this tree.
const HEAD = '/work/wt/i14b/';
const BASE = '/tmp/i14b-base/';
const load = async (root: string) => ({
  matcher: await import(root + 'plugins/topics/matcher.ts'),
  builtin: await import(root + 'plugins/moderation/builtin.ts'),
  pv: await import(root + 'src/sdk/prompt-view.ts'),
  norm: await import(root + (root === HEAD ? 'src/text/normalize.ts' : 'plugins/topics/normalize.ts')),
});
const PROMPT = 'Hello, I bought a pair of running shoes from your shop last week and they do not fit well. ' +
  'Could you explain how your refund policy works, whether I need the original box, and how long it ' +
  'usually takes for the money to come back to my card? Thanks a lot for your help.';
const req = { model: 'm', messages: [{ role: 'system', content: 'You are a helpful customer-support assistant.' }, { role: 'user', content: PROMPT }] };
const words = (i: number) => `zq${(i * 7919) % 100003} xv${i}`;
const setup = (m: Awaited<ReturnType<typeof load>>) => {
  const n = 10000;
  const entries = Array.from({ length: n }, (_, i) => ({ kind: 'deny', text: words(i), rule: 'r' }));
  const phrases = entries.map((e, i) => ({ entry: i, normalized: m.norm.normalizeText(e.text) }));
  return { tm: new m.matcher.TopicMatcher(entries, phrases, []), cl: m.builtin.builtinClassifier() };
};
const head = await load(HEAD);
const base = await load(BASE);
const { promptTapes, WordTapes } = await import(HEAD + 'src/text/word-tape.ts');
const h = setup(head); const b = setup(base);
const runBase = () => { const v = base.pv.readPrompt('chat', req); b.tm.matchPrompt(v, 'user', 'latest'); b.cl.classifyPrompt(v, 'user'); };
const runHead = () => { const v = head.pv.readPrompt('chat', req); h.tm.matchPrompt(v, 'user', 'latest', promptTapes); h.cl.classifyPrompt(v, 'user', promptTapes); };
const runHeadNoShare = () => { const v = head.pv.readPrompt('chat', req); h.tm.matchPrompt(v, 'user', 'latest'); h.cl.classifyPrompt(v, 'user'); };
const runTopicsOnlyBase = () => { const v = base.pv.readPrompt('chat', req); b.tm.matchPrompt(v, 'user', 'latest'); };
const runTopicsOnlyHead = () => { const v = head.pv.readPrompt('chat', req); h.tm.matchPrompt(v, 'user', 'latest', promptTapes); };
const time = (f: () => void, n: number) => { const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) f(); return Number(process.hrtime.bigint() - t) / n / 1000; };
const fns = { base: runBase, head: runHead, headNoShare: runHeadNoShare, topicsBase: runTopicsOnlyBase, topicsHead: runTopicsOnlyHead };
for (const f of Object.values(fns)) time(f, 20000);
const res: Record<string, number[]> = {};
for (let r = 0; r < 15; r++) for (const [k, f] of (r % 2 ? Object.entries(fns).reverse() : Object.entries(fns))) (res[k] ??= []).push(time(f, 5000));
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]!; };
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(12), med(v).toFixed(2), 'µs');
const ratios = res.head!.map((x, i) => x / res.base![i]!);
console.log('head/base per-round median', med(ratios).toFixed(3), ' topics-only head/base', med(res.topicsHead!.map((x, i) => x / res.topicsBase![i]!)).toFixed(3));
