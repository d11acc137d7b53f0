// The Redis quota store: reservations (check all counters, then consume all or none, with PEXPIRE) and settlements of
// concurrent requests are batched into ONE Lua script call per round trip, atomic in Redis, so several gateway
// processes share exact counts. Fails fast when Redis is down.
import { Redis, type RedisOptions } from 'ioredis';
import type { CounterSpec, QuotaStore, ReserveResult } from './store.ts';

/**
 * One batch of operations of concurrent requests, run in queue order inside ONE script (atomic in Redis, so counts
 * stay exact across every replica sharing the store). KEYS: the counters of every operation, in order. ARGV: the
 * operation count, then per operation its kind (`r` reserve, `a` adjust) and counter count n, then for a reserve n
 * triples (amount, limit, ttl ms), for an adjust n deltas. A reserve reads its counters and, only when every
 * `value + amount <= limit`, INCRBYs and PEXPIREs them all; it returns {ok, v1, …, vn}: the values after it when ok is
 * 1, else as they stand. An adjust adds each delta to counters that still exist (an expired window is never recreated)
 * and floors them at 0, keeping the TTL; it returns nothing. The reply is the reserves' arrays, concatenated.
 */
export const BATCH_LUA = `
local nops = tonumber(ARGV[1])
local a = 2
local k = 1
local out = {}
for op = 1, nops do
  local kind = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  if kind == 'r' then
    local at = #out + 1
    out[at] = 1
    for i = 0, n - 1 do
      local v = tonumber(redis.call('GET', KEYS[k + i]) or '0')
      out[at + 1 + i] = v
      if v + tonumber(ARGV[a + i * 3]) > tonumber(ARGV[a + i * 3 + 1]) then out[at] = 0 end
    end
    if out[at] == 1 then
      for i = 0, n - 1 do
        out[at + 1 + i] = redis.call('INCRBY', KEYS[k + i], ARGV[a + i * 3])
        redis.call('PEXPIRE', KEYS[k + i], ARGV[a + i * 3 + 2])
      end
    end
    a = a + n * 3
  else
    for i = 0, n - 1 do
      local d = tonumber(ARGV[a + i])
      if d ~= 0 and redis.call('EXISTS', KEYS[k + i]) == 1 then
        local v = redis.call('INCRBY', KEYS[k + i], d)
        if v < 0 then redis.call('SET', KEYS[k + i], 0, 'KEEPTTL') end
      end
    end
    a = a + n
  end
  k = k + n
end
return out
`;

/** Most operations sent in one batch (the rest wait for the next one). */
export const MAX_BATCH_OPS = 128;

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
  pgwBatch(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/** One queued operation: a reservation or a settlement, and how its caller is answered. */
type Op =
  | { readonly kind: 'r'; readonly counters: readonly CounterSpec[]; readonly resolve: (r: ReserveResult) => void; readonly reject: (e: unknown) => void }
  | { readonly kind: 'a'; readonly keys: readonly string[]; readonly deltas: readonly number[]; readonly resolve: () => void; readonly reject: (e: unknown) => void };

/** A quota store on Redis (standalone or a Sentinel-managed primary; not Redis Cluster: keys of one reservation must share a node). */
export class RedisQuotaStore implements QuotaStore {
  readonly kind = 'redis' as const;
  readonly #redis: Redis & ScriptCommands;
  /** True once the first connection attempt has ended (ready or failed): from then on nothing waits. */
  #firstAttemptDone = false;
  readonly #firstAttempt: Promise<void>;
  /** Last connection error seen by the client (reported on the request path, rate-limited). */
  lastError: string | undefined;
  /** Operations waiting for the next batch; whether a batch is in flight, or one is scheduled for this turn. */
  #queue: Op[] = [];
  #inFlight = false;
  #scheduled = false;

  constructor(url: string, options: RedisOptions = {}) {
    const redis = new Redis(url, { ...REDIS_OPTIONS, ...options });
    redis.defineCommand('pgwBatch', { lua: BATCH_LUA });
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

  /**
   * Reserves in the next batch. The first operation after a quiet moment goes out at the end of this turn of the event
   * loop (with whatever else arrived in it); while a batch is in flight, new operations queue and go together when it
   * returns: one round trip and one script for all of them, however many requests run at once.
   */
  reserve(counters: readonly CounterSpec[], _now: number): Promise<ReserveResult> {
    return new Promise((resolve, reject) => { this.#enqueue({ kind: 'r', counters, resolve, reject }); });
  }

  /** Settles in the next batch (see reserve). */
  adjust(keys: readonly string[], deltas: readonly number[], _now: number): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => { this.#enqueue({ kind: 'a', keys, deltas, resolve, reject }); });
  }

  #enqueue(op: Op): void {
    this.#queue.push(op);
    if (!this.#inFlight && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#inFlight || this.#queue.length === 0) return;
    const ops = this.#queue.length <= MAX_BATCH_OPS ? this.#queue : this.#queue.slice(0, MAX_BATCH_OPS);
    this.#queue = ops === this.#queue ? [] : this.#queue.slice(MAX_BATCH_OPS);
    this.#inFlight = true;
    this.#send(ops).finally(() => {
      this.#inFlight = false;
      if (this.#queue.length > 0) this.#flush();
    });
  };

  /** Sends one batch and answers each of its operations; a failed call fails them all. Never rejects. */
  async #send(ops: readonly Op[]): Promise<void> {
    try {
      if (!this.#firstAttemptDone) await this.#whenConnected();
      const keys: string[] = [];
      const argv: (string | number)[] = [ops.length];
      for (const op of ops) {
        if (op.kind === 'r') {
          argv.push('r', op.counters.length);
          for (const c of op.counters) { keys.push(c.key); argv.push(c.amount, c.limit, Math.max(1, Math.ceil(c.ttlMs))); }
        } else {
          argv.push('a', op.keys.length);
          for (let i = 0; i < op.keys.length; i++) { keys.push(op.keys[i]!); argv.push(op.deltas[i]!); }
        }
      }
      const reply = await this.#redis.pgwBatch(keys.length, ...keys, ...argv);
      let at = 0;
      for (const op of ops) {
        if (op.kind === 'a') { op.resolve(); continue; }
        const n = op.counters.length;
        const values = new Array<number>(n);
        for (let i = 0; i < n; i++) values[i] = Number(reply[at + 1 + i]);
        op.resolve({ ok: Number(reply[at]) === 1, values });
        at += n + 1;
      }
    } catch (err) {
      for (const op of ops) op.reject(err);
    }
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
