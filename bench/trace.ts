// Benchmark of the evaluation trace: one request through a full policy in-process (runPolicy: auth-free chain of
// topics, moderation, decide, redactor, auditor), untraced (the hot path) and traced (explain, the live header), in
// alternating rounds. Run standalone with `npx node bench/trace.ts [--quick]`; `npm run bench` includes it.
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
  const request: ChatRequest = {
    model: 'm',
    messages: [{ role: 'system', content: 'You are a helpful support assistant.' },
      { role: 'user', content: 'Hello, my order has not arrived yet and the tracking page says it is stuck in customs. What can I do, and how long does it usually take?' }],
  };
  const answer = {
    id: 'x', object: 'chat.completion', created: 1, model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Sorry about that! Write to support@example.com or call +1 415 555 0100 and we will check.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 40, completion_tokens: 20, total_tokens: 60 },
  } as ApiAnswer;
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
  for (let r = 0; r < rounds; r++) {
    off.push(await measure('off'));
    audit.push(await measure('audit'));
    all.push(await measure('all'));
  }
  const u = median(off);
  return {
    untraced_us: round(u, 2), traced_audit_us: round(median(audit), 2), traced_all_us: round(median(all), 2),
    traced_ratio: round(median(audit) / u, 3), rounds, requests_per_round: n,
    note: 'untraced requests pay one `ctx.trace !== undefined` check per recording hook and one header lookup at the edge',
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ALL_PLUGINS } = await import('../plugins/index.ts');
  process.stdout.write(`${JSON.stringify(await benchTrace(ALL_PLUGINS, { quick: process.argv.includes('--quick') }), null, 2)}\n`);
}
