// The one quota store of a gateway (Redis when the gateway has a Redis URL, else the in-process memory store), and
// rate-limited reporting of store outages.
import type { GatewayServices } from '../../src/sdk/context.ts';
import { QUOTA_METRICS } from './declarations.ts';
import type { QuotaStore } from './store.ts';
import { MemoryQuotaStore } from './store-memory.ts';
import { RedisQuotaStore } from './store-redis.ts';

/** Outage log lines are written at most once per this many ms (by the request clock). */
export const OUTAGE_LOG_INTERVAL_MS = 10_000;

/**
 * Tracks a store's health for logging: failures are counted every time but logged at most once per interval;
 * the first success after a failure logs a recovery line.
 */
export class StoreHealth {
  #lastLog = -Infinity;
  #down = false;
  #suppressed = 0;

  /** Records one failed store call (`result`: fail_open | fail_closed | settle_failed). */
  failure(services: GatewayServices, store: 'memory' | 'redis', err: unknown, now: number, result: string): void {
    services.metricsOf(QUOTA_METRICS).storeErrors.inc({ store, result });
    this.#down = true;
    if (now - this.#lastLog < OUTAGE_LOG_INTERVAL_MS) { this.#suppressed++; return; }
    this.#lastLog = now;
    services.log.error({ plugin: 'quota', store, result, err: err instanceof Error ? err.message : String(err), suppressed: this.#suppressed },
      'quota store unavailable');
    this.#suppressed = 0;
  }

  /** Records a successful store call; logs recovery once after an outage. */
  success(services: GatewayServices, store: 'memory' | 'redis'): void {
    if (!this.#down) return;
    this.#down = false;
    services.log.info({ plugin: 'quota', store }, 'quota store recovered');
  }
}

/** A store plus its health tracker. */
export interface StoreHandle {
  readonly store: QuotaStore;
  readonly health: StoreHealth;
}

const stores = new WeakMap<GatewayServices, StoreHandle>();

/**
 * The quota store of one gateway, created on first use: Redis when `services.redisUrl` is set (shared by every
 * process pointing at it), else in-process memory. Closed through `services.onClose`.
 */
export function storeFor(services: GatewayServices): StoreHandle {
  let h = stores.get(services);
  if (h === undefined) {
    const store: QuotaStore = services.redisUrl ? new RedisQuotaStore(services.redisUrl) : new MemoryQuotaStore();
    h = { store, health: new StoreHealth() };
    stores.set(services, h);
    services.onClose(() => store.close());
  }
  return h;
}
