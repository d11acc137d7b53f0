// `policy-gateway replay --from RECORDS --old REV_OR_DIR --new DIR [--fail-on SPEC] [--format text|json]`: recorded
// traffic re-evaluated under two rule sets, the decision diff printed, and a CI gate. Thin wrapper over src/replay/.
import { createReadStream, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { PluginFactory } from '../sdk/plugin.ts';
import { parseLine, readLines } from '../replay/records.ts';
import { ReplayRun } from '../replay/replay.ts';
import { matchGate, parseGate, renderJson, renderText, type GateReport, type GateTerm } from '../replay/report.ts';
import { loadRules, RulesError, unchangedPolicies, type LoadedRules } from '../replay/rule-source.ts';
import { parseCliArgs, type CliIo } from './check.ts';

export const REPLAY_USAGE = `usage: policy-gateway replay --from RECORDS --old REV_OR_DIR [--new DIR] [--fail-on SPEC] [--format text|json]

Re-evaluates recorded requests under two rule sets in-process (no upstream call, no webhook) and prints the
decision diff: counts per policy and (old -> new) decision and reason code, with example request ids.
  --from RECORDS      a file ("-" for standard input) of JSON lines or logfmt lines: the gateway's audit records
                      (policies with "audit { replay on }"), or chat-completions request bodies, bare or wrapped
                      as {"id", "policy", "endpoint", "request"}
  --old REV_OR_DIR    the rules before the change: a directory, or a git revision (HEAD~1, or REV:path; alone,
                      the --new path in that revision)
  --new DIR           the rules after the change (default: rules); REV or REV:path reads them from git too
  --fail-on SPEC      gate: comma-separated FROM->TO (allow, rewrite, summary, escalate, refuse, reject or *),
                      any-flip (decision or effective decision changed), any-change (reason code too)
  --policy ID         the policy for requests that name none (default: the rule set's default policy)
  --format json       the report as JSON on stdout
  --allow-path DIR    a directory outside the rules that keys and list files may be in (repeatable)
Auth and quota are not evaluated (records they rejected are counted as not replayable).
Exit status: 0 no gated change, 1 a gated change found, 2 bad usage, unreadable records or rules that do not load.
`;

const VALUED: readonly string[] = ['--from', '--old', '--new', '--fail-on', '--policy', '--allow-path'];

/** Runs `replay`; resolves with its exit status. */
export async function runReplay(argv: readonly string[], io: CliIo, plugins: readonly PluginFactory<any>[],
  opts: { cwd?: string; stdin?: Readable } = {}): Promise<number> {
  const args = parseCliArgs(argv, io, [], REPLAY_USAGE, VALUED);
  if (args === 'help') { io.stdout.write(REPLAY_USAGE); return 0; }
  if (!args) return 2;
  const usage = (msg: string): number => { io.stderr.write(`policy-gateway replay: ${msg}\n\n${REPLAY_USAGE}`); return 2; };
  const one = (k: string): string | undefined => {
    const v = args.values.get(k);
    return v === undefined ? undefined : v[v.length - 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED.includes(a) || a === '--format') i++;
    else if (!a.startsWith('-') || a === '-') return usage(`unexpected argument "${a}"`);
  }
  const from = one('--from');
  const oldSpec = one('--old');
  const newSpec = one('--new') ?? 'rules';
  if (from === undefined) return usage('--from RECORDS is required');
  if (oldSpec === undefined) return usage('--old REV_OR_DIR is required');
  let gate: GateTerm[] | undefined;
  const failOn = one('--fail-on');
  if (failOn !== undefined) {
    const g = parseGate(failOn);
    if (typeof g === 'string') return usage(g);
    gate = g;
  }
  const cwd = opts.cwd ?? process.cwd();
  let input: Readable;
  if (from === '-') input = opts.stdin ?? process.stdin;
  else {
    try {
      if (!(await stat(from)).isFile()) return usage(`--from "${from}" is not a file`);
    } catch (e) {
      io.stderr.write(`policy-gateway replay: cannot read "${from}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}\n`);
      return 2;
    }
    input = createReadStream(from);
  }
  const allowPaths = args.values.get('--allow-path') ?? [];
  const loaded: LoadedRules[] = [];
  try {
    // The rules path a bare revision means: the --new directory, the path of a --new REV:path, else rules/.
    const colon = newSpec.indexOf(':');
    const rulesPath = existsSync(resolve(cwd, newSpec)) ? newSpec : colon !== -1 ? newSpec.slice(colon + 1) || '.' : 'rules';
    const newRules = await loadRules(newSpec, rulesPath, plugins, { cwd, allowPaths });
    loaded.push(newRules);
    const oldRules = await loadRules(oldSpec, rulesPath, plugins, { cwd, allowPaths });
    loaded.push(oldRules);
    const policy = one('--policy');
    for (const [r, name] of [[oldRules, '--old'], [newRules, '--new']] as const) {
      if (policy !== undefined && !r.set.policies.has(policy)) io.stderr.write(`policy-gateway replay: note: ${name} rules (${r.label}) have no policy "${policy}"\n`);
    }
    const run = new ReplayRun(oldRules.set, newRules.set, plugins, unchangedPolicies(oldRules, newRules), process.env);
    const gateCounts = gate?.map((t) => ({ term: t.text, count: 0, examples: [] as string[] }));
    let matched = 0;
    for await (const { line, text } of readLines(input)) {
      const parsed = text === null ? { kind: 'bad' as const, line, reason: 'line longer than 4 MiB' } : text.trim() === '' ? null : parseLine(text, line);
      const item = parsed !== null && parsed.kind === 'item' && parsed.policyId === null && policy !== undefined ? { ...parsed, policyId: policy } : parsed;
      const r = await run.add(item, line);
      if (r === undefined || gate === undefined) continue;
      const hits = matchGate(gate, r.old, r.new);
      if (hits.length > 0) matched++;
      for (const h of hits) {
        const c = gateCounts![gate.indexOf(h)]!;
        c.count++;
        if (c.examples.length < 3) c.examples.push(r.item.id);
      }
    }
    const summary = run.finish();
    const report: GateReport | undefined = gate ? { spec: gate.map((t) => t.text).join(','), matched, terms: gateCounts! } : undefined;
    const labels = { old: `${oldRules.label} (${oldRules.revision})`, new: `${newRules.label} (${newRules.revision})` };
    io.stdout.write(args.format === 'json' ? renderJson(summary, labels, report) : renderText(summary, labels, report));
    return report !== undefined && report.matched > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof RulesError) {
      if (e.details) io.stderr.write(`${e.details}\n`);
      io.stderr.write(`policy-gateway replay: ${e.message}\n`);
      return 2;
    }
    if ((e as NodeJS.ErrnoException).code !== undefined) {
      io.stderr.write(`policy-gateway replay: cannot read "${from}": ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  } finally {
    for (const r of loaded) await r.dispose();
  }
}
