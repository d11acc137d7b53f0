// The moderation plugin's evaluation-trace step (recorded only when a request is traced): the provider that scored
// the request, and every category with a score or a flag rule, its score against each threshold, flagged or not.
import type { RequestContext } from '../../src/sdk/context.ts';
import { moderationErrorKey, moderationKey } from '../../src/sdk/state-keys.ts';
import type { TraceRecorder } from '../../src/sdk/trace.ts';
import type { ModerationConfig } from './block.ts';
import { CATEGORIES } from './taxonomy.ts';

/** Records the `moderation` step from the published result (after the provider answered, or failed). */
export function traceModeration(config: ModerationConfig, ctx: RequestContext, trace: TraceRecorder): void {
  const result = ctx.get(moderationKey);
  const error = ctx.get(moderationErrorKey) ?? null;
  const scores = result?.scores ?? {};
  const categories = [];
  for (let c = 0; c < CATEGORIES.length; c++) {
    const category = CATEGORIES[c]!;
    const score = scores[category] ?? 0;
    const rules = config.flags[c]!;
    if (score === 0 && rules.length === 0) continue;
    const flaggedBy = rules.find((r) => score > r.threshold);
    categories.push({
      category, score: Math.round(score * 10_000) / 10_000,
      thresholds: rules.map((r) => ({ rule: r.rule, threshold: r.threshold, above: score > r.threshold })),
      flagged: flaggedBy !== undefined, rule: flaggedBy?.rule ?? null,
    });
  }
  trace.add({
    plugin: 'moderation', kind: 'moderation', provider: result?.provider ?? config.provider, scan: config.scan,
    error, on_error: error === null ? null : config.onError, flagged: result?.flagged ?? [], categories,
  });
}
