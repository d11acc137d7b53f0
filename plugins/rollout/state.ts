// State the rollout plugin publishes for later plugins (decide reads ctx.verdict; the auditor may read this):
// which rollout rule chose enforce or shadow for this request.
import { stateKey } from '../../src/sdk/context.ts';
import type { RolloutMode } from '../../src/sdk/types.ts';

/** The rollout choice for one request. Precomputed per rule and shared (frozen): never mutate it. */
export interface RolloutResult {
  readonly mode: RolloutMode;
  /** `file:line` of the rule (or `default` statement) that chose the mode; null for the built-in default. */
  readonly rule: string | null;
  /** How the mode was chosen: a target rule, or the default because no rule matched. */
  readonly source: 'rule' | 'default';
}

/** Set by the rollout plugin's onRequest when the policy has a rollout block. */
export const rolloutKey = stateKey<RolloutResult>('rollout');
