// The moderation plugin (block `moderation`): classifies the scanned messages with the configured provider (builtin
// lexicon classifier, an OpenAI-style moderation endpoint, or a Llama-Guard-style classifier), turns scores into flagged
// categories with the policy's flag rules, and publishes them (moderationKey) for decide and the verdict.
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { definePlugin, type PluginHooks, type RequestAction } from '../../src/sdk/plugin.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { defineErrors, GatewayError } from '../../src/sdk/errors.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';
import { scannedTexts } from '../../src/sdk/text.ts';
import { unreadablePrompt } from '../../src/sdk/prompt-view.ts';
import { compileModeration, type ModerationConfig } from './block.ts';
import { builtinClassifier, ZERO_SCORES, type Scores } from './builtin.ts';
import { llamaGuardProvider, openAIProvider, ProviderError, type ModerationProvider } from './providers.ts';
import { moderationErrorKey, moderationKey, type ModerationResult } from '../../src/sdk/state-keys.ts';
import { CATEGORIES } from './taxonomy.ts';
import { traceModeration } from './trace.ts';

export { moderationErrorKey, moderationKey, type ModerationResult } from '../../src/sdk/state-keys.ts';
export { compileModeration, MODERATION_STATEMENTS, PROVIDER_SETTINGS, MODERATION_DEFAULTS, type ModerationConfig, type FlagRule } from './block.ts';
export { BuiltinClassifier, builtinClassifier, ZERO_SCORES, type Scores, type Explanation, type FiredRule } from './builtin.ts';
export {
  PROVIDERS, LLAMA_GUARD_CATEGORIES, REMOTE_DEFAULTS, ProviderError, openAIProvider, llamaGuardProvider, llamaGuardPrompt,
  parseOpenAIModeration, parseLlamaGuard, type ModerationProvider, type ProviderName, type RemoteSettings, type ProviderFailure,
} from './providers.ts';
export { CATEGORIES, expandCategoryGlob, categoryGlobMatch } from './taxonomy.ts';

/** The errors moderation answers with (docs/errors.md). */
export const MODERATION_ERRORS = defineErrors({
  GW_ERR_MODERATION_UNAVAILABLE: { status: 503, type: 'server_error', openaiCode: 'moderation_unavailable', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the moderation provider is unavailable and this policy fails closed' },
});

/** Every metric this plugin writes (labels come from configuration only). */
export const MODERATION_METRICS = defineMetrics({
  /** One per flagged category per request. */
  flags: { type: 'counter', name: 'policy_gateway_moderation_flags_total', help: 'Moderation categories flagged, by policy and category.', labels: ['policy_id', 'category'] },
  /** Classification time (cache hits included, as ~0). */
  seconds: { type: 'histogram', name: 'policy_gateway_moderation_duration_seconds', help: 'Moderation provider latency.', labels: ['provider'], buckets: 'latency' },
  /** Failed remote calls, by provider and the fail mode applied (fail_open, fail_closed). */
  errors: { type: 'counter', name: 'policy_gateway_moderation_errors_total', help: 'Moderation provider failures, by provider and fail mode applied.', labels: ['provider', 'result'] },
});

const EMPTY: readonly string[] = Object.freeze([]);
const NO_RULES: Readonly<Record<string, string>> = Object.freeze({});

/** The per-policy run-time state: config, provider, cache and the shared nothing-flagged results. */
export interface ModerationRuntime {
  readonly config: ModerationConfig;
  readonly remote: ModerationProvider | null;
  readonly cache: LRUCache<string, Scores> | null;
  /** Published when nothing is flagged and the scores are all zero (the common case): no allocation. */
  readonly clean: ModerationResult;
  /** The same for a cascade's local decision (provider `builtin`). */
  readonly cleanBuiltin: ModerationResult;
  /** Published after a fail-open provider error. */
  readonly failedOpen: ModerationResult;
}

/**
 * Turns scores into the published result (`moderationKey`): flagged categories (taxonomy order, which is sorted) and
 * the rule that flagged each; counts flags. Sync.
 */
export function applyScores(rt: ModerationRuntime, ctx: RequestContext, scores: Scores, provider: string): void {
  const flags = rt.config.flags;
  let flagged: string[] | undefined;
  let rules: Record<string, string> | undefined;
  if (scores !== ZERO_SCORES) {
    for (let c = 0; c < CATEGORIES.length; c++) {
      const cat = CATEGORIES[c]!;
      const s = scores[cat] ?? 0;
      const fr = flags[c]!;
      for (let k = 0; k < fr.length; k++) {
        if (s > fr[k]!.threshold) {
          (flagged ??= []).push(cat);
          (rules ??= {})[cat] = fr[k]!.rule;
          break;
        }
      }
    }
  }
  if (flagged === undefined) {
    ctx.set(moderationKey, scores === ZERO_SCORES && provider === rt.clean.provider ? rt.clean
      : scores === ZERO_SCORES && provider === 'builtin' ? rt.cleanBuiltin
        : { flagged: EMPTY, scores, provider, rules: NO_RULES });
    return;
  }
  ctx.set(moderationKey, { flagged, scores, provider, rules: rules! });
  const counter = ctx.services.metricsOf(MODERATION_METRICS).flags;
  const policyId = rt.config.policyId;
  for (const category of flagged) counter.inc({ policy_id: policyId, category }, 1);
}

/** `{ provider }` label objects, frozen and shared (the metric then skips its label work). */
const PROVIDER_LABELS = new Map<string, Readonly<Record<string, string>>>();

function observe(ctx: RequestContext, provider: string, startMs: number): void {
  let labels = PROVIDER_LABELS.get(provider);
  if (labels === undefined) PROVIDER_LABELS.set(provider, (labels = Object.freeze({ provider })));
  ctx.services.metricsOf(MODERATION_METRICS).seconds.observe(labels, (performance.now() - startMs) / 1000);
}

/** Cache key: sha256 of the scanned text. */
function cacheKey(text: string): string {
  return hash('sha256', text, 'base64');
}

/**
 * The remote path: cache, then a call bounded by the provider timeout and the request's signal. `fallback`: the
 * builtin scores of a cascade, used instead when the call fails open.
 */
async function classifyRemote(rt: ModerationRuntime, ctx: RequestContext, text: string, key: string, fallback?: Scores): Promise<RequestAction> {
  const provider = rt.remote!;
  const timeout = AbortSignal.timeout(rt.config.remote!.timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  const t0 = performance.now();
  let scores: Scores;
  try {
    scores = await provider.classify(text, signal, ctx.services.env);
  } catch (e) {
    observe(ctx, provider.name, t0);
    const reason = e instanceof ProviderError ? e.reason : 'network';
    if (ctx.signal.aborted && !timeout.aborted) return undefined; // the client left: nothing to decide, nothing to count
    const result = rt.config.onError === 'open' ? 'fail_open' : 'fail_closed';
    ctx.services.metricsOf(MODERATION_METRICS).errors.inc({ provider: provider.name, result });
    ctx.log.warn({ plugin: 'moderation', provider: provider.name, reason, result }, 'moderation provider failed');
    ctx.set(moderationErrorKey, reason);
    if (rt.config.onError === 'closed') {
      return { kind: 'reject', error: new GatewayError(MODERATION_ERRORS.GW_ERR_MODERATION_UNAVAILABLE, [], { cause: e }) };
    }
    if (fallback !== undefined) applyScores(rt, ctx, fallback, 'builtin');
    else ctx.set(moderationKey, rt.failedOpen);
    return undefined;
  }
  observe(ctx, provider.name, t0);
  rt.cache?.set(key, scores);
  applyScores(rt, ctx, scores, provider.name);
  return undefined;
}

/** Builds the per-policy runtime (provider instance, cache). Called once per policy load. */
export function createRuntime(config: ModerationConfig): ModerationRuntime {
  const remote = config.remote === null ? null : config.remote.kind === 'openai' ? openAIProvider(config.remote) : llamaGuardProvider(config.remote);
  const cache = remote !== null && config.cacheSize > 0 ? new LRUCache<string, Scores>({ max: config.cacheSize }) : null;
  return Object.freeze({
    config,
    remote,
    cache,
    clean: Object.freeze({ flagged: EMPTY, scores: ZERO_SCORES, provider: config.provider, rules: NO_RULES }),
    cleanBuiltin: Object.freeze({ flagged: EMPTY, scores: ZERO_SCORES, provider: 'builtin', rules: NO_RULES }),
    failedOpen: Object.freeze({ flagged: EMPTY, scores: Object.freeze({}), provider: 'error', rules: NO_RULES }),
  });
}

/**
 * The request hook body. Builtin: synchronous, returns undefined (never a promise). Remote: a cache hit is
 * answered synchronously too; otherwise returns the promise of the provider call.
 */
export function moderateRequest(rt: ModerationRuntime, ctx: RequestContext): RequestAction | Promise<RequestAction> {
  const config = rt.config;
  // Token ids (embeddings, completions) carry text no provider here can read: refused, not waved through.
  const unreadable = unreadablePrompt(ctx.meta.policyId, ctx.prompt);
  if (unreadable !== undefined) return unreadable;
  let local: Scores | undefined;
  if (config.cascade !== null) {
    // the builtin classifier first: outside the band its scores decide, inside it the remote provider does
    const t0 = performance.now();
    local = builtinClassifier().classifyPrompt(ctx.prompt, config.scan);
    observe(ctx, 'builtin', t0);
    const top = maxScore(local);
    if (top < config.cascade.low || top > config.cascade.high) {
      applyScores(rt, ctx, local, 'builtin');
      return undefined;
    }
  }
  if (rt.remote === null) {
    const t0 = performance.now();
    const scores = builtinClassifier().classifyPrompt(ctx.prompt, config.scan);
    observe(ctx, 'builtin', t0);
    applyScores(rt, ctx, scores, 'builtin');
    return undefined;
  }
  const text = scannedTexts(ctx.prompt, config.scan).join('\n\n');
  if (text.trim() === '') {
    ctx.set(moderationKey, rt.clean);
    return undefined;
  }
  const key = cacheKey(text);
  const hit = rt.cache?.get(key);
  if (hit !== undefined) {
    const t0 = performance.now();
    applyScores(rt, ctx, hit, rt.remote.name);
    observe(ctx, rt.remote.name, t0);
    return undefined;
  }
  return classifyRemote(rt, ctx, text, key, local);
}

/** The highest category score. */
function maxScore(scores: Scores): number {
  if (scores === ZERO_SCORES) return 0;
  let m = 0;
  for (let c = 0; c < CATEGORIES.length; c++) { const v = scores[CATEGORIES[c]!]!; if (v > m) m = v; }
  return m;
}

/** The moderation plugin. */
export const moderationPlugin = definePlugin<ModerationConfig>({
  name: 'moderation',
  blocks: ['moderation'],
  errors: MODERATION_ERRORS,
  metrics: MODERATION_METRICS,
  diagnostics: [430, 439],
  compile: (blocks, env) => compileModeration(blocks, env),
  hooks(config): PluginHooks {
    const rt = createRuntime(config);
    return Object.freeze({
      requestAccess: 'read',
      onRequest: (ctx: RequestContext) => {
        const action = moderateRequest(rt, ctx);
        if (ctx.trace === undefined) return action;
        const trace = ctx.trace;
        if (action instanceof Promise) return action.then((a) => { traceModeration(config, ctx, trace); return a; });
        traceModeration(config, ctx, trace);
        return action;
      },
    });
  },
});

export default moderationPlugin;
