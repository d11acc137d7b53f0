// Token usage as every endpoint reports it, normalised to prompt and completion tokens for quota settlement, the
// tokens metric and the audit record: Responses' input/output tokens, embeddings' prompt tokens (no completion).
import type { Endpoint, Usage } from '../sdk/types.ts';

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/**
 * The `usage` object of an answer of `endpoint`, normalised: chat and legacy completions as they are (their own
 * shape); Responses `input_tokens`/`output_tokens` as prompt/completion tokens (reasoning tokens are part of the output
 * tokens); embeddings `prompt_tokens` with 0 completion tokens. Undefined when there is none or it is not an object.
 */
export function usageOf(endpoint: Endpoint, u: unknown): Usage | undefined {
  if (u === null || typeof u !== 'object' || Array.isArray(u)) return undefined;
  const r = u as Record<string, unknown>;
  switch (endpoint) {
    case 'chat':
    case 'completions':
      return r as Usage;
    case 'responses': {
      const p = count(r.input_tokens);
      const c = count(r.output_tokens);
      if (p === undefined || c === undefined) return undefined;
      return { prompt_tokens: p, completion_tokens: c, total_tokens: count(r.total_tokens) ?? p + c };
    }
    case 'embeddings': {
      const p = count(r.prompt_tokens);
      if (p === undefined) return undefined;
      return { prompt_tokens: p, completion_tokens: 0, total_tokens: count(r.total_tokens) ?? p };
    }
  }
}
