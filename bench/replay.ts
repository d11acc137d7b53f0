// Throughput of `policy-gateway replay`: generated audit records (logfmt, with the `replay on` capture) and plain JSONL
// requests, streamed through the line reader and evaluated under two rule sets (the bundled rules and a changed copy),
// against reading and parsing the same lines alone. Called from `npm run bench` (bench/run.ts); a few seconds.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { compileSources, loadPolicies } from '../src/policy/load.ts';
import type { CompiledPolicySet } from '../src/policy/types.ts';
import type { PluginFactory } from '../src/sdk/plugin.ts';
import { parseLine, readLines } from '../src/replay/records.ts';
import { ReplayRun } from '../src/replay/replay.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEXTS = ['Summarize our refund policy.', 'What is the competitor pricing?', 'I want to kill myself tonight', 'Can I pay by wire transfer?',
  'Where is my parcel? It was due on Monday and the tracking page says nothing.'];

/** `n` lines: even ones logfmt audit records with a capture, odd ones plain chat request bodies. */
export function generateReplayLines(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const text = `${TEXTS[i % TEXTS.length]} (${i})`;
    if (i % 2 === 0) {
      const capture = JSON.stringify({ v: 1, endpoint: 'chat', model: 'm', roles: ['system', 'user'], segments: [[0, 'text', 'Be brief.'], [1, 'text', text]],
        token_ids: 0, hidden: [], max_output_tokens: null, choices: 1 });
      out.push(`2026-12-06T10:00:00Z policy_id=demo decision=allow reason_code=ALLOW policy_user=user-${i % 50} policy_project_id=- request_id=req-${i} route=v1 `
        + `effective_decision=allow rollout_mode=enforced enforced=true policy_target=- status=200 code=- aborted=false stream=false tags=env:demo replay=${JSON.stringify(capture)}`);
    } else {
      out.push(JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: text }], policy_id: 'demo', policy_user: `user-${i % 50}` }));
    }
  }
  return `${out.join('\n')}\n`;
}

/** Figures of one benchReplay run. */
export interface ReplayBench {
  readonly records: number;
  /** Lines read and parsed per second, without evaluating them (the baseline). */
  readonly parseOnlyPerSec: number;
  /** Records replayed per second under both rule sets (two in-process evaluations each). */
  readonly replayPerSec: number;
  /** Records per second when the policy did not change (evaluated once, the result used for both sides). */
  readonly unchangedPerSec: number;
  /** replayPerSec / parseOnlyPerSec. */
  readonly ratioToParse: number;
  /** 100,000 records at replayPerSec. */
  readonly secondsPer100k: number;
  readonly changed: number;
}

async function drain(text: string, each: (p: ReturnType<typeof parseLine>, line: number) => Promise<unknown> | void): Promise<number> {
  const t = performance.now();
  for await (const { line, text: l } of readLines(Readable.from([Buffer.from(text)]))) if (l) await each(parseLine(l, line), line);
  return performance.now() - t;
}

/**
 * Replays generated records under the bundled rules and a changed copy of the demo policy (wire transfers no longer
 * denied: every record evaluated twice), then under the same rules (each record evaluated once).
 */
export async function benchReplay(plugins: readonly PluginFactory<any>[], opts: { quick?: boolean; records?: number } = {}): Promise<ReplayBench> {
  const records = opts.records ?? (opts.quick ? 10_000 : 40_000);
  const rules = path.join(ROOT, 'rules');
  const old = await loadPolicies([rules], plugins);
  const demoFile = path.join(rules, 'demo.policy');
  const demo = readFileSync(demoFile, 'utf8');
  const edited = demo.replace(', /wire\\s+transfer/i', '');
  if (edited === demo) throw new Error('rules/demo.policy no longer denies /wire\\s+transfer/i: update the bench change');
  const changed = compileSources(new Map([[demoFile, edited]]), plugins);
  if (!old.set || !changed.set) throw new Error('the bundled rules do not load');
  const text = generateReplayLines(records);
  const parseMs = await drain(text, () => undefined);
  const run = new ReplayRun(old.set as CompiledPolicySet, changed.set, plugins);
  const replayMs = await drain(text, (p, line) => run.add(p, line));
  const s = run.finish();
  if (s.replayed !== records) throw new Error(`replayed ${s.replayed} of ${records} records`);
  const same = new ReplayRun(old.set as CompiledPolicySet, old.set as CompiledPolicySet, plugins, new Set(old.set.policies.keys()));
  const unchangedMs = await drain(text, (p, line) => same.add(p, line));
  const replayPerSec = records / (replayMs / 1000);
  const parseOnlyPerSec = records / (parseMs / 1000);
  return { records, parseOnlyPerSec, replayPerSec, unchangedPerSec: records / (unchangedMs / 1000), ratioToParse: replayPerSec / parseOnlyPerSec, secondsPer100k: 100_000 / replayPerSec, changed: s.changed };
}

// `node bench/replay.ts` runs it alone with the registered plugins.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { ALL_PLUGINS } = await import('../plugins/index.ts');
  console.log(await benchReplay(ALL_PLUGINS));
}
