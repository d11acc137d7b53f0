// The one channel between plugins: the typed per-request state keys one plugin publishes and others (and the chain's
// verdict assembly) read. A plugin never imports another plugin's files; it reads its results through these keys.
import { stateKey } from './context.ts';
import type { Decision, RolloutMode } from './types.ts';

/** Who a request authenticated as. Never holds the key or its digest. */
export interface Principal {
  /** The key's public id (the 12 characters after `pgk_`). */
  readonly id: string;
  /** The key's label from the keys file (the audit record's `key_label`). */
  readonly label: string;
  /**
   * The key's grants from the keys file (`grants=debug,admin`): `debug` may ask for a live evaluation trace, `admin`
   * may open the console. Absent or empty: none. The HTTP edge checks them; plugins need not.
   */
  readonly grants?: readonly string[];
}

/** True when the request authenticated with a key whose entry carries `grant` (false when the policy has no auth block). */
export function hasGrant(principal: Principal | undefined, grant: 'debug' | 'admin'): boolean {
  return principal?.grants !== undefined && principal.grants.includes(grant);
}

/** Set by the auth plugin's onRequest when the policy has an auth block and the key was accepted. */
export const principalKey = stateKey<Principal>('auth.principal');

/** What one request reserved of its quotas, and where (window ids are baked into the keys). */
export interface QuotaReservation {
  /** Store keys of the token and cost counters reserved (request counters are never settled). */
  readonly keys: readonly string[];
  /** Amount reserved in each of `keys` (tokens, or micro-USD for cost counters). */
  readonly reserved: readonly number[];
  /** `tokens` or `cost`, per key. */
  readonly kinds: readonly ('tokens' | 'cost')[];
  /** Estimated prompt tokens (characters / 4 + 4 per message). */
  readonly promptEstimate: number;
  /** Completion tokens reserved (max_completion_tokens, max_tokens or the policy's `reserve`, times `n`). */
  readonly completionReserve: number;
  /** Price used for cost counters (USD per 1M tokens), or null when none applies. */
  readonly price: { readonly pattern: string; readonly input: number; readonly output: number } | null;
  /** True once the store accepted the reservation (false while pending, and for refused or fail-open requests). */
  admitted: boolean;
  /** Set once onComplete ran, so settlement happens at most once (and a reservation that lands later is refunded). */
  settled: boolean;
  /** The text of the limit that refused the request (the audit record's `quota_limit`), or null. */
  rejectedBy: string | null;
}

/** Set by the quota plugin's onRequest for every request it checks; `admitted` says whether the reservation went through. */
export const quotaKey = stateKey<QuotaReservation>('quota.reservation');

/** The rollout choice for one request. Precomputed per rule and shared (frozen): never mutate it. */
export interface RolloutResult {
  readonly mode: RolloutMode;
  /** `file:line` of the rule (or `default` statement) that chose the mode; null for the built-in default. */
  readonly rule: string | null;
  /** How the mode was chosen: a target rule, or the default because no rule matched. */
  readonly source: 'rule' | 'default';
}

/** Set by the rollout plugin's onRequest when the policy has a rollout block (absent: enforced). */
export const rolloutKey = stateKey<RolloutResult>('rollout');

/** What the topic matcher found in the scanned user messages. */
export interface TopicsResult {
  /** True when the policy configures an allowlist (then a request with no allow hit is refused). */
  readonly allowlistConfigured: boolean;
  /** The configured allow phrases/regexes (as written) that matched, in configuration order, deduplicated. */
  readonly allowlistHits: readonly string[];
  /** The configured deny phrases/regexes (as written) that matched, in configuration order, deduplicated. */
  readonly denylistHits: readonly string[];
  /** `file:line` of the first deny rule that matched, or null. */
  readonly denyRule: string | null;
}

/** Set by the topics plugin's onRequest when the policy has a topics block. */
export const topicsKey = stateKey<TopicsResult>('topics');

/** The moderation result for the scanned user messages. */
export interface ModerationResult {
  /** Flagged categories (OpenAI taxonomy names such as "self-harm/intent"), sorted, deduplicated. */
  readonly flagged: readonly string[];
  /** Score per category from the provider (0..1). */
  readonly scores: Readonly<Record<string, number>>;
  /** Provider that produced the result (`builtin`, `openai`, `llama_guard`) or `error` when it failed. */
  readonly provider: string;
  /** `file:line` of the flag rule that flagged each category. */
  readonly rules: Readonly<Record<string, string>>;
}

/** Set by the moderation plugin's onRequest when the policy has a moderation block (not when it failed closed). */
export const moderationKey = stateKey<ModerationResult>('moderation');

/**
 * Why the moderation provider failed (`timeout`, `network`, `http_status`, …: the audit record's `moderation_error`),
 * set whether the policy then failed open or closed.
 */
export const moderationErrorKey = stateKey<string>('moderation.error');

/** The decision the decision flow (DESIGN §3) chose for a request. */
export interface DecisionResult {
  readonly decision: Decision;
  readonly reasonCode: string;
  /** `file:line` of the rule that produced it, or null for built-in defaults. */
  readonly rule: string | null;
}

/** Set by decide's onRequest on every request of a policy (also in shadow mode, where it is not applied). */
export const decisionKey = stateKey<DecisionResult>('decide');

/** Redaction counts of one request, per detector type (never the values). */
export interface RedactionReport {
  /** Spans redacted in the answer (all choices, content, tool-call arguments, held text flushed at the end). */
  readonly response: Record<string, number>;
  /** Spans redacted in the request before it went upstream. */
  readonly request: Record<string, number>;
}

/** Set by the redactor on the first redaction work of a request; read after the response (auditor, tests). */
export const redactionKey = stateKey<RedactionReport>('redactor.report');
