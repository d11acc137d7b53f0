// What a request reserves before the upstream call: an estimate of its prompt tokens (characters / 4), the
// completion tokens it may use, and their cost from the policy's price table (model globs, USD per 1M tokens).
import type { PromptView } from '../../src/sdk/prompt-view.ts';

/** Tokens added per message for role and framing (OpenAI counts about 3–4). */
export const TOKENS_PER_MESSAGE = 4;

/**
 * Estimated prompt tokens of a request, whatever its endpoint: ceil(characters / 4) over every text of its prompt
 * (message and input text, `instructions`, names, tool-call names and arguments, tool results, prompts) plus 4 per item
 * (message, input item; images and files are not counted), plus the token ids sent instead of text (embeddings and completions), counted as they are.
 * Used only for admission; settlement uses the upstream's real `usage`.
 */
export function estimatePromptTokens(view: PromptView): number {
  const segs = view.segments;
  let chars = 0;
  for (let i = 0; i < segs.length; i++) if (segs[i]!.kind !== 'media') chars += segs[i]!.text.length;
  return Math.ceil(chars / 4) + TOKENS_PER_MESSAGE * view.roles.length + view.tokenIds;
}

/**
 * Output tokens a request may use: the client's cap (chat `max_completion_tokens`, else `max_tokens`; Responses
 * `max_output_tokens`; completions `max_tokens`), else the policy's `reserve` default; times the answers asked for
 * (chat `n`, completions prompts × `n`). Embeddings produce none: 0.
 */
export function completionReservation(view: PromptView, reserveDefault: number): number {
  if (view.choices === 0) return 0;
  return (view.maxOutputTokens ?? reserveDefault) * view.choices;
}

/**
 * True when `text` matches the glob `pattern` (`*` any run of characters, `?` one character, everything else
 * literal, case-sensitive). Linear-time two-pointer match with backtracking to the last `*` only.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    const pc = pattern.charCodeAt(p);
    if (p < pattern.length && (pc === 63 /* ? */ || pc === text.charCodeAt(t))) { p++; t++; }
    else if (p < pattern.length && pc === 42 /* * */) { star = p++; mark = t; }
    else if (star >= 0) { p = star + 1; t = ++mark; }
    else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/** One `price` statement. Prices are USD per 1M tokens, which is the same number as micro-USD per token. */
export interface Price {
  /** Model glob as written (`"gpt-4o*"`). */
  readonly pattern: string;
  /** Micro-USD per prompt token. */
  readonly input: number;
  /** Micro-USD per completion token. */
  readonly output: number;
}

/** The first price whose glob matches `model` (declaration order), or undefined (the model counts as free). */
export function priceFor(prices: readonly Price[], model: string): Price | undefined {
  for (let i = 0; i < prices.length; i++) if (globMatch(prices[i]!.pattern, model)) return prices[i];
  return undefined;
}

/** Cost in whole micro-USD (rounded up) of `prompt` input and `completion` output tokens at `price`. */
export function costMicros(price: Price | undefined, prompt: number, completion: number): number {
  if (price === undefined) return 0;
  // The epsilon keeps binary rounding (0.15 * 1000 = 150.00000000000003) from adding a micro-dollar.
  return Math.ceil(prompt * price.input + completion * price.output - 1e-6);
}
