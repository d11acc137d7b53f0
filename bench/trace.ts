// Benchmark of the evaluation trace: one request through a full policy in-process (runPolicy), untraced (the hot path)
// and traced (explain, the live header) in rotating rounds; `--base-ref REV` also measures the untraced run against REV's
// code in the same process (what tracing off costs). `npx node bench/trace.ts [--quick] [--base-ref REV]`; in npm run bench.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { explainServices } from '../src/author/explain.ts';
import { ChainRunner } from '../src/chain/run-chain.ts';
import { runPolicy } from '../src/chain/run-policy.ts';
import { compileSources } from '../src/policy/load.ts';
import type { PluginFactory } from '../src/sdk/plugin.ts';
import { TraceRecorder } from '../src/sdk/trace.ts';
import type { ApiAnswer, ChatRequest } from '../src/sdk/types.ts';
import { median, round } from './stats.ts';

const POLICY = `policy "bench" {
  quota { user 1G requests per minute }
  topics { deny "competitor pricing", "wire transfer", "crypto giveaway" }
  moderation { flag "self-harm/*"; flag "violence/graphic" }
  respond {
    when "self-harm/*" rewrite with "Answer with care."
    when denylist refuse
    otherwise allow
  }
  redact response { email, phone, credit_card }
  audit { tag "bench" }
}
`;

const REQUEST: ChatRequest = {
  model: 'm',
  messages: [{ role: 'system', content: 'You are a helpful support assistant.' },
    { role: 'user', content: 'Hello, my order has not arrived yet and the tracking page says it is stuck in customs. What can I do, and how long does it usually take?' }],
};
const ANSWER = {
  id: 'x', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Sorry about that! Write to support@example.com or call +1 415 555 0100 and we will check.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 40, completion_tokens: 20, total_tokens: 60 },
} as ApiAnswer;

/** What the section reports (µs per request, median over rounds). */
export interface TraceBench {
  untraced_us: number;
  traced_audit_us: number;
  traced_all_us: number;
  /** traced (audit mode, snapshot taken) ÷ untraced: what a request with the live header costs relative to one without. */
  traced_ratio: number;
  rounds: number;
  requests_per_round: number;
  note: string;
}

/** Runs the benchmark with `plugins` (the bundled ones). */
export async function benchTrace(plugins: readonly PluginFactory<any>[], opts: { quick?: boolean } = {}): Promise<TraceBench> {
  const loaded = compileSources(new Map([['bench.policy', POLICY]]), plugins);
  if (loaded.set === undefined) throw new Error(`bench policy does not compile: ${loaded.diagnostics[0]?.message}`);
  const policy = loaded.set.policies.get('bench')!;
  const services = explainServices(plugins);
  const runner = new ChainRunner(services.metrics, 5000);
  const request = REQUEST;
  const answer = ANSWER;
  const n = opts.quick ? 300 : 2000;
  const rounds = opts.quick ? 3 : 7;
  let user = 0;
  const measure = async (mode: 'off' | 'audit' | 'all'): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const trace = mode === 'off' ? undefined : new TraceRecorder(mode);
      await runPolicy(policy, { request, answer, meta: { user: `u${user++ % 1000}` }, trace }, { services, runner });
      trace?.snapshot();
    }
    return ((performance.now() - t0) * 1000) / n;
  };
  await measure('off'); // warm-up
  await measure('audit');
  const off: number[] = [];
  const audit: number[] = [];
  const all: number[] = [];
  const into = { off, audit, all } as const;
  const modes = ['off', 'audit', 'all'] as const;
  for (let r = 0; r < rounds; r++) {
    // rotate the order each round so that no mode always runs first (after the previous mode's garbage)
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(r + k) % modes.length]!;
      into[mode].push(await measure(mode));
    }
  }
  const u = median(off);
  return {
    untraced_us: round(u, 2), traced_audit_us: round(median(audit), 2), traced_all_us: round(median(all), 2),
    traced_ratio: round(median(audit) / u, 3), rounds, requests_per_round: n,
    note: 'untraced requests pay one `ctx.trace !== undefined` check per recording hook and one header lookup at the edge',
  };
}

/** Untraced runs of this tree against another tree (a revision's copy), interleaved: the cost of tracing when off. */
export interface TraceOffAb {
  base: string;
  here_us: number;
  base_us: number;
  /** here ÷ base, median of the per-round ratios (1.0: tracing off costs nothing). */
  ratio_median: number;
  ratio_p25: number;
  ratio_p75: number;
  rounds: number;
  requests_per_round: number;
}

/** A function running `n` untraced requests through the bench policy with one tree's code; resolves with µs per request. */
async function untracedRunner(root: string, n: number): Promise<() => Promise<number>> {
  const at = (f: string) => import(pathToFileURL(path.join(root, f)).href);
  const { compileSources: compile } = await at('src/policy/load.ts');
  const { ALL_PLUGINS } = await at('plugins/index.ts');
  const { createMetrics } = await at('src/metrics.ts');
  const { ChainRunner: Runner } = await at('src/chain/run-chain.ts');
  const { runPolicy: run } = await at('src/chain/run-policy.ts');
  const { Registry } = await import('prom-client');
  const { pino } = await import('pino');
  const loaded = compile(new Map([['bench.policy', POLICY]]), ALL_PLUGINS);
  if (loaded.set === undefined) throw new Error(`bench policy does not compile in ${root}`);
  const policy = loaded.set.policies.get('bench');
  const metrics = createMetrics(new Registry(), ALL_PLUGINS, { defaults: false });
  const services = {
    log: pino({ level: 'silent' }), metricsOf: (d: unknown) => metrics.of(d), env: {}, redisUrl: undefined,
    audit: { destination: 'off', format: 'logfmt' }, onClose: () => undefined, onReopen: () => undefined, background: () => undefined,
  };
  const runner = new Runner(metrics, 5000);
  let user = 0;
  return async () => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await run(policy, { request: REQUEST, answer: ANSWER, meta: { user: `u${user++ % 1000}` } }, { services, runner });
    return ((performance.now() - t0) * 1000) / n;
  };
}

/** Measures untraced requests here and in `baseRoot` (another tree of this repository), interleaved. */
export async function benchTraceOffAb(baseRoot: string, label: string, opts: { quick?: boolean } = {}): Promise<TraceOffAb> {
  const n = opts.quick ? 300 : 2000;
  const rounds = opts.quick ? 3 : 9;
  const here = await untracedRunner(path.resolve(import.meta.dirname, '..'), n);
  const base = await untracedRunner(baseRoot, n);
  await here();
  await base();
  const h: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // alternate which tree runs first, so neither always inherits the other's garbage
    let hx: number;
    let by: number;
    if (r % 2 === 0) { hx = await here(); by = await base(); } else { by = await base(); hx = await here(); }
    h.push(hx);
    b.push(by);
    ratios.push(hx / by);
  }
  const sorted = [...ratios].sort((p, q) => p - q);
  return {
    base: label, here_us: round(median(h), 2), base_us: round(median(b), 2), ratio_median: round(median(ratios), 3),
    ratio_p25: round(sorted[Math.floor((sorted.length - 1) * 0.25)]!, 3), ratio_p75: round(sorted[Math.ceil((sorted.length - 1) * 0.75)]!, 3),
    rounds, requests_per_round: n,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ALL_PLUGINS } = await import('../plugins/index.ts');
  const quick = process.argv.includes('--quick');
  const out: Record<string, unknown> = { trace: await benchTrace(ALL_PLUGINS, { quick }) };
  const at = process.argv.indexOf('--base-ref');
  if (at > 0) {
    const { checkoutRev } = await import('./detection-ab.ts');
    const rev = process.argv[at + 1] ?? 'HEAD~1';
    const base = checkoutRev(rev);
    try {
      out.off_vs_base = await benchTraceOffAb(base.dir, `${rev} (${base.commit.slice(0, 12)})`, { quick });
    } finally {
      base.dispose();
    }
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
