// The decide plugin's evaluation-trace step (recorded only when a request is traced): the triggers it decided from,
// the allowlist check, every `when` rule tried in file order with why it did or did not match, and the outcome.
import type { RequestContext } from '../../src/sdk/context.ts';
import { rolloutKey } from '../../src/sdk/state-keys.ts';
import type { TraceRecorder } from '../../src/sdk/trace.ts';
import { ruleCoversCategory, type CompiledRespondRule, type DecisionOutcome, type RespondConfig } from './block.ts';
import type { DecisionInput } from './evaluate-decision.ts';
import { MODERATION_CATEGORY_SET } from './taxonomy.ts';

/** The triggers of `input` that fire `rule` (a denylist hit, flagged categories), in that order. */
function firedBy(rule: CompiledRespondRule, input: DecisionInput): string[] {
  const out: string[] = [];
  if (rule.any) {
    if (input.denylistHits.length > 0) out.push('denylist');
    out.push(...input.flagged);
    return out;
  }
  if (rule.denylist && input.denylistHits.length > 0) out.push('denylist');
  for (const c of input.flagged) {
    if (MODERATION_CATEGORY_SET.has(c) ? rule.categories.includes(c) : ruleCoversCategory(rule, c)) out.push(c);
  }
  return out;
}

/** What a rule listens to, as written: `any`, `denylist` and category globs. */
function triggersOf(rule: CompiledRespondRule): string[] {
  if (rule.any) return ['any'];
  return [...(rule.denylist ? ['denylist'] : []), ...rule.globs.map((g) => g.glob)];
}

function outcomeOf(o: DecisionOutcome): { decision: string; reason_code: string; rule: string | null } {
  return { decision: o.decision, reason_code: o.reasonCode, rule: o.rule };
}

/**
 * Records the `decide` step. Walks the same flow as evaluateDecision (allowlist miss, first `when` rule a present
 * trigger fires, `otherwise`) and says, per rule, why it did or did not match; `chosen` MUST equal what was published.
 */
export function traceDecision(config: RespondConfig, input: DecisionInput, chosen: DecisionOutcome, ctx: RequestContext, trace: TraceRecorder): void {
  const miss = input.allowlistConfigured && input.allowlistHits.length === 0;
  let matched = miss;
  const rules = config.rules.map((r) => {
    const fired = miss ? [] : firedBy(r, input);
    let why: string;
    let hit = false;
    if (miss) why = 'not tried: the allowlist missed';
    else if (matched) why = 'not tried: an earlier rule matched';
    else if (fired.length > 0) { hit = true; matched = true; why = `fired by ${fired.map((f) => (f === 'denylist' ? 'a denylist hit' : `"${f}"`)).join(', ')}`; }
    else why = r.any ? 'no trigger present' : `none of ${triggersOf(r).map((t) => `"${t}"`).join(', ')} present`;
    return { ...outcomeOf(r.outcome), when: triggersOf(r), matched: hit, why };
  });
  const shadow = ctx.get(rolloutKey)?.mode === 'shadow';
  trace.add({
    plugin: 'decide', kind: 'decide', rule: chosen.rule,
    triggers: { allowlist_configured: input.allowlistConfigured, allowlist_hits: input.allowlistHits, denylist_hits: input.denylistHits, flagged: input.flagged },
    allowlist: !input.allowlistConfigured ? 'not configured' : miss ? 'missed: nothing on the allowlist matched, so the request is refused' : 'matched',
    rules,
    otherwise: { ...outcomeOf(config.otherwise), used: chosen.source === 'otherwise' },
    source: chosen.source, decision: chosen.decision, reason_code: chosen.reasonCode,
    applied: shadow ? 'not applied: shadow mode lets the request through unchanged' : chosen.effect.kind,
  });
}
