// Moderation providers: the interface, the two remote wire formats (an OpenAI-style POST /v1/moderations, and a
// Llama-Guard-style classifier behind an OpenAI-compatible chat completions endpoint) and the S-code → taxonomy table.
import type { Scores } from './builtin.ts';
import { CATEGORIES, CATEGORY_INDEX, propagateParents } from '../../src/sdk/taxonomy.ts';

/** Provider names as the `provider` statement spells them. */
export const PROVIDERS = Object.freeze(['builtin', 'openai', 'llama_guard'] as const);
export type ProviderName = (typeof PROVIDERS)[number];

/** Why a remote call failed (the `reason` in logs and the `moderation_error` audit field). */
export type ProviderFailure = 'timeout' | 'aborted' | 'network' | 'http_status' | 'bad_response' | 'missing_key';

/** A remote provider failure. Never carries the prompt or the key. */
export class ProviderError extends Error {
  readonly reason: ProviderFailure;
  constructor(reason: ProviderFailure, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ProviderError';
    this.reason = reason;
  }
}

/**
 * The provider contract: scores per taxonomy category (0..1) for one text. Remote providers resolve asynchronously
 * and MUST honour `signal` (timeout combined with the request's signal). `env` holds the secrets (`key env "NAME"`).
 * The builtin provider is synchronous: the plugin calls its `classifySync` directly and never awaits it.
 */
export interface ModerationProvider {
  readonly name: ProviderName;
  classify(text: string, signal: AbortSignal, env: Readonly<Record<string, string | undefined>>): Promise<Scores>;
}

/** Settings of a remote provider (the `provider openai { … }` / `provider llama_guard { … }` body). */
export interface RemoteSettings {
  readonly kind: 'openai' | 'llama_guard';
  readonly url: string;
  /** Environment variable holding the API key (sent as `Authorization: Bearer …`), or null for none. */
  readonly keyEnv: string | null;
  readonly model: string;
  readonly timeoutMs: number;
  /** llama_guard only: `gateway` sends the full Llama Guard 3 prompt; `server` sends the raw conversation for a server that applies the template. */
  readonly template: 'gateway' | 'server';
}

/** Default models and timeout. */
export const REMOTE_DEFAULTS = Object.freeze({
  openaiModel: 'omni-moderation-latest',
  llamaGuardModel: 'meta-llama/Llama-Guard-3-8B',
  timeoutMs: 2000,
  /** Responses larger than this are refused (bad_response). */
  maxResponseBytes: 1 << 20,
});

/**
 * Llama Guard 3 hazard categories (MLCommons taxonomy) and the OpenAI-taxonomy categories each maps to. An
 * `unsafe` answer scores 1.0 in every mapped category. Codes mapped to nothing (S6 specialized advice, S7 privacy,
 * S8 intellectual property, S13 elections, S14 code interpreter abuse) have no OpenAI equivalent and flag nothing.
 */
export const LLAMA_GUARD_CATEGORIES: Readonly<Record<string, { readonly name: string; readonly maps: readonly string[] }>> = Object.freeze({
  S1: { name: 'Violent Crimes', maps: ['violence', 'illicit/violent'] },
  S2: { name: 'Non-Violent Crimes', maps: ['illicit'] },
  S3: { name: 'Sex-Related Crimes', maps: ['sexual'] },
  S4: { name: 'Child Sexual Exploitation', maps: ['sexual/minors'] },
  S5: { name: 'Defamation', maps: ['harassment'] },
  S6: { name: 'Specialized Advice', maps: [] },
  S7: { name: 'Privacy', maps: [] },
  S8: { name: 'Intellectual Property', maps: [] },
  S9: { name: 'Indiscriminate Weapons', maps: ['illicit/violent', 'violence'] },
  S10: { name: 'Hate', maps: ['hate'] },
  S11: { name: 'Suicide & Self-Harm', maps: ['self-harm'] },
  S12: { name: 'Sexual Content', maps: ['sexual'] },
  S13: { name: 'Elections', maps: [] },
  S14: { name: 'Code Interpreter Abuse', maps: [] },
});

/** The Llama Guard 3 prompt for classifying one user message (sent as the single user message of a chat completion). */
export function llamaGuardPrompt(userText: string): string {
  const cats = Object.entries(LLAMA_GUARD_CATEGORIES).map(([code, c]) => `${code}: ${c.name}.`).join('\n');
  return "Task: Check if there is unsafe content in 'User' messages in conversations according our safety policy with the below categories.\n\n" +
    `<BEGIN UNSAFE CONTENT CATEGORIES>\n${cats}\n<END UNSAFE CONTENT CATEGORIES>\n\n` +
    `<BEGIN CONVERSATION>\n\nUser: ${userText}\n\n<END CONVERSATION>\n\n` +
    'Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n' +
    " - First line must read 'safe' or 'unsafe'.\n" +
    ' - If unsafe, a second line must include a comma-separated list of violated categories.';
}

function toScores(arr: Float64Array): Scores {
  propagateParents(arr);
  const out: Record<string, number> = {};
  for (let i = 0; i < CATEGORIES.length; i++) out[CATEGORIES[i]!] = arr[i]!;
  return out;
}

/**
 * Maps an OpenAI moderation response body onto the taxonomy: `results[0].category_scores` (numbers, clamped to
 * 0..1); a category whose score is missing takes 1 when `results[0].categories[c]` is true, else 0. Unknown
 * categories are ignored. Throws ProviderError('bad_response') when the shape is wrong.
 */
export function parseOpenAIModeration(body: unknown): Scores {
  const r0 = (body as { results?: unknown })?.results;
  if (!Array.isArray(r0) || r0.length === 0 || typeof r0[0] !== 'object' || r0[0] === null) {
    throw new ProviderError('bad_response', 'moderation response has no results[0]');
  }
  const res = r0[0] as { category_scores?: unknown; categories?: unknown };
  const scores = res.category_scores;
  const flags = res.categories;
  if ((scores === undefined || typeof scores !== 'object' || scores === null) && (typeof flags !== 'object' || flags === null)) {
    throw new ProviderError('bad_response', 'moderation result has neither category_scores nor categories');
  }
  const arr = new Float64Array(CATEGORIES.length);
  for (const [i, c] of CATEGORIES.entries()) {
    const s = (scores as Record<string, unknown> | null | undefined)?.[c];
    if (typeof s === 'number' && Number.isFinite(s)) arr[i] = Math.min(1, Math.max(0, s));
    else if ((flags as Record<string, unknown> | null | undefined)?.[c] === true) arr[i] = 1;
  }
  return toScores(arr);
}

/**
 * Parses a Llama Guard answer: `safe`, or `unsafe` then a line of comma-separated codes (`S1,S10`). Case and spaces
 * are tolerated. Returns the scores (1.0 per mapped category) and the codes. Throws ProviderError('bad_response')
 * on anything else.
 */
export function parseLlamaGuard(content: string): { safe: boolean; codes: string[]; scores: Scores } {
  const lines = content.trim().split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const verdict = lines[0]?.toLowerCase();
  const arr = new Float64Array(CATEGORIES.length);
  if (verdict === 'safe') return { safe: true, codes: [], scores: toScores(arr) };
  if (verdict !== 'unsafe') throw new ProviderError('bad_response', 'llama guard answer is neither "safe" nor "unsafe"');
  const codes = (lines[1] ?? '').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  for (const code of codes) {
    for (const c of LLAMA_GUARD_CATEGORIES[code]?.maps ?? []) arr[CATEGORY_INDEX.get(c)!] = 1;
  }
  return { safe: false, codes, scores: toScores(arr) };
}

/** POSTs JSON and returns the parsed body; maps every failure onto a ProviderError. */
async function postJson(url: string, body: unknown, apiKey: string | null, signal: AbortSignal): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey !== null) headers.authorization = `Bearer ${apiKey}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
  } catch (e) {
    throw abortOr(signal, e, 'network', 'moderation provider unreachable');
  }
  if (res.status < 200 || res.status > 299) {
    void res.body?.cancel().catch(() => {});
    throw new ProviderError('http_status', `moderation provider answered ${res.status}`);
  }
  let text: string;
  try {
    text = await readLimited(res, REMOTE_DEFAULTS.maxResponseBytes);
  } catch (e) {
    if (e instanceof ProviderError) throw e;
    throw abortOr(signal, e, 'network', 'moderation provider response broken');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError('bad_response', 'moderation response is not JSON');
  }
}

/** The body as text, read no further than `max` bytes (then the rest is cancelled: an endless answer costs `max`). */
async function readLimited(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel().catch(() => {});
      throw new ProviderError('bad_response', 'moderation response too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function abortOr(signal: AbortSignal, e: unknown, reason: ProviderFailure, message: string): ProviderError {
  if (signal.aborted) {
    const r = signal.reason as { name?: string } | undefined;
    return r?.name === 'TimeoutError'
      ? new ProviderError('timeout', 'moderation provider timed out', e)
      : new ProviderError('aborted', 'request aborted', e);
  }
  return new ProviderError(reason, message, e);
}

function apiKeyOf(s: RemoteSettings, env: Readonly<Record<string, string | undefined>>): string | null {
  if (s.keyEnv === null) return null;
  const k = env[s.keyEnv];
  if (k === undefined || k === '') throw new ProviderError('missing_key', `environment variable "${s.keyEnv}" is not set`);
  return k;
}

/** `provider openai`: POST {input, model} to the URL, map results[0]. */
export function openAIProvider(s: RemoteSettings): ModerationProvider {
  return Object.freeze({
    name: 'openai' as const,
    async classify(text: string, signal: AbortSignal, env: Readonly<Record<string, string | undefined>>): Promise<Scores> {
      const key = apiKeyOf(s, env);
      return parseOpenAIModeration(await postJson(s.url, { input: text, model: s.model }, key, signal));
    },
  });
}

/** `provider llama_guard`: a chat completion whose answer is `safe` or `unsafe\nS1,S10`. */
export function llamaGuardProvider(s: RemoteSettings): ModerationProvider {
  return Object.freeze({
    name: 'llama_guard' as const,
    async classify(text: string, signal: AbortSignal, env: Readonly<Record<string, string | undefined>>): Promise<Scores> {
      const key = apiKeyOf(s, env);
      const content = s.template === 'gateway' ? llamaGuardPrompt(text) : text;
      const body = await postJson(s.url, { model: s.model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 20 }, key, signal);
      const answer = (body as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message?.content;
      if (typeof answer !== 'string') throw new ProviderError('bad_response', 'chat completion has no choices[0].message.content');
      return parseLlamaGuard(answer).scores;
    },
  });
}
