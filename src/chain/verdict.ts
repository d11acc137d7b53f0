// The verdict of a request, assembled in one place from what the plugins published (rollout mode, topic hits,
// moderation flags, the decision), and the `policy` block every answer carries.
import type { RequestContext, Verdict } from '../sdk/context.ts';
import { decisionKey, moderationKey, rolloutKey, topicsKey } from '../sdk/state-keys.ts';
import type { StateKey } from '../sdk/context.ts';
import type { PolicyBlock } from '../sdk/types.ts';

const EMPTY: readonly string[] = Object.freeze([]);

/** The verdict of a request with nothing published: allowed, enforced. */
export const DEFAULT_VERDICT: Verdict = Object.freeze({
  decision: 'allow', effectiveDecision: 'allow', reasonCode: 'ALLOW', triggeredCategories: EMPTY,
  allowlistHits: EMPTY, denylistHits: EMPTY, rolloutMode: 'enforced', enforced: true, rule: null,
});

/** `xs` sorted and without repeats (already so from the builtin provider: then `xs` itself, no copy). */
function sortedUnique(xs: readonly string[]): readonly string[] {
  for (let i = 1; i < xs.length; i++) {
    if (!(xs[i - 1]! < xs[i]!)) return [...new Set(xs)].sort();
  }
  return xs;
}

/**
 * Assembles the verdict from the published state: the decision (decide), shadow or enforced (rollout; enforced when
 * absent), the flagged categories (moderation) and the list hits (topics). In shadow mode the effective decision is
 * `allow` and nothing is enforced. Allocates one object; the lists are the published ones.
 */
export function assembleVerdict(state: { get<T>(key: StateKey<T>): T | undefined }): Verdict {
  const rollout = state.get(rolloutKey);
  const decided = state.get(decisionKey);
  const topics = state.get(topicsKey);
  const mod = state.get(moderationKey);
  if (rollout === undefined && decided === undefined && topics === undefined && mod === undefined) return DEFAULT_VERDICT;
  const mode = rollout?.mode ?? 'enforced';
  const enforced = mode === 'enforced';
  const decision = decided?.decision ?? 'allow';
  return {
    decision,
    effectiveDecision: enforced ? decision : 'allow',
    reasonCode: decided?.reasonCode ?? 'ALLOW',
    triggeredCategories: mod === undefined || mod.flagged.length === 0 ? EMPTY : sortedUnique(mod.flagged),
    allowlistHits: topics?.allowlistHits ?? EMPTY,
    denylistHits: topics?.denylistHits ?? EMPTY,
    rolloutMode: mode,
    enforced,
    rule: decided?.rule ?? null,
  };
}

/** The `policy` block (README, "HTTP contract") for this request, field names exactly as in the integration contract. */
export function policyBlock(ctx: RequestContext): PolicyBlock {
  const v = ctx.verdict;
  return {
    policy_id: ctx.meta.policyId,
    decision: v.decision,
    effective_decision: v.effectiveDecision,
    reason_code: v.reasonCode,
    triggered_categories: v.triggeredCategories,
    allowlist_hits: v.allowlistHits,
    denylist_hits: v.denylistHits,
    rollout_mode: v.rolloutMode,
    enforced: v.enforced,
    policy_target: ctx.meta.target,
    policy_user: ctx.meta.user,
    project_id: ctx.meta.project,
  };
}
