// Benchmark of the quota plugin: cost per request of reserve (onRequest) + settle (onComplete) with the in-process
// memory store and with Redis, side by side. Run standalone with `npx node bench/quota.ts [--quick]`.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { compileSources } from '../src/policy/index.ts';
import quotaPlugin from '../plugins/quota/index.ts';
import type { PluginHooks } from '../src/sdk/plugin.ts';
import type { RequestContext } from '../src/sdk/context.ts';
import { ctxFor, testServices } from '../test/helpers/ctx.ts';
import { median, percentile, round } from './stats.ts';

/** One row of the result table. */
export interface QuotaBenchRow {
  store: string;
  /** Median over rounds of the sequential cost: one request at a time, reserve + settle, µs per request. */
  seq_us_median: number;
  /** p99 over all sequential requests of one request's reserve + settle, µs. */
  seq_us_p99: number;
  /** Gateway-process CPU per request in the sequential runs (excludes the Redis server's own CPU), µs. */
  cpu_us_per_req: number;
  /** Median over rounds of wall time ÷ requests with 64 requests in flight (the throughput cost), µs. */
  conc64_us_per_req: number;
  /** Requests per second with 64 in flight (median round). */
  conc64_rps: number;
  rounds: number;
  requests_per_round: number;
  error?: string;
}

const POLICY_BODY = `
    user 1M requests per minute
    user 100M tokens per day
    project 1G tokens per month
    project 1000000 usd per month
    price "gpt-4o*" input 2.50 output 10.00
    price "*" input 1 output 2`;

const USAGE = { prompt_tokens: 30, completion_tokens: 120, total_tokens: 150 };
const OUTCOME = { status: 200, upstreamCalled: true, aborted: false, synthesized: false };

function compile(policyId: string): PluginHooks {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-bench-quota-'));
  try {
    const file = join(dir, 'bench.policy');
    const text = `policy "${policyId}" {\n  quota {${POLICY_BODY}\n  }\n}\n`;
    writeFileSync(file, text);
    const r = compileSources(new Map([[file, text]]), [quotaPlugin]);
    if (!r.set) throw new Error(`bench policy did not compile: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    return r.set.policies.get(policyId)!.plugins[0]!.hooks;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function contexts(n: number, services: ReturnType<typeof testServices>, policyId: string, now: number): RequestContext[] {
  const out: RequestContext[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = ctxFor({ model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a support bot.' }, { role: 'user', content: `Where is my order ${i}?` }], max_tokens: 256 }, {
      services, meta: { policyId, user: `user-${i % 1000}`, project: `project-${i % 10}` }, now: () => now,
    });
  }
  return out;
}

/** Reserve + settle one request, awaiting only when the plugin actually returned a promise. */
async function one(hooks: PluginHooks, ctx: RequestContext): Promise<void> {
  const a = hooks.onRequest!(ctx);
  if (a instanceof Promise) { if (await a) throw new Error('request rejected in the benchmark'); } else if (a) throw new Error('request rejected in the benchmark');
  ctx.usage = USAGE;
  const c = hooks.onComplete!(OUTCOME, ctx);
  if (c instanceof Promise) await c;
}

async function measure(label: string, redisUrl: string | undefined, quick: boolean): Promise<QuotaBenchRow> {
  const rounds = quick ? 5 : 15;
  const n = quick ? 2000 : 5000;
  const policyId = `bench-${randomUUID().slice(0, 8)}`;
  const hooks = compile(policyId);
  const services = testServices(redisUrl ? { redisUrl } : {});
  const now = Date.now();
  const row: QuotaBenchRow = { store: label, seq_us_median: NaN, seq_us_p99: NaN, cpu_us_per_req: NaN, conc64_us_per_req: NaN, conc64_rps: NaN, rounds, requests_per_round: n };
  try {
    for (const ctx of contexts(n, services, policyId, now)) await one(hooks, ctx); // warm-up (JIT, connection, script load)
    // A store that fails open would be measured as "fast": refuse to report figures for a store that is down.
    const failures = (await services.registry.getSingleMetric('policy_gateway_quota_store_errors_total')!.get()).values;
    if (failures.some((v) => v.value > 0)) throw new Error(`the ${label} store is unavailable (requests failed open)`);
    const seq: number[] = [];
    const each: number[] = [];
    let cpu = 0;
    for (let r = 0; r < rounds; r++) {
      const batch = contexts(n, services, policyId, now);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const ctx of batch) {
        const s = performance.now();
        await one(hooks, ctx);
        each.push((performance.now() - s) * 1000);
      }
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpu += c.user + c.system;
      seq.push((dt * 1000) / n);
    }
    const conc: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const batch = contexts(n, services, policyId, now);
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < batch.length) await one(hooks, batch[next++]!);
      }));
      conc.push(((performance.now() - t0) * 1000) / n);
    }
    each.sort((a, b) => a - b);
    row.seq_us_median = round(median(seq), 2);
    row.seq_us_p99 = round(percentile(each, 99), 2);
    row.cpu_us_per_req = round(cpu / (rounds * n), 2);
    row.conc64_us_per_req = round(median(conc), 2);
    row.conc64_rps = Math.round(1e6 / median(conc));
  } catch (e) {
    row.error = (e as Error).message;
  } finally {
    if (redisUrl) {
      const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => { /* reported through row.error already */ });
      try {
        await r.connect();
        const keys = await r.keys(`pgw:q:${policyId}:*`);
        for (let i = 0; i < keys.length; i += 500) await r.del(...keys.slice(i, i + 500));
      } catch { /* Redis down: nothing to clean */ }
      r.disconnect();
    }
    for (const c of services.closers) await c();
  }
  return row;
}

/**
 * Cost of the quota plugin per request (reserve + settle of 4 limits: user requests and tokens, project tokens
 * and cost) with the memory store and with Redis at REDIS_URL (default redis://127.0.0.1:6379), side by side.
 */
export async function benchQuota(opts: { quick?: boolean } = {}): Promise<QuotaBenchRow[]> {
  const quick = opts.quick ?? false;
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const memory = await measure('memory (in-process lru-cache)', undefined, quick);
  const redis = await measure(`redis (${url.replace(/\/\/[^@]*@/, '//')})`, url, quick);
  return [memory, redis];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchQuota({ quick: process.argv.includes('--quick') });
  const cols = Object.keys(rows[0]!) as (keyof QuotaBenchRow)[];
  process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`);
  for (const r of rows) process.stdout.write(`| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |\n`);
  if (rows[0] && rows[1] && !rows[1].error) {
    process.stdout.write(`\nredis / memory (sequential): ${round(rows[1].seq_us_median / rows[0].seq_us_median, 1)}×; `
      + `gateway CPU redis / memory: ${round(rows[1].cpu_us_per_req / rows[0].cpu_us_per_req, 1)}×\n`);
  }
}
