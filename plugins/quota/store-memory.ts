// The in-process quota store (embedded default): counters in a bounded lru-cache, checked and consumed
// synchronously, so one process's counts are exact. Not shared between processes (use Redis for that).
import { LRUCache } from 'lru-cache';
import type { CounterSpec, QuotaStore, ReserveResult } from './store.ts';

/** Default bound on live counters (about 100 bytes each, so ~10 MB at the bound, plus the key strings). */
export const MEMORY_STORE_MAX_KEYS = 100_000;

interface Entry {
  n: number;
  /** Epoch ms (request clock) after which the counter is gone. */
  exp: number;
}

/**
 * Counters in an LRU cache bounded to `maxKeys`. Expiry follows the request clock passed in (`now`), not the
 * wall clock, so tests can move time. When more than `maxKeys` counters are live the least recently used is
 * forgotten (its subject starts again from zero): size the bound above users × limits.
 */
export class MemoryQuotaStore implements QuotaStore {
  readonly kind = 'memory' as const;
  readonly #cache: LRUCache<string, Entry>;

  constructor(opts: { maxKeys?: number } = {}) {
    this.#cache = new LRUCache<string, Entry>({ max: opts.maxKeys ?? MEMORY_STORE_MAX_KEYS });
  }

  /** Number of counters held (live or expired but not yet evicted). */
  get size(): number {
    return this.#cache.size;
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#cache.get(key);
    return e !== undefined && e.exp > now ? e : undefined;
  }

  reserve(counters: readonly CounterSpec[], now: number): ReserveResult {
    const n = counters.length;
    const values = new Array<number>(n);
    const entries = new Array<Entry | undefined>(n);
    let ok = true;
    for (let i = 0; i < n; i++) {
      const c = counters[i]!;
      const e = this.#live(c.key, now);
      entries[i] = e;
      const v = e === undefined ? 0 : e.n;
      values[i] = v;
      if (v + c.amount > c.limit) ok = false;
    }
    if (!ok) return { ok, values };
    for (let i = 0; i < n; i++) {
      const c = counters[i]!;
      const e = entries[i];
      const exp = now + c.ttlMs;
      if (e === undefined) this.#cache.set(c.key, { n: c.amount, exp });
      else { e.n += c.amount; e.exp = exp; }
      values[i] = values[i]! + c.amount;
    }
    return { ok, values };
  }

  adjust(keys: readonly string[], deltas: readonly number[], now: number): void {
    for (let i = 0; i < keys.length; i++) {
      const e = this.#live(keys[i]!, now);
      if (e !== undefined) e.n = Math.max(0, e.n + deltas[i]!);
    }
  }

  /** The current value of a counter (0 when absent or expired). For tests and tools. */
  peek(key: string, now: number): number {
    return this.#live(key, now)?.n ?? 0;
  }

  close(): Promise<void> {
    this.#cache.clear();
    return Promise.resolve();
  }
}
