// The rollout plugin (block `rollout`): per request, picks enforce or shadow from policy_target (exact, glob,
// default) and a stable percentage of policy_user, before topics/moderation/decide run; publishes it as rolloutKey.
import { definePlugin, type PluginHooks } from '../../src/sdk/plugin.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { compileRollout, type RolloutConfig } from './block.ts';
import { selectRollout } from './select-rollout.ts';
import { rolloutKey } from '../../src/sdk/state-keys.ts';
import { traceRollout } from './trace.ts';

/** Publishes the rollout choice (`rolloutKey`: enforce or shadow, and the rule that chose it) for one request. */
export function applyRollout(config: RolloutConfig, ctx: RequestContext): void {
  ctx.set(rolloutKey, selectRollout(config, ctx.meta.target, ctx.meta.user));
  if (ctx.trace !== undefined) traceRollout(config, ctx, ctx.trace);
}

/**
 * The rollout plugin. Off (no hooks) for a policy without a `rollout` block: the verdict is then enforced
 * (`rollout_mode: "enforced"`, `enforced: true`).
 */
export const rolloutPlugin = definePlugin<RolloutConfig>({
  name: 'rollout',
  blocks: ['rollout'],
  diagnostics: [480, 489],
  compile: (blocks, env) => compileRollout(blocks, env),
  hooks(config): PluginHooks {
    return Object.freeze({ requestAccess: 'none', onRequest: (ctx: RequestContext) => { applyRollout(config, ctx); } });
  },
});

export default rolloutPlugin;
export { compileRollout, selectRollout, rolloutKey };
export type { RolloutConfig };
export { rolloutBucket } from './hash.ts';
