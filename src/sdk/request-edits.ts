// The edits an enforced decision makes to a request before it goes upstream, for every endpoint: add the policy's
// instruction where the endpoint takes one (rewrite, summary) and cap the answer's length (summary). Used by decide.
import type { ChatMessage, ChatRequest, CompletionsRequest, Endpoint, ResponsesRequest } from './types.ts';

/** The smallest `max_output_tokens` the Responses API accepts. */
export const MIN_RESPONSES_OUTPUT_TOKENS = 16;

/** The chat rule: append to a leading system/developer message, else insert a system message first. */
function instructChat(request: ChatRequest, instruction: string, suffix: string): void {
  const msgs = request.messages;
  const first = msgs[0];
  if (first !== undefined && (first.role === 'system' || first.role === 'developer')) {
    const c = first.content;
    if (typeof c === 'string' && c.length > 0) msgs[0] = { ...first, content: c + suffix };
    else if (Array.isArray(c) && c.length > 0) msgs[0] = { ...first, content: [...c, { type: 'text', text: instruction }] };
    else msgs[0] = { ...first, content: instruction };
    return;
  }
  msgs.unshift({ role: 'system', content: instruction } satisfies ChatMessage);
}

/**
 * Adds a policy's `instruction` to the request, in place, the way the endpoint takes instructions; `suffix` is
 * "\n\n" + instruction (prebuilt). Returns whether the request changed.
 * - chat: appended to a leading `system`/`developer` message after a blank line (or as an extra text part), else a new
 *   `system` message is inserted first — never a second system message, which many chat templates reject;
 * - responses: appended to `instructions` after a blank line, or set as `instructions` when there are none;
 * - completions: written before each text prompt, followed by a blank line (token-id prompts cannot take text and are
 *   left as they are);
 * - embeddings: nothing (there is no answer to steer); returns false.
 * The client's objects are replaced, not mutated.
 */
export function addInstruction(endpoint: Endpoint, request: object, instruction: string, suffix: string): boolean {
  switch (endpoint) {
    case 'chat':
      instructChat(request as ChatRequest, instruction, suffix);
      return true;
    case 'responses': {
      const r = request as ResponsesRequest;
      r.instructions = typeof r.instructions === 'string' && r.instructions.length > 0 ? r.instructions + suffix : instruction;
      return true;
    }
    case 'completions': {
      const r = request as CompletionsRequest;
      const prefix = `${instruction}\n\n`;
      if (typeof r.prompt === 'string') { r.prompt = prefix + r.prompt; return true; }
      if (Array.isArray(r.prompt) && r.prompt.length > 0 && typeof r.prompt[0] === 'string') {
        r.prompt = (r.prompt as string[]).map((p) => prefix + p);
        return true;
      }
      return false;
    }
    case 'embeddings':
      return false;
  }
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Caps the answer's length at `cap` tokens, in place: the client's own cap becomes min(its value, cap), or cap when it
 * sent none. Returns whether the request changed.
 * - chat: `max_tokens`, and `max_completion_tokens` when present (a client that sent only `max_completion_tokens` —
 *   reasoning models reject `max_tokens` — gets only that field capped);
 * - responses: `max_output_tokens`, never below 16 (the API's minimum);
 * - completions: `max_tokens`;
 * - embeddings: nothing.
 */
export function capOutputTokens(endpoint: Endpoint, request: object, cap: number): boolean {
  const r = request as Record<string, unknown>;
  switch (endpoint) {
    case 'chat': {
      const mt = r.max_tokens;
      const mct = r.max_completion_tokens;
      if (finite(mct)) r.max_completion_tokens = Math.min(mct, cap);
      if (finite(mt)) r.max_tokens = Math.min(mt, cap);
      else if (!finite(mct)) r.max_tokens = cap;
      return true;
    }
    case 'responses': {
      const c = Math.max(cap, MIN_RESPONSES_OUTPUT_TOKENS);
      const mot = r.max_output_tokens;
      r.max_output_tokens = finite(mot) ? Math.min(mot, c) : c;
      return true;
    }
    case 'completions': {
      const mt = r.max_tokens;
      r.max_tokens = finite(mt) ? Math.min(mt, cap) : cap;
      return true;
    }
    case 'embeddings':
      return false;
  }
}
