// The topics plugin (block `topics`): matches the scanned messages against the policy's allow and deny phrases and
// regexes, and publishes the hits (topicsKey) for decide and the verdict. It never answers a request by itself.
import { definePlugin, type PluginHooks, type RequestAction } from '../../src/sdk/plugin.ts';
import { unreadablePrompt } from '../../src/sdk/prompt-view.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { compileTopics, type TopicsConfig } from './block.ts';
import { topicsKey, type TopicsResult } from '../../src/sdk/state-keys.ts';
import { traceTopics } from './trace.ts';

export { topicsKey, type TopicsResult } from '../../src/sdk/state-keys.ts';
export { compileTopics, pluralForms, TOPICS_STATEMENTS, type TopicsConfig } from './block.ts';
export { normalizeText, TextNormalizer, HOMOGLYPHS, type WordSink } from './normalize.ts';
export { WordAutomaton, WordScanner, type MatchSink } from './automaton.ts';
export { TopicMatcher, type TopicEntry, type TopicHits } from './matcher.ts';
export { SCAN_MODES, DEFAULT_SCAN, SCOPES, DEFAULT_SCOPE, type ScanMode, type Scope, visitScannedTexts, scannedTexts } from './scan.ts';

/**
 * Scans the request and publishes the result as `topicsKey`: the configured phrases as written that matched, in
 * configuration order, deduplicated (the verdict's list hits). Sync; allocation-free when nothing matches (a shared
 * frozen result is published).
 */
export function scanTopics(config: TopicsConfig, ctx: RequestContext, noHits: TopicsResult): void {
  const hits = config.matcher.matchPrompt(ctx.prompt, config.scan, config.scope);
  if (hits.allow.length === 0 && hits.deny.length === 0) {
    ctx.set(topicsKey, noHits);
    return;
  }
  const entries = config.matcher.entries;
  const allowlistHits = hits.allow.map((e) => entries[e]!.text);
  const denylistHits = hits.deny.map((e) => entries[e]!.text);
  const result: TopicsResult = {
    allowlistConfigured: config.allowlistConfigured,
    allowlistHits,
    denylistHits,
    denyRule: hits.deny.length > 0 ? entries[hits.deny[0]!]!.rule : null,
  };
  ctx.set(topicsKey, result);
}

/** The topics plugin. */
export const topicsPlugin = definePlugin<TopicsConfig>({
  name: 'topics',
  blocks: ['topics'],
  diagnostics: [420, 429],
  compile: (blocks, env) => compileTopics(blocks, env),
  hooks(config): PluginHooks {
    const noHits: TopicsResult = Object.freeze({
      allowlistConfigured: config.allowlistConfigured,
      allowlistHits: Object.freeze([]) as readonly string[],
      denylistHits: Object.freeze([]) as readonly string[],
      denyRule: null,
    });
    return Object.freeze({
      requestAccess: 'read',
      onRequest(ctx: RequestContext): RequestAction {
        // Token ids (embeddings, completions) carry text the matcher cannot read: refused, not waved through.
        const unreadable = unreadablePrompt(ctx.meta.policyId, ctx.prompt);
        if (unreadable !== undefined) return unreadable;
        scanTopics(config, ctx, noHits);
        if (ctx.trace !== undefined) traceTopics(config, ctx, ctx.trace);
        return undefined;
      },
    });
  },
});

export default topicsPlugin;
