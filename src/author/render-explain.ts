// The text form of an explanation (`policy-gateway explain` without --format json): one numbered section per step of
// the trace, in the decision flow's order, then the verdict and what the client gets. Pure: ExplainResult in, text out.
import type { TraceStep } from '../sdk/trace.ts';
import type { ExplainResult } from './explain.ts';

type Obj = Record<string, unknown>;
const INDENT = '     ';

function q(s: unknown): string {
  return JSON.stringify(s);
}

function orDash(v: unknown): string {
  return v === null || v === undefined || v === '' ? '-' : String(v);
}

function at(rule: unknown): string {
  return typeof rule === 'string' ? ` (${rule})` : '';
}

function spanText(span: Obj | null | undefined): string {
  if (!span) return '';
  const where = typeof span.item === 'number' && span.item >= 0 ? `item ${span.item} ` : '';
  const text = typeof span.text === 'string' ? ` ${q(span.text)}` : typeof span.original === 'string' ? ` ${q(span.original)}` : '';
  return `${where}[${String(span.start)}, ${String(span.end)})${text}`;
}

function list(xs: unknown): string {
  return Array.isArray(xs) && xs.length > 0 ? xs.map(String).join(', ') : 'none';
}

function renderStep(s: TraceStep): string[] {
  const o = s as Obj;
  switch (s.kind) {
    case 'metadata':
      return [
        `metadata   policy_id=${orDash(o.policy_id)} policy_user=${orDash(o.policy_user)} policy_project_id=${orDash(o.policy_project_id)} policy_target=${orDash(o.policy_target)}`,
        `${INDENT}      endpoint ${String(o.endpoint)}, model ${q(o.model)}, ${o.stream ? 'streamed' : 'not streamed'}, ${String(o.items)} items (${list(o.roles)}); policy at ${String(o.rule)}`,
      ];
    case 'auth':
      return o.outcome === 'accepted'
        ? [`auth       accepted key ${orDash(o.key_id)} (label ${q(o.key_label)}, grants: ${list(o.grants)}) from ${String(o.keys_file)}`]
        : [`auth       rejected: ${String(o.status)} ${String(o.code)}: ${String(o.message)}`];
    case 'quota': {
      if (o.error !== undefined) return [`quota      ${String(o.error)} (${String(o.store)} store): fails ${String(o.on_error)}`];
      const head = `quota      ${o.admitted ? 'admitted' : 'rejected'} (${String(o.store)} store; prompt estimate ${String(o.prompt_estimate)} tokens, ${String(o.completion_reserve)} reserved for the completion)`;
      const rows = (o.limits as Obj[]).map((l) => `${INDENT}      ${l.within ? 'ok  ' : 'OVER'} ${String(l.limit)}${at(l.rule)}: used ${String(l.used)} + ${String(l.asked)} of ${String(l.max)}, window resets in ${String(l.window_resets_in_s)}s`);
      return [head, ...rows];
    }
    case 'rollout': {
      const bucket = o.user_bucket === null ? '' : `, user bucket ${String(o.user_bucket)}`;
      const head = `rollout    ${String(o.mode)} by ${o.source === 'default' ? 'the default' : 'a rule'}${at(o.rule)}; target ${o.target === null ? 'none' : q(o.target)}${bucket}`;
      const rows = (o.rules as Obj[]).map((r) => `${INDENT}      ${r.matched ? 'yes ' : 'no  '} ${String(r.mode)} target ${q(r.target)}${r.percent === null ? '' : ` ${String(r.percent)}%`}${at(r.rule)}: ${String(r.why)}`);
      return [head, ...rows];
    }
    case 'topics': {
      const hits = o.hits as Obj[];
      const head = `topics     scan ${String(o.scan)}, scope ${String(o.scope)}; ${String(o.entries)} ${o.entries === 1 ? 'entry' : 'entries'}, ${hits.length} hit${hits.length === 1 ? '' : 's'}`
        + (o.allowlist_miss ? '; the allowlist is configured and nothing on it matched' : '');
      const rows = hits.map((h) => `${INDENT}      ${String(h.list)} ${q(h.phrase)}${at(h.rule)}${h.span ? ` at ${spanText(h.span as Obj)}` : ''}`);
      return [head, ...rows];
    }
    case 'moderation': {
      const head = `moderation provider ${String(o.provider)}, scan ${String(o.scan)}; flagged: ${list(o.flagged)}${o.error === null ? '' : `; provider failed (${String(o.error)}), fails ${String(o.on_error)}`}`;
      const rows: string[] = [];
      for (const c of o.categories as Obj[]) {
        const th = (c.thresholds as Obj[]).map((t) => `${String(c.score)} ${t.above ? '>' : '<='} ${String(t.threshold)}${at(t.rule)}`).join('; ');
        rows.push(`${INDENT}      ${c.flagged ? 'FLAG' : 'ok  '} ${String(c.category)}: score ${String(c.score)}${th ? `: ${th}` : ' (no flag rule)'}`);
      }
      return [head, ...rows];
    }
    case 'decide': {
      const head = `decide     ${String(o.decision)} (${String(o.reason_code)})${at(o.rule)} from ${o.source === 'rule' ? 'a respond rule' : o.source === 'otherwise' ? '"otherwise"' : 'the allowlist miss'}`;
      const t = o.triggers as Obj;
      const rows = [
        `${INDENT}      triggers: denylist hits ${list(t.denylist_hits)}; flagged ${list(t.flagged)}; allowlist ${String(o.allowlist)}`,
        ...(o.rules as Obj[]).map((r) => `${INDENT}      ${r.matched ? 'yes ' : 'no  '} when ${list(r.when)} ${String(r.decision)}${at(r.rule)}: ${String(r.why)}`),
      ];
      const ow = o.otherwise as Obj;
      rows.push(`${INDENT}      ${ow.used ? 'yes ' : '    '} otherwise ${String(ow.decision)}${at(ow.rule)}`);
      rows.push(`${INDENT}      applied: ${String(o.applied)}`);
      return rows.length ? [head, ...rows] : [head];
    }
    case 'redaction': {
      const spans = Array.isArray(o.field_spans) ? (o.field_spans as (Obj | string)[]) : [];
      const real = spans.filter((x): x is Obj => typeof x === 'object');
      const head = `redactor   ${String(o.scope)}: ${real.length} span${real.length === 1 ? '' : 's'} redacted`;
      const rows = spans.map((x) => typeof x === 'string' ? `${INDENT}      ${x}`
        : `${INDENT}      ${String(x.type)} [${String(x.start)}, ${String(x.end)})${Array.isArray(x.chunks) ? ` in chunks ${x.chunks[0]}–${x.chunks[1]}` : ''}${typeof x.original === 'string' ? ` ${q(x.original)}` : ''}`);
      return [head, ...rows];
    }
    case 'audit':
      return [`auditor    one audit record (prompts ${String(o.prompts)}${Array.isArray(o.tags) && o.tags.length ? `, tags ${list(o.tags)}` : ''})`];
    default:
      return [`${s.plugin.padEnd(10)} ${s.kind}: ${JSON.stringify(s)}`];
  }
}

function preview(v: unknown, max = 400): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The upstream request's policy edits, as text: the instruction added (system / instructions) and the output cap. */
function upstreamSummary(req: Obj): string[] {
  const out: string[] = [];
  const msgs = req.messages;
  if (Array.isArray(msgs) && (msgs[0] as Obj | undefined)?.role === 'system') out.push(`system message: ${q(preview((msgs[0] as Obj).content, 300))}`);
  if (typeof req.instructions === 'string') out.push(`instructions: ${q(preview(req.instructions, 300))}`);
  for (const k of ['max_tokens', 'max_completion_tokens', 'max_output_tokens']) if (typeof req[k] === 'number') out.push(`${k}: ${String(req[k])}`);
  return out;
}

/** The answer's text as the client gets it: chat message content, legacy completion text, or the streamed content. */
function answerText(result: ExplainResult): string | undefined {
  const o = result.outcome!;
  if (o.stream) {
    let text = '';
    for (const ev of o.stream) {
      const c = ((ev as Obj).choices as Obj[] | undefined)?.[0];
      const d = (c?.delta as Obj | undefined)?.content ?? c?.text;
      if (typeof d === 'string') text += d;
    }
    return text;
  }
  const a = o.answer as Obj | null;
  if (Array.isArray(a?.output)) {
    // a Response: the text of its output_text parts
    const parts = (a.output as Obj[]).flatMap((item) => (Array.isArray(item?.content) ? (item.content as Obj[]) : []));
    const texts = parts.filter((p) => p?.type === 'output_text' && typeof p.text === 'string').map((p) => p.text as string);
    return texts.length > 0 ? texts.join('') : undefined;
  }
  const c = (a?.choices as Obj[] | undefined)?.[0];
  const t = (c?.message as Obj | undefined)?.content ?? c?.text;
  return typeof t === 'string' ? t : undefined;
}

/** Renders an explanation as text, step by step (the CLI's default output). Ends with a newline. */
export function renderExplain(result: ExplainResult): string {
  const lines: string[] = [];
  lines.push(`explain policy ${q(result.policy_id)}${result.revision ? ` (revision ${result.revision})` : ''}`);
  for (const d of result.diagnostics) lines.push(d.rendered);
  if (!result.ok) {
    lines.push(`not evaluated: ${result.problem!.message} [${result.problem!.code}]`);
    return `${lines.join('\n')}\n`;
  }
  lines.push('');
  result.steps.forEach((s, i) => {
    const [first, ...rest] = renderStep(s);
    lines.push(`${String(i + 1).padStart(2)}. ${first}`, ...rest);
  });
  if (result.dropped_steps > 0) lines.push(`    … ${result.dropped_steps} more steps not kept`);
  const v = result.verdict!;
  const o = result.outcome!;
  lines.push('');
  if (o.action === 'reject' && !result.steps.some((s) => s.kind === 'decide')) {
    lines.push(`verdict: none: the request was rejected before the decision (reason_code=${o.error!.reason_code})`);
  } else {
    lines.push(`verdict: decision=${v.decision} effective_decision=${v.effective_decision} reason_code=${v.reason_code} rollout_mode=${v.rollout_mode} enforced=${v.enforced} rule=${orDash(v.rule)}`);
    lines.push(`         triggered_categories=${list(v.triggered_categories)} allowlist_hits=${list(v.allowlist_hits)} denylist_hits=${list(v.denylist_hits)}`);
  }
  if (o.action !== 'forward') {
    lines.push(o.action === 'reject' ? `outcome: error ${o.status} ${o.error!.code}: ${o.error!.message}`
      : `outcome: answered by the policy, no upstream call: ${q(preview(o.content ?? ''))}`);
    if (v.decision === 'escalate' && v.enforced) lines.push('         (the escalation webhook is not sent by explain)');
    if (o.action === 'respond' && result.steps[0]?.endpoint === 'embeddings') lines.push('         (embeddings have no answer text: the client gets 403 GW_ERR_POLICY_REFUSED carrying it)');
    if (result.answer_given) lines.push('         (the answer given was not used: the upstream would not be called)');
  } else {
    lines.push('outcome: forwarded upstream');
    for (const l of upstreamSummary(o.upstream_request as Obj)) lines.push(`         ${l}`);
    const text = answerText(result);
    if (text !== undefined) lines.push(`         answer as the client gets it: ${q(preview(text))}`);
    else if (o.answer === null && o.stream === null) lines.push('         (no answer given: pass --answer or --stream to see the response side)');
  }
  return `${lines.join('\n')}\n`;
}
