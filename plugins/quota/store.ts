// The quota store interface: an atomic all-or-nothing reserve and settle-by-delta, implemented by the in-process
// memory store and the Redis store (store-for.ts picks one per gateway).

/** One counter touched by a reservation. */
export interface CounterSpec {
  /** Full store key: `pgw:q:<policy>:<scope>:<window>:<subject>:<window start, epoch s>`. */
  readonly key: string;
  /** Amount to add (an integer ≥ 0). */
  readonly amount: number;
  /** The counter may not exceed this after the addition. */
  readonly limit: number;
  /** Time to live of the counter, ms (to the end of its window plus a grace period). */
  readonly ttlMs: number;
}

/** Result of a reservation: `values[i]` is counter i after the reservation (ok) or as it stands (not ok). */
export interface ReserveResult {
  readonly ok: boolean;
  readonly values: readonly number[];
}

/** A counter store shared by every policy of one gateway. */
export interface QuotaStore {
  /** `memory` or `redis` (the `store` label of policy_gateway_quota_store_errors_total). */
  readonly kind: 'memory' | 'redis';
  /**
   * Atomically: when every `value + amount <= limit`, adds every amount (setting the TTLs) and returns ok;
   * otherwise changes nothing. Synchronous for memory; for Redis, one round trip shared with the concurrent requests
   * batched with it. Rejects when the store is down.
   */
  reserve(counters: readonly CounterSpec[], now: number): ReserveResult | Promise<ReserveResult>;
  /**
   * Adds `deltas[i]` (may be negative; results floor at 0) to counters that still exist. A counter whose window
   * has expired is left alone (never recreated). Batched like reserve for Redis.
   */
  adjust(keys: readonly string[], deltas: readonly number[], now: number): void | Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
