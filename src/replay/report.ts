// The replay report: `--fail-on` gate specs (parsed once, matched per replayed record) and the decision diff as text
// for people or JSON for tools. Pure functions over a ReplaySummary (src/replay/replay.ts).
import type { DecisionTriple } from './records.ts';
import type { ReplaySummary } from './replay.ts';

/** Decisions a gate may name (`reject`: answered with an error, e.g. a policy the new rules no longer have). */
export const GATE_DECISIONS: readonly string[] = Object.freeze(['allow', 'rewrite', 'summary', 'escalate', 'refuse', 'reject']);

/** One `--fail-on` term: `FROM->TO` (a decision or `*`), `any-flip` or `any-change`. */
export type GateTerm =
  | { readonly kind: 'flip'; readonly text: string; readonly from: string; readonly to: string }
  | { readonly kind: 'any-flip'; readonly text: string }
  | { readonly kind: 'any-change'; readonly text: string };

/**
 * Parses a `--fail-on` value: comma-separated terms, `allow->refuse`, `refuse->allow`, `*->refuse`, `any-flip` (the
 * decision or the effective decision changed), `any-change` (decision, effective decision or reason code changed).
 * Returns the terms, or an error message.
 */
export function parseGate(spec: string): GateTerm[] | string {
  const out: GateTerm[] = [];
  for (const raw of spec.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    if (t === 'any-flip' || t === 'any-change') { out.push({ kind: t, text: t }); continue; }
    const m = /^([a-z*]+)\s*->\s*([a-z*]+)$/.exec(t);
    if (!m) return `--fail-on: "${t}" is not FROM->TO, any-flip or any-change`;
    for (const d of [m[1]!, m[2]!]) {
      if (d !== '*' && !GATE_DECISIONS.includes(d)) return `--fail-on: unknown decision "${d}" in "${t}" (expected one of: ${GATE_DECISIONS.join(', ')}, *)`;
    }
    if (m[1] === m[2] && m[1] !== '*') return `--fail-on: "${t}" names no change`;
    out.push({ kind: 'flip', text: `${m[1]}->${m[2]}`, from: m[1]!, to: m[2]! });
  }
  if (out.length === 0) return '--fail-on needs at least one term (e.g. allow->refuse,refuse->allow)';
  return out;
}

const flips = (from: string, to: string, a: string, b: string): boolean => a !== b && (from === '*' || from === a) && (to === '*' || to === b);

/**
 * The gate terms a replayed record's change matches. A `FROM->TO` term matches when the decision or the effective
 * decision went from FROM to TO (so enforcing a shadow rule, allow → refuse in effect, is caught too).
 */
export function matchGate(terms: readonly GateTerm[], old: DecisionTriple, now: DecisionTriple): GateTerm[] {
  const hit: GateTerm[] = [];
  for (const t of terms) {
    let m: boolean;
    switch (t.kind) {
      case 'any-change': m = old.decision !== now.decision || old.effective !== now.effective || old.reason !== now.reason; break;
      case 'any-flip': m = old.decision !== now.decision || old.effective !== now.effective; break;
      case 'flip': m = flips(t.from, t.to, old.decision, now.decision) || flips(t.from, t.to, old.effective, now.effective); break;
    }
    if (m) hit.push(t);
  }
  return hit;
}

/** What the gate found: per term, how many records matched and a few ids. */
export interface GateReport { readonly spec: string; readonly matched: number; readonly terms: { term: string; count: number; examples: string[] }[] }

const triple = (t: DecisionTriple): string => (t.effective === t.decision ? `${t.decision} ${t.reason}` : `${t.decision} ${t.reason} (effective ${t.effective})`);
const pct = (n: number, of: number): string => (of === 0 ? '0%' : `${((100 * n) / of).toFixed(n === of || n === 0 ? 0 : 1)}%`);

/** The human-readable report. */
export function renderText(s: ReplaySummary, labels: { old: string; new: string }, gate: GateReport | undefined): string {
  const out: string[] = [];
  const notReplayable = s.skipped.reduce((n, k) => n + k.count, 0);
  out.push(`replay: ${s.lines} ${s.lines === 1 ? 'line' : 'lines'} read — ${s.replayed} replayed, ${notReplayable} not replayable, ${s.badCount} bad`);
  out.push(`old: ${labels.old}   new: ${labels.new}`);
  out.push(`changed: ${s.changed} of ${s.replayed} (${pct(s.changed, s.replayed)})`);
  let policy: string | undefined;
  for (const b of s.buckets) {
    if (b.policy !== policy) {
      policy = b.policy;
      out.push('', `policy ${policy}`);
    }
    const arrow = b.changed ? '->' : '==';
    out.push(`  ${String(b.count).padStart(7)}  ${triple(b.old)} ${arrow} ${triple(b.new)}   e.g. ${b.examples.join(', ')}`);
  }
  if (s.recorded.compared > 0) {
    out.push('', `recorded decisions reproduced by the old rules: ${s.recorded.compared - s.recorded.mismatched} of ${s.recorded.compared}`);
    for (const m of s.recorded.examples) out.push(`  ${m.id}: recorded ${triple(m.recorded)}, old rules give ${triple(m.old)}`);
    if (s.recorded.mismatched > 0) out.push('  (the old rules are not the ones that served these records, or a rule depends on a redacted span)');
  }
  if (s.redactedInput > 0) out.push('', `${s.redactedInput} replayed ${s.redactedInput === 1 ? 'record' : 'records'} had spans redacted from the captured input: a rule matching a redacted span can decide differently`);
  if (notReplayable > 0) {
    out.push('', 'not replayable:');
    for (const k of s.skipped) out.push(`  ${String(k.count).padStart(7)}  ${k.reason}   e.g. ${k.examples.join(', ')}`);
  }
  if (s.badCount > 0) {
    out.push('', `bad lines (${s.badCount}, skipped):`);
    for (const b of s.bad) out.push(`  line ${b.line}: ${b.reason}`);
    if (s.badCount > s.bad.length) out.push(`  … and ${s.badCount - s.bad.length} more`);
  }
  if (gate) {
    out.push('', gate.matched > 0 ? `gate --fail-on ${gate.spec}: FAILED, ${gate.matched} ${gate.matched === 1 ? 'record' : 'records'} changed as gated` : `gate --fail-on ${gate.spec}: passed`);
    for (const t of gate.terms) if (t.count > 0) out.push(`  ${t.term}: ${t.count}   e.g. ${t.examples.join(', ')}`);
  }
  const secs = s.durationMs / 1000;
  // A rate over a handful of records would mostly measure the warm-up.
  const rate = s.replayed >= 1000 && secs > 0 ? ` (${Math.round(s.replayed / secs)} records/s)` : '';
  out.push('', `${s.replayed} ${s.replayed === 1 ? 'record' : 'records'} replayed under both rule sets in ${secs.toFixed(2)} s${rate}`);
  return `${out.join('\n')}\n`;
}

/** The report as one JSON document (stable keys, for CI tools). */
export function renderJson(s: ReplaySummary, labels: { old: string; new: string }, gate: GateReport | undefined): string {
  return `${JSON.stringify({
    old: labels.old, new: labels.new, lines: s.lines, replayed: s.replayed, changed: s.changed, redacted_input: s.redactedInput,
    buckets: s.buckets.map((b) => ({ policy: b.policy, changed: b.changed, count: b.count, old: b.old, new: b.new, examples: b.examples })),
    not_replayable: s.skipped, bad_lines: { count: s.badCount, listed: s.bad },
    recorded: s.recorded, gate: gate ?? null, duration_ms: Math.round(s.durationMs),
  }, null, 2)}\n`;
}
