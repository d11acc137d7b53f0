// `policy-gateway explain --policy ID --request req.json [--answer answer.json | --stream chunks.json]`: loads the rule
// set as serve would, explains one request step by step (src/author/explain.ts) and prints it as text or JSON.
// A thin wrapper: file reading, flags and exit codes only.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { renderDiagnostics, summarizeDiagnostics } from '../../grammar/diagnostics.ts';
import { explainRequest, renderExplain, type ExplainMeta } from '../author/explain.ts';
import { loadPolicies } from '../policy/load.ts';
import type { CommandIO, PluginFactory } from '../sdk/plugin.ts';
import { ENDPOINTS, type Endpoint } from '../sdk/types.ts';

export const EXPLAIN_USAGE = `usage: policy-gateway explain --policy ID --request FILE [--answer FILE | --stream FILE] [options]

Explains how a policy decides one request, step by step in the decision flow's order: metadata, auth, quota,
rollout, topics (each hit with its phrase, source line and matched span), moderation scores against each
threshold, every respond rule tried and why it did or did not match, redactions with detector and span, audit.
Runs in-process on the rule set the gateway would serve; no upstream is called, no webhook is sent.

  --policy ID          the policy to explain (required)
  --request FILE       the request body as a client sends it, JSON (required; "-" reads stdin)
  --answer FILE        the upstream's answer (JSON) to run through the response side
  --stream FILE        the upstream's stream: a JSON array of events, or SSE text ("data: {…}" lines)
  --rules PATH         directory (or file) of .policy files, as serve's --rules [POLICY_GATEWAY_RULES] (default rules)
  --user U --project P --target T
                       metadata, as the X-Policy-User / -Project / -Target headers
  --header "Name: v"   a request header (repeatable), e.g. --header "Authorization: Bearer pgk_…"
  --endpoint E         chat (default), responses, embeddings or completions
  --now TIME           the clock the evaluation runs at (quota windows, key expiry), ISO 8601; default now
  --format text|json   text (default) or the ExplainResult JSON
  --allow-path DIR     a directory outside the rules that keys and list files may be in (repeatable), as serve's

Exit status: 0 when the request was evaluated (whatever the decision), 1 when it could not be (the rules do not
load, the policy is unknown, the request is invalid), 2 on bad usage or an unreadable input file.
`;

/** Largest input file read (request, answer, stream). */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

class UsageError extends Error {}

async function readInput(path: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    if (path === '-') {
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of process.stdin) { n += (c as Buffer).length; if (n > MAX_INPUT_BYTES) break; parts.push(c as Buffer); }
      buf = Buffer.concat(parts);
    } else buf = await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read the ${what} file "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (buf.length > MAX_INPUT_BYTES) throw new UsageError(`the ${what} file "${path}" is larger than ${MAX_INPUT_BYTES} bytes`);
  return buf.toString('utf8');
}

function parseJson(text: string, what: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`the ${what} file "${path}" is not JSON: ${(e as Error).message}`);
  }
}

/** A stream file: a JSON array of events, or SSE text whose `data:` lines are JSON events (`[DONE]` and comments skipped). */
export function parseStreamText(text: string, path: string): unknown[] {
  const t = text.trimStart();
  if (t.startsWith('[')) {
    const v = parseJson(t, 'stream', path);
    if (!Array.isArray(v)) throw new UsageError(`the stream file "${path}" must hold a JSON array of events`);
    return v;
  }
  const events: unknown[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (data === '' || data === '[DONE]') continue;
    events.push(parseJson(data, 'stream', path));
  }
  if (events.length === 0) throw new UsageError(`the stream file "${path}" holds no events (expected a JSON array or "data: {…}" lines)`);
  return events;
}

function headerList(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of values) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`--header "${h.slice(0, 40)}" is not "Name: value"`);
    out[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  return out;
}

/** Runs `explain`; returns the exit status (0 evaluated, 1 not evaluated, 2 usage). */
export async function runExplain(argv: readonly string[], io: CommandIO, plugins: readonly PluginFactory<any>[],
  env: Readonly<Record<string, string | undefined>> = {}): Promise<number> {
  let v: Record<string, string | string[] | boolean | undefined>;
  try {
    v = parseArgs({
      args: [...argv], strict: true, allowPositionals: false,
      options: {
        policy: { type: 'string' }, request: { type: 'string' }, answer: { type: 'string' }, stream: { type: 'string' },
        rules: { type: 'string' }, user: { type: 'string' }, project: { type: 'string' }, target: { type: 'string' },
        header: { type: 'string', multiple: true }, endpoint: { type: 'string' }, now: { type: 'string' }, format: { type: 'string' },
        'allow-path': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.stderr.write(`policy-gateway explain: ${(e as Error).message}\n\n${EXPLAIN_USAGE}`);
    return 2;
  }
  if (v.help) { io.stdout.write(EXPLAIN_USAGE); return 0; }
  const usage = (msg: string) => { io.stderr.write(`policy-gateway explain: ${msg}\n\n${EXPLAIN_USAGE}`); return 2; };
  const format = (v.format as string | undefined) ?? 'text';
  if (format !== 'text' && format !== 'json') return usage('--format must be "text" or "json"');
  if (typeof v.policy !== 'string' || v.policy === '') return usage('--policy is required');
  if (typeof v.request !== 'string') return usage('--request is required');
  if (v.answer !== undefined && v.stream !== undefined) return usage('give --answer or --stream, not both');
  const endpoint = (v.endpoint as string | undefined) ?? 'chat';
  if (!ENDPOINTS.includes(endpoint as Endpoint)) return usage(`--endpoint must be one of ${ENDPOINTS.join(', ')}`);
  let now: number | undefined;
  if (v.now !== undefined) {
    now = Date.parse(v.now as string);
    if (!Number.isFinite(now)) return usage(`--now "${v.now as string}" is not an ISO 8601 time`);
  }
  let request: unknown;
  let answer: unknown;
  let stream: unknown[] | undefined;
  let headers: Record<string, string>;
  try {
    headers = headerList((v.header as string[] | undefined) ?? []);
    request = parseJson(await readInput(v.request, 'request'), 'request', v.request);
    if (typeof v.answer === 'string') answer = parseJson(await readInput(v.answer, 'answer'), 'answer', v.answer);
    if (typeof v.stream === 'string') stream = parseStreamText(await readInput(v.stream, 'stream'), v.stream);
  } catch (e) {
    if (e instanceof UsageError) { io.stderr.write(`policy-gateway explain: ${e.message}\n`); return 2; }
    throw e;
  }
  const rules = (v.rules as string | undefined) ?? env.POLICY_GATEWAY_RULES ?? 'rules';
  const allowPaths = (v['allow-path'] as string[] | undefined) ?? (env.POLICY_GATEWAY_ALLOW_PATH ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const loaded = await loadPolicies([rules], plugins, { allowPaths });
  if (loaded.set === undefined) {
    io.stderr.write(`${renderDiagnostics(loaded.diagnostics, loaded.sources)}\npolicy-gateway explain: the rules in "${rules}" do not load: ${summarizeDiagnostics(loaded.diagnostics)}\n`);
    return 1;
  }
  const meta: ExplainMeta = {
    user: (v.user as string | undefined) ?? null, project: (v.project as string | undefined) ?? null, target: (v.target as string | undefined) ?? null,
    headers, endpoint: endpoint as Endpoint, now,
  };
  const result = await explainRequest({ policyId: v.policy, rules: loaded.set, request, answer, stream, meta }, { plugins });
  io.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderExplain(result));
  if (!result.ok) {
    if (format === 'json') io.stderr.write(`policy-gateway explain: ${result.problem!.message}\n`);
    return 1;
  }
  return 0;
}
