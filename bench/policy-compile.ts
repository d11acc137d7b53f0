// Load-time benchmark of the policy pipeline: parse, core checks and plugin compile of one policy with
// 10,000 topic phrases and 500 respond rules (median of 5 runs each). Called from `npm run bench` (bench/run.ts).
import { performance } from 'node:perf_hooks';
import { parsePolicy } from '../grammar/parse-policy.ts';
import { checkPolicies } from '../src/policy/check.ts';
import { compilePolicies } from '../src/policy/load.ts';
import type { PluginFactory } from '../src/sdk/plugin.ts';
import type { Diagnostic } from '../grammar/diagnostics.ts';

/** Timings of one benchPolicyCompile run, in milliseconds (medians). */
export interface PolicyCompileBench {
  readonly phrases: number;
  readonly rules: number;
  readonly bytes: number;
  readonly parseMs: number;
  readonly checkMs: number;
  readonly compileMs: number;
  /** parse + check + compile. */
  readonly totalMs: number;
  /** Error diagnostics of the last run (blocks not owned by any given plugin are skipped, not reported). */
  readonly errors: number;
  /** Warning diagnostics of the last run (e.g. respond rules a plugin finds unreachable). */
  readonly warnings: number;
  /** Blocks of the generated policy that no given plugin owns (their compile time is not measured). */
  readonly unownedBlocks: readonly string[];
}

/** Moderation categories (the OpenAI taxonomy, plugins/moderation/README.md) the generated respond rules cycle through. */
const CATEGORIES = ['hate', 'hate/threatening', 'harassment', 'self-harm', 'self-harm/intent', 'sexual', 'sexual/minors', 'violence', 'violence/graphic'];

/**
 * The generated policy: one `deny` list of `phrases` strings (one per line) and `rules` respond rules
 * `when "<category>" refuse reason "R<i>"` cycling through the moderation categories.
 */
export function generateBenchPolicy(phrases = 10_000, rules = 500): string {
  const list = Array.from({ length: phrases }, (_, i) => `"phrase-${i}"`).join(',\n        ');
  const respond = Array.from({ length: rules }, (_, i) => `    when "${CATEGORIES[i % CATEGORIES.length]}" refuse reason "R${i}"`).join('\n');
  return `policy "bench" {\n  topics {\n    deny ${list}\n  }\n\n  respond {\n${respond}\n    otherwise allow\n  }\n}\n`;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Measures parse, core checks and plugin compile separately (5 runs each, median). Works with any plugin set:
 * blocks no plugin owns are left out of the unknown-block check and reported in `unownedBlocks`.
 */
export async function benchPolicyCompile(plugins: readonly PluginFactory<any>[], opts: { phrases?: number; rules?: number; runs?: number } = {}): Promise<PolicyCompileBench> {
  const phrases = opts.phrases ?? 10_000;
  const rules = opts.rules ?? 500;
  const runs = opts.runs ?? 5;
  const text = generateBenchPolicy(phrases, rules);
  const knownBlocks = [...new Set(plugins.flatMap((p) => p.blocks))];
  const parseT: number[] = [];
  const checkT: number[] = [];
  const compileT: number[] = [];
  let diags: Diagnostic[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const parsed = parsePolicy(text, 'bench.policy', { maxErrors: Infinity });
    parseT.push(performance.now() - t);
    if (parsed.diagnostics.length) throw new Error(`bench policy does not parse: ${parsed.diagnostics[0]!.message}`);
    t = performance.now();
    diags = checkPolicies([parsed.ast], { knownBlocks, checkUnknownBlocks: false });
    checkT.push(performance.now() - t);
    t = performance.now();
    compilePolicies([parsed.ast], plugins, diags, new Map());
    compileT.push(performance.now() - t);
  }
  const parseMs = median(parseT);
  const checkMs = median(checkT);
  const compileMs = median(compileT);
  return {
    phrases, rules, bytes: Buffer.byteLength(text), parseMs, checkMs, compileMs, totalMs: parseMs + checkMs + compileMs,
    errors: diags.filter((d) => d.severity === 'error').length,
    warnings: diags.filter((d) => d.severity === 'warning').length,
    unownedBlocks: ['topics', 'respond'].filter((b) => !knownBlocks.includes(b)),
  };
}

// `node bench/policy-compile.ts` runs it alone with the registered plugins.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { ALL_PLUGINS } = await import('../plugins/index.ts');
  console.log(await benchPolicyCompile(ALL_PLUGINS));
}
