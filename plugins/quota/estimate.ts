// What a request reserves before the upstream call: an estimate of its prompt tokens (characters / 4), the
// completion tokens it may use, and their cost from the policy's price table (model globs, USD per 1M tokens).
import type { ChatRequest } from '../../src/sdk/types.ts';

/** Tokens added per message for role and framing (OpenAI counts about 3–4). */
export const TOKENS_PER_MESSAGE = 4;
/** Largest `n` (number of choices) the completion reservation multiplies by. */
const MAX_CHOICES = 128;

/**
 * Estimated prompt tokens of a request: ceil(characters / 4) over every message's text (string content, text
 * parts, `name`, tool-call names and arguments) plus 4 per message. Used only for admission; settlement uses the
 * upstream's real `usage`.
 */
export function estimatePromptTokens(req: ChatRequest): number {
  const msgs = req.messages;
  let chars = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    const c = m.content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) {
      for (let j = 0; j < c.length; j++) {
        const t = c[j]?.text;
        if (typeof t === 'string') chars += t.length;
      }
    }
    if (typeof m.name === 'string') chars += m.name.length;
    const calls = m.tool_calls;
    if (Array.isArray(calls)) {
      for (let j = 0; j < calls.length; j++) {
        const f = calls[j]?.function;
        if (typeof f?.name === 'string') chars += f.name.length;
        if (typeof f?.arguments === 'string') chars += f.arguments.length;
      }
    }
  }
  return Math.ceil(chars / 4) + TOKENS_PER_MESSAGE * msgs.length;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/**
 * Completion tokens a request may use: `max_completion_tokens`, else `max_tokens`, else the policy's `reserve`
 * default; times `n` when the request asks for several choices.
 */
export function completionReservation(req: ChatRequest, reserveDefault: number): number {
  const max = positiveInt(req.max_completion_tokens) ?? positiveInt(req.max_tokens) ?? reserveDefault;
  const n = positiveInt(req.n);
  return n === undefined || n === 1 ? max : max * Math.min(n, MAX_CHOICES);
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
