// The `replay on` capture: what `policy-gateway replay` needs to re-evaluate a request — the prompt as the policy read
// it (before any policy edit), redacted by the policy's request-scope redaction — written as the record's `replay` field.
import type { RequestContext } from '../../src/sdk/context.ts';
import type { PromptView } from '../../src/sdk/prompt-view.ts';
import { requestRedactorKey } from '../../src/sdk/state-keys.ts';

/** Version of the capture's shape (`v`): replay refuses captures of a version it does not know. */
export const REPLAY_CAPTURE_VERSION = 1;

/** Most prompt text a capture holds (UTF-16 code units, all segments together); a longer prompt is marked `truncated`. */
export const MAX_REPLAY_TEXT = 65_536;

/**
 * The captured input, as its JSON text: `{ v, endpoint, model, segments: [[item, kind, text], …], roles, token_ids,
 * hidden, max_output_tokens, choices }` plus `redactions` (counts by type) when request-scope redaction replaced spans,
 * or `truncated: true` with no segments when the prompt text is longer than MAX_REPLAY_TEXT. Metadata (user, project,
 * target), `stream` and the endpoint's route are the record's own fields.
 */
export function replayCapture(ctx: RequestContext): string {
  const view: PromptView = ctx.prompt;
  const redactor = ctx.get(requestRedactorKey);
  let counts: Record<string, number> | undefined;
  let total = 0;
  const segments: [number, string, string][] = [];
  for (const s of view.segments) {
    total += s.text.length;
    if (total > MAX_REPLAY_TEXT) break;
    let text = s.text;
    // Only text the policy scans or counts goes through its request redaction, as the redactor treats the request.
    if (redactor !== undefined && s.kind !== 'media') text = redactor.redact(text, ctx.services, (counts ??= {}));
    segments.push([s.item, s.kind, text]);
  }
  const model = (ctx.request as { model?: unknown }).model;
  const capture: Record<string, unknown> = {
    v: REPLAY_CAPTURE_VERSION,
    endpoint: ctx.endpoint,
    model: typeof model === 'string' ? model : null,
    roles: view.roles,
    segments: total > MAX_REPLAY_TEXT ? [] : segments,
    token_ids: view.tokenIds,
    hidden: view.hidden,
    max_output_tokens: view.maxOutputTokens,
    choices: view.choices,
  };
  if (total > MAX_REPLAY_TEXT) capture.truncated = true;
  if (counts !== undefined && Object.keys(counts).length > 0) capture.redactions = counts;
  return JSON.stringify(capture);
}
