// Rollout selection on the request path: the first rule (file order) whose target and percentage match picks
// enforce or shadow; else the default. Pure, allocation-free; the user bucket is hashed at most once per request.
import { globMatch } from '../../src/sdk/block-helpers.ts';
import type { RolloutConfig } from './block.ts';
import { rolloutBucket } from './hash.ts';
import type { RolloutResult } from '../../src/sdk/state-keys.ts';

/**
 * Picks the rollout result for a request with `target` (policy_target) and `user` (policy_user), either null.
 * A request without a target matches only catch-all (`"*"`) rules and the default. A request without a user
 * never matches a percentage rule (it falls through to the next rule).
 */
export function selectRollout(config: RolloutConfig, target: string | null, user: string | null): RolloutResult {
  const rules = config.rules;
  let bucket = -1;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (r.match === 'exact') {
      if (target !== r.target) continue;
    } else if (r.match === 'glob') {
      if (target === null || !globMatch(r.target, target)) continue;
    }
    if (r.threshold >= 0) {
      if (user === null) continue;
      if (bucket < 0) bucket = rolloutBucket(config.policyId, user);
      if (bucket >= r.threshold) continue;
    }
    return r.result;
  }
  return config.fallback;
}
