// The Redis quota store: every reservation is ONE Lua script call (check all counters, then consume all or
// none, with PEXPIRE), so several gateway processes share exact counts. Fails fast when Redis is down.
import { Redis, type RedisOptions } from 'ioredis';
import type { CounterSpec, QuotaStore, ReserveResult } from './store.ts';

/**
 * KEYS: counters. ARGV: amount, limit, ttl (ms) per counter. Reads every counter first; only when every
 * `value + amount <= limit` does it INCRBY and PEXPIRE them all. Returns {ok, v1, …, vn}: the values after the
 * reservation when ok is 1, else the values as they stand.
 */
export const RESERVE_LUA = `
local n = #KEYS
local out = {1}
for i = 1, n do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[i + 1] = v
  if v + tonumber(ARGV[i * 3 - 2]) > tonumber(ARGV[i * 3 - 1]) then out[1] = 0 end
end
if out[1] == 1 then
  for i = 1, n do
    out[i + 1] = redis.call('INCRBY', KEYS[i], ARGV[i * 3 - 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[i * 3])
  end
end
return out
`;

/**
 * KEYS: counters. ARGV: one delta per counter. Adds each delta to counters that still exist (an expired window
 * is never recreated, so no key without a TTL can appear) and floors the result at 0, keeping the TTL.
 */
export const ADJUST_LUA = `
for i = 1, #KEYS do
  local d = tonumber(ARGV[i])
  if d ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    local v = redis.call('INCRBY', KEYS[i], d)
    if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  end
end
return 1
`;

/** Client settings: a dead Redis must never hang a request, and the client must recover by itself. */
export const REDIS_OPTIONS: RedisOptions = Object.freeze({
  /** Commands fail at once while disconnected instead of queueing behind the outage. */
  enableOfflineQueue: false,
  /** A command that was in flight when the connection dropped fails instead of being retried later. */
  maxRetriesPerRequest: 0,
  /** Upper bound on one round trip (a stalled but connected Redis). */
  commandTimeout: 500,
  /** A socket that gets no reply for this long while commands are pending is destroyed and reconnected. */
  socketTimeout: 2000,
  connectTimeout: 2000,
  /** Reconnect forever, backing off to 1 s between attempts. */
  retryStrategy: (times: number) => Math.min(50 * times, 1000),
  /** Off: measured here, auto-pipelining cost more CPU per reservation both one-at-a-time and with 64 in flight. */
  enableAutoPipelining: false,
  connectionName: 'policy-gateway-quota',
});

/** How long the first commands wait for the first connection attempt (later, a disconnected store fails at once). */
const FIRST_CONNECT_WAIT_MS = 2000;

type ScriptCommands = {
  pgwReserve(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  pgwAdjust(numKeys: number, ...args: (string | number)[]): Promise<number>;
};

/** A quota store on Redis (standalone or a Sentinel-managed primary; not Redis Cluster: keys of one reservation must share a node). */
export class RedisQuotaStore implements QuotaStore {
  readonly kind = 'redis' as const;
  readonly #redis: Redis & ScriptCommands;
  /** True once the first connection attempt has ended (ready or failed): from then on nothing waits. */
  #firstAttemptDone = false;
  readonly #firstAttempt: Promise<void>;
  /** Last connection error seen by the client (reported on the request path, rate-limited). */
  lastError: string | undefined;

  constructor(url: string, options: RedisOptions = {}) {
    const redis = new Redis(url, { ...REDIS_OPTIONS, ...options });
    redis.defineCommand('pgwReserve', { lua: RESERVE_LUA });
    redis.defineCommand('pgwAdjust', { lua: ADJUST_LUA });
    // Without a listener ioredis prints every reconnect failure; outages are reported from the request path instead.
    redis.on('error', (err: Error) => { this.lastError = err.message; });
    this.#firstAttempt = new Promise((resolve) => {
      const done = () => {
        this.#firstAttemptDone = true;
        redis.off('ready', done).off('error', done).off('close', done);
        resolve();
      };
      redis.on('ready', done).on('error', done).on('close', done);
    });
    this.#redis = redis as Redis & ScriptCommands;
  }

  /** The underlying client (tests use it to inspect keys). */
  get client(): Redis {
    return this.#redis;
  }

  /** Waits (bounded) for the very first connection attempt, so requests right after startup are not failed needlessly. */
  async #whenConnected(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#firstAttempt, new Promise<void>((r) => { timer = setTimeout(r, FIRST_CONNECT_WAIT_MS); })]);
    clearTimeout(timer);
    this.#firstAttemptDone = true;
  }

  async reserve(counters: readonly CounterSpec[], _now: number): Promise<ReserveResult> {
    if (!this.#firstAttemptDone) await this.#whenConnected();
    const n = counters.length;
    const args: (string | number)[] = new Array(n * 4);
    for (let i = 0; i < n; i++) {
      const c = counters[i]!;
      args[i] = c.key;
      args[n + i * 3] = c.amount;
      args[n + i * 3 + 1] = c.limit;
      args[n + i * 3 + 2] = Math.max(1, Math.ceil(c.ttlMs));
    }
    const r = await this.#redis.pgwReserve(n, ...args);
    const values = new Array<number>(n);
    for (let i = 0; i < n; i++) values[i] = Number(r[i + 1]);
    return { ok: Number(r[0]) === 1, values };
  }

  async adjust(keys: readonly string[], deltas: readonly number[], _now: number): Promise<void> {
    if (keys.length === 0) return;
    if (!this.#firstAttemptDone) await this.#whenConnected();
    await this.#redis.pgwAdjust(keys.length, ...keys, ...deltas);
  }

  async close(): Promise<void> {
    try {
      if (this.#redis.status === 'ready') await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }
}
