// The rollout plugin (block `rollout`): per request, picks enforce or shadow from policy_target (exact, glob,
// default) and a stable percentage of policy_user, before topics/moderation/decide run. decide reads ctx.verdict.
import { definePlugin, type PluginHooks } from '../../src/sdk/plugin.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { compileRollout, type RolloutConfig } from './block.ts';
import { selectRollout } from './select-rollout.ts';
import { rolloutKey } from '../../src/sdk/state-keys.ts';

/** Sets `ctx.verdict.rolloutMode` / `enforced` and publishes `rolloutKey` for one request. */
export function applyRollout(config: RolloutConfig, ctx: RequestContext): void {
  const r = selectRollout(config, ctx.meta.target, ctx.meta.user);
  ctx.set(rolloutKey, r);
  ctx.verdict.rolloutMode = r.mode;
  ctx.verdict.enforced = r.mode === 'enforced';
}

/**
 * The rollout plugin. Off (no hooks) for a policy without a `rollout` block: the server's verdict defaults
 * (`rollout_mode: "enforced"`, `enforced: true`) then apply.
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
