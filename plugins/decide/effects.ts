// Request rewrites of enforced decisions: add the policy's instruction to the system prompt (rewrite, summary)
// and cap the completion tokens (summary). Run by decide's onRequest; strings are prebuilt at compile time.
import type { ChatRequest } from '../../src/sdk/types.ts';

/**
 * Adds `instruction` to the request's system prompt, in place. When the first message is a `system` (or
 * `developer`) message, the instruction is appended to it after a blank line (`suffix` = "\n\n" + instruction),
 * or as an extra text part when its content is an array of parts; otherwise a new `{role: "system"}` message
 * carrying the instruction is inserted first. Never adds a second system message, which many chat templates reject.
 * The client's message objects are replaced, not mutated.
 */
export function addInstruction(request: ChatRequest, instruction: string, suffix: string): void {
  const msgs = request.messages;
  const first = msgs[0];
  if (first !== undefined && (first.role === 'system' || first.role === 'developer')) {
    const c = first.content;
    if (typeof c === 'string' && c.length > 0) msgs[0] = { ...first, content: c + suffix };
    else if (Array.isArray(c) && c.length > 0) msgs[0] = { ...first, content: [...c, { type: 'text', text: instruction }] };
    else msgs[0] = { ...first, content: instruction };
    return;
  }
  msgs.unshift({ role: 'system', content: instruction });
}

/**
 * Caps the completion length at `cap` tokens, in place: `max_tokens` becomes min(client value, cap) (or cap when the
 * client sent none), and `max_completion_tokens`, when present, is capped the same way. A client that sent only
 * `max_completion_tokens` (reasoning models reject `max_tokens`) gets only that field capped.
 */
export function capCompletionTokens(request: ChatRequest, cap: number): void {
  const mt = request.max_tokens;
  const mct = request.max_completion_tokens;
  const hasMct = typeof mct === 'number' && Number.isFinite(mct);
  if (hasMct) request.max_completion_tokens = Math.min(mct, cap);
  if (typeof mt === 'number' && Number.isFinite(mt)) request.max_tokens = Math.min(mt, cap);
  else if (!hasMct) request.max_tokens = cap;
}
