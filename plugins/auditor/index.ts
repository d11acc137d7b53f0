// The auditor plugin (block `audit`): always on and last in the chain, it writes exactly one audit record per
// request at onComplete — allowed, decided, refused, rejected, failed upstream or aborted — in logfmt or JSON.
import { definePlugin, type Outcome, type PluginHooks } from '../../src/sdk/plugin.ts';
import { stateKey, type GatewayServices, type RequestContext } from '../../src/sdk/context.ts';
import type { ApiAnswer, StreamChunk } from '../../src/sdk/types.ts';
import { AUDIT_SCHEMA, compileAudit, type AuditConfig } from './block.ts';
import { formatAuditRecord } from './format.ts';
import { buildAuditRecord, buildUnchainedRecord, formatRequestLogfmt, type Capture, type UnchainedEnd } from './record.ts';
import { sinkFor } from './sink.ts';
import { AUDITOR_METRICS } from './declarations.ts';

export { AUDITOR_METRICS } from './declarations.ts';

/** Per-request capture of prompt/output references, only for policies with `prompts on`. */
export const auditCaptureKey = stateKey<Capture>('auditor.capture');

function capture(ctx: RequestContext): Capture {
  let c = ctx.get(auditCaptureKey);
  if (!c) ctx.set(auditCaptureKey, (c = { passedChain: false, body: undefined, chunks: undefined }));
  return c;
}

/**
 * Writes the record of one finished chained request, and hands it to the console's live decisions when the gateway
 * runs one (ctx.services.decisions). Never throws (a failure is counted and logged once).
 */
export function recordRequest(config: AuditConfig, outcome: Outcome, ctx: RequestContext): void {
  const sink = sinkFor(ctx.services);
  const tap = ctx.services.decisions;
  if (sink.off && tap === undefined) return;
  let line: string | undefined;
  try {
    const c = config.prompts ? capture(ctx) : undefined;
    const rec = tap !== undefined || sink.format !== 'logfmt' ? buildAuditRecord(ctx, outcome, config, c) : undefined;
    if (!sink.off) line = rec === undefined || sink.format === 'logfmt' ? formatRequestLogfmt(ctx, outcome, config, c) : formatAuditRecord(rec, sink.format);
    if (tap !== undefined) tap.publish(rec!);
  } catch (err) {
    sink.fail(err as Error, 'audit record could not be built');
    return;
  }
  if (line !== undefined) sink.write(line);
}

/** Writes the record of a request that ended before reaching a policy (bad JSON, unknown policy or route, 413, 415). */
export function recordUnchained(end: UnchainedEnd, services: GatewayServices): void {
  const sink = sinkFor(services);
  const tap = services.decisions;
  if (sink.off && tap === undefined) return;
  const rec = buildUnchainedRecord(end, Date.now());
  if (!sink.off) sink.write(formatAuditRecord(rec, sink.format));
  if (tap !== undefined) tap.publish(rec);
}

/** The hooks of one compiled audit config: onComplete always; capture hooks only when the policy opts in to prompts. */
export function auditHooks(config: AuditConfig): PluginHooks {
  const onComplete = (outcome: Outcome, ctx: RequestContext): void => {
    if (ctx.trace !== undefined) {
      ctx.trace.add({ plugin: 'auditor', kind: 'audit', prompts: config.prompts ? 'on' : 'off', tags: config.tags, destination: sinkFor(ctx.services).off ? 'off' : 'on' });
    }
    recordRequest(config, outcome, ctx);
  };
  if (!config.prompts) return Object.freeze({ onComplete });
  return Object.freeze({
    // Last in the chain: when this runs, every earlier request hook (request-scope redaction included) has run.
    responseAccess: 'read',
    requestAccess: 'none',
    onRequest: (ctx: RequestContext) => {
      capture(ctx).passedChain = true;
      // what a traced request may show: the prompt text this record captures
      ctx.trace?.allowPromptText();
    },
    // Response hooks run in reverse order, so the auditor sees the answer first: keep references only and
    // read the text at onComplete, after the redactor has rewritten these objects in place.
    onResponse: (body: ApiAnswer, ctx: RequestContext) => { capture(ctx).body = body; },
    onChunk: (chunk: StreamChunk, ctx: RequestContext) => {
      const c = capture(ctx);
      (c.chunks ??= []).push(chunk);
      return 'pass' as const;
    },
    onComplete,
  });
}

/**
 * The hooks of a policy with `replay on` also declare `readsClientPrompt`: the gateway reads the prompt before the first
 * hook runs, so the `replay` capture (replay-capture.ts) is the client's prompt, not the one the policy edited.
 */
export function withReplay(config: AuditConfig, hooks: PluginHooks): PluginHooks {
  return config.replay ? Object.freeze({ ...hooks, readsClientPrompt: true }) : hooks;
}

/** The auditor: always on (a config even without an `audit` block), last in the chain. */
export const auditorPlugin = definePlugin<AuditConfig>({
  name: 'auditor',
  blocks: ['audit'],
  schemas: [AUDIT_SCHEMA],
  // Records what every other plugin did: last in the chain, after the redactor rewrote the output.
  after: ['auth', 'quota', 'rollout', 'topics', 'moderation', 'decide', 'redactor'],
  metrics: AUDITOR_METRICS,
  diagnostics: [490, 499],
  // Requests that never reach a policy are recorded too.
  onUnchainedEnd: recordUnchained,
  compile: (blocks, env) => compileAudit(blocks, env),
  hooks: (config) => withReplay(config, auditHooks(config)),
});

export default auditorPlugin;
export { compileAudit, buildAuditRecord, buildUnchainedRecord, formatAuditRecord, sinkFor };
export type { AuditConfig };
