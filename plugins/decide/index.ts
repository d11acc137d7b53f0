// The decide plugin (block `respond`): turns topic hits and moderation flags into the request's decision
// (DESIGN §3) and, when rollout enforces it, applies it: refuse/escalate answer locally, rewrite/summary edit the request
// (the instruction and token cap go where the endpoint takes them: src/sdk/request-edits.ts).
import { definePlugin, type PluginHooks, type RequestAction } from '../../src/sdk/plugin.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { decisionKey, moderationKey, rolloutKey, topicsKey } from '../../src/sdk/state-keys.ts';
import { compileRespond, type RespondConfig } from './block.ts';
import { addInstruction, capOutputTokens } from '../../src/sdk/request-edits.ts';
import { buildEscalationEvent, sendEscalation } from './escalation.ts';
import { evaluateDecision } from './evaluate-decision.ts';
import { DECIDE_REASON_CODES } from './reason-codes.ts';
import { traceDecision } from './trace.ts';

/** Every metric this plugin writes (labels come from configuration only). */
export const DECIDE_METRICS = defineMetrics({
  /** One per escalation event, after delivery succeeded or its last attempt failed (result: sent, failed). */
  escalations: { type: 'counter', name: 'policy_gateway_escalations_total', help: 'Escalation webhooks, by policy and result (sent, failed).', labels: ['policy_id', 'result'] },
});

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Decides one request from the published topic hits and moderation flags, publishes the decision (`decisionKey`:
 * decision, reason code, rule) and, when rollout enforces it, applies it. In shadow mode the request is left untouched
 * (the verdict then reads effective decision "allow", enforced false) and no webhook is sent.
 */
export function decideRequest(config: RespondConfig, ctx: RequestContext): RequestAction {
  const topics = ctx.get(topicsKey);
  const mod = ctx.get(moderationKey);
  const flagged = mod?.flagged ?? EMPTY;
  const input = {
    allowlistConfigured: topics?.allowlistConfigured ?? false,
    allowlistHits: topics?.allowlistHits ?? EMPTY,
    denylistHits: topics?.denylistHits ?? EMPTY,
    flagged,
  };
  const out = evaluateDecision(config, input);
  ctx.set(decisionKey, out);
  if (ctx.trace !== undefined) traceDecision(config, input, out, ctx, ctx.trace);
  if (ctx.get(rolloutKey)?.mode === 'shadow') return undefined;
  const eff = out.effect;
  switch (eff.kind) {
    case 'allow':
      return undefined;
    case 'refuse':
      return { kind: 'respond', content: eff.content };
    case 'rewrite':
      // Embeddings take no instruction: the request goes on unchanged (the verdict still says rewrite).
      if (addInstruction(ctx.endpoint, ctx.request, eff.instruction, eff.suffix)) ctx.markRequestChanged();
      return undefined;
    case 'summary': {
      const instructed = addInstruction(ctx.endpoint, ctx.request, eff.instruction, eff.suffix);
      if (capOutputTokens(ctx.endpoint, ctx.request, eff.maxTokens) || instructed) ctx.markRequestChanged();
      return undefined;
    }
    case 'escalate': {
      const esc = config.escalation;
      if (esc === null) {
        ctx.log.warn({ plugin: 'decide', rule: out.rule }, 'escalation has no url');
        return { kind: 'respond', content: eff.content };
      }
      const body = JSON.stringify(buildEscalationEvent(ctx, out, esc.includePrompt));
      const sink = { metric: ctx.services.metricsOf(DECIDE_METRICS).escalations, log: ctx.log, policyId: config.policyId };
      const id = ctx.id;
      ctx.services.background(async () => { await sendEscalation(esc, body, id, sink); });
      return { kind: 'respond', content: eff.content };
    }
  }
}

/**
 * The decide plugin. Runs for every policy (a policy without a `respond` block gets the built-in default
 * `when any refuse; otherwise allow`), after rollout, topics and moderation, before the redactor and auditor.
 */
export const decidePlugin = definePlugin<RespondConfig>({
  name: 'decide',
  blocks: ['respond'],
  // Decides from what these published (rollout mode, topic hits, moderation flags).
  after: ['rollout', 'topics', 'moderation'],
  reasonCodes: DECIDE_REASON_CODES,
  metrics: DECIDE_METRICS,
  diagnostics: [460, 479],
  compile: (blocks, env) => compileRespond(blocks, env),
  hooks(config): PluginHooks {
    return Object.freeze({ requestAccess: 'marked', onRequest: (ctx: RequestContext) => decideRequest(config, ctx) });
  },
});

export default decidePlugin;
export { compileRespond, evaluateDecision, decisionKey };
export type { RespondConfig };
export { MODERATION_CATEGORIES } from './taxonomy.ts';
export { DEFAULT_REASON_CODES, ALLOWLIST_MISS } from './reason-codes.ts';
