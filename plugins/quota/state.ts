// State the quota plugin keeps per request between admission (onRequest) and settlement (onComplete), exported
// so later plugins and the auditor can read what was reserved. Contract between plugins.
import { stateKey } from '../../src/sdk/context.ts';

/** What one admitted request reserved, and where (window ids are baked into the keys, so a rollover between reserve and settle does not matter). */
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
}

/** Set by the quota plugin's onRequest for every request it checks; `admitted` says whether the reservation went through. */
export const quotaKey = stateKey<QuotaReservation>('quota.reservation');
