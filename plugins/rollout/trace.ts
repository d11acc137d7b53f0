// The rollout plugin's evaluation-trace step (recorded only when a request is traced): every rule tried in file
// order with why it matched or not, the user's percentage bucket when a rule needed it, and the mode chosen.
import { globMatch } from '../../src/sdk/block-helpers.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import type { TraceRecorder } from '../../src/sdk/trace.ts';
import type { RolloutConfig } from './block.ts';
import { BUCKETS, rolloutBucket } from './hash.ts';

/** Records the `rollout` step: the same walk as selectRollout, with a reason per rule. */
export function traceRollout(config: RolloutConfig, ctx: RequestContext, trace: TraceRecorder): void {
  const target = ctx.meta.target;
  const user = ctx.meta.user;
  let bucket: number | null = null;
  let chosen = -1;
  const rules = config.rules.map((r, i) => {
    let matched = false;
    let why: string;
    if (chosen >= 0) why = 'not tried: an earlier rule matched';
    else if (r.match === 'exact' && target !== r.target) why = target === null ? 'the request names no target' : `target "${target}" is not "${r.target}"`;
    else if (r.match === 'glob' && (target === null || !globMatch(r.target, target))) why = target === null ? 'the request names no target' : `target "${target}" does not match "${r.target}"`;
    else if (r.threshold >= 0 && user === null) why = 'a percentage rule needs policy_user, and the request names none';
    else if (r.threshold >= 0 && (bucket ??= rolloutBucket(config.policyId, user!)) >= r.threshold) {
      why = `user bucket ${bucket} of ${BUCKETS} is not below ${r.threshold} (${r.percent}%)`;
    } else {
      matched = true;
      chosen = i;
      why = r.threshold >= 0 ? `target matches; user bucket ${bucket} of ${BUCKETS} is below ${r.threshold} (${r.percent}%)` : 'target matches';
    }
    return { rule: r.result.rule, mode: r.result.mode, target: r.target, percent: r.percent, matched, why };
  });
  const result = chosen >= 0 ? config.rules[chosen]!.result : config.fallback;
  trace.add({
    plugin: 'rollout', kind: 'rollout', rule: result.rule, target, user_bucket: bucket, mode: result.mode,
    source: result.source, rules,
  });
}
