// Before/after A/B of detection speed in one process: the topic matcher (4 KB prompt, 10,000 phrases) and whole-text
// redaction (256 KB of mixed and of ASCII-only text, every built-in detector), this tree against another checkout
// (e.g. `git worktree add /tmp/base <commit>`), interleaved rounds. `npx node bench/detection-ab.ts /tmp/base [rounds]`.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

interface Tree {
  matcher: typeof import('./matcher.ts');
  redaction: typeof import('./redaction.ts');
  det: typeof import('../plugins/redactor/detectors.ts');
  engine: typeof import('../plugins/redactor/engine.ts');
}

async function load(root: string): Promise<Tree> {
  return {
    matcher: await import(`${root}/bench/matcher.ts`),
    redaction: await import(`${root}/bench/redaction.ts`),
    det: await import(`${root}/plugins/redactor/detectors.ts`),
    engine: await import(`${root}/plugins/redactor/engine.ts`),
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Runs the A/B and returns the median ratios (head/base: time for the matcher, throughput for redaction). */
export async function detectionAb(baseRoot: string, rounds = 15): Promise<Record<string, { base: number; head: number; ratio: number }>> {
  const head = await load(resolve(fileURLToPath(new URL('..', import.meta.url))));
  const base = await load(resolve(baseRoot));
  const prompt = head.matcher.benchPrompt();
  const mixed = head.redaction.mixedText(256 * 1024);
  const ascii = mixed.replace(/[^\x00-\x7f]/g, 'x');
  const setup = (t: Tree) => ({
    cfg: t.matcher.compileDenyList(t.matcher.benchPhrases(10_000, 42, 0.1)),
    eng: new t.engine.RedactionEngine(t.det.BUILTIN_DETECTORS, { kind: 'label' }),
  });
  const s = { base: setup(base), head: setup(head) };
  const runs = {
    'matcher µs/request': (k: 'base' | 'head') => { const t0 = performance.now(); for (let i = 0; i < 1000; i++) s[k].cfg!.matcher.matchText(prompt); return (performance.now() - t0); },
    'redaction MB/s (mixed text)': (k: 'base' | 'head') => { const t0 = performance.now(); s[k].eng.redact(mixed, { key: 'k', counts: {} }); return mixed.length / 1e3 / (performance.now() - t0); },
    'redaction MB/s (ASCII text)': (k: 'base' | 'head') => { const t0 = performance.now(); s[k].eng.redact(ascii, { key: 'k', counts: {} }); return ascii.length / 1e3 / (performance.now() - t0); },
  };
  const out: Record<string, { base: number; head: number; ratio: number }> = {};
  for (const [name, f] of Object.entries(runs)) {
    for (let w = 0; w < 3; w++) { f('base'); f('head'); }
    const b: number[] = []; const h: number[] = []; const r: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 ? (['base', 'head'] as const) : (['head', 'base'] as const);
      const v: Record<string, number> = {};
      for (const k of order) v[k] = f(k);
      b.push(v.base!); h.push(v.head!); r.push(v.head! / v.base!);
    }
    out[name] = { base: median(b), head: median(h), ratio: median(r) };
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.argv[2];
  if (!root) { console.error('usage: npx node bench/detection-ab.ts <base checkout> [rounds]'); process.exit(2); }
  const r = await detectionAb(root, Number(process.argv[3] ?? 15));
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(30)} base ${v.base.toFixed(1).padStart(7)}  head ${v.head.toFixed(1).padStart(7)}  head/base ${v.ratio.toFixed(3)}`);
}
