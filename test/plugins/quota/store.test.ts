// Store-level behaviour of both quota stores against the same cases: all-or-nothing reservation, limits at the
// boundary, settlement deltas, expiry, and 500 concurrent reservations against a limit of 100 (Redis: two
// separate connections, as two gateway processes would have). Redis is the real one at REDIS_URL.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryQuotaStore } from '../../../plugins/quota/store-memory.ts';
import { RedisQuotaStore } from '../../../plugins/quota/store-redis.ts';
import type { QuotaStore } from '../../../plugins/quota/store.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `pgw:q:test-store-${randomUUID()}:`;
const NOW = Date.parse('2026-06-01T12:00:00Z');

interface Subject {
  name: string;
  /** Two handles on the same counters (memory: one store twice; Redis: two connections). */
  stores: [QuotaStore, QuotaStore];
  read(key: string, now: number): Promise<number>;
  ttl?(key: string): Promise<number>;
}

const memory = new MemoryQuotaStore();
const redisA = new RedisQuotaStore(REDIS_URL);
const redisB = new RedisQuotaStore(REDIS_URL);
const subjects: Subject[] = [
  { name: 'memory', stores: [memory, memory], read: async (k, now) => memory.peek(k, now) },
  {
    name: 'redis', stores: [redisA, redisB],
    read: async (k) => Number((await redisA.client.get(k)) ?? 0),
    ttl: (k) => redisA.client.pttl(k),
  },
];

afterAll(async () => {
  const keys = await redisA.client.keys(`${RUN}*`);
  if (keys.length) await redisA.client.del(...keys);
  await Promise.all([redisA.close(), redisB.close(), memory.close()]);
});

let n = 0;
const key = (what: string) => `${RUN}${what}:${++n}`;

describe.each(subjects)('$name store', (s) => {
  const [a, b] = s.stores;

  it('reserves all counters or none: one counter over its limit leaves every counter untouched', async () => {
    const k1 = key('req');
    const k2 = key('tok');
    const over = await a.reserve([{ key: k1, amount: 1, limit: 10, ttlMs: 60_000 }, { key: k2, amount: 500, limit: 400, ttlMs: 60_000 }], NOW);
    expect(over).toEqual({ ok: false, values: [0, 0] });
    expect([await s.read(k1, NOW), await s.read(k2, NOW)]).toEqual([0, 0]);
    const fits = await a.reserve([{ key: k1, amount: 1, limit: 10, ttlMs: 60_000 }, { key: k2, amount: 400, limit: 400, ttlMs: 60_000 }], NOW);
    expect(fits).toEqual({ ok: true, values: [1, 400] });
    const full = await b.reserve([{ key: k1, amount: 1, limit: 10, ttlMs: 60_000 }, { key: k2, amount: 1, limit: 400, ttlMs: 60_000 }], NOW);
    expect(full).toEqual({ ok: false, values: [1, 400] });
    expect([await s.read(k1, NOW), await s.read(k2, NOW)]).toEqual([1, 400]);
  });

  it('settles by delta: up, down, floored at zero, and never recreates a counter that is gone', async () => {
    const k = key('tok');
    const gone = key('gone');
    await a.reserve([{ key: k, amount: 100, limit: 1000, ttlMs: 60_000 }], NOW);
    await b.adjust([k], [+50], NOW);
    expect(await s.read(k, NOW)).toBe(150);
    await a.adjust([k, gone], [-30, -10], NOW);
    expect(await s.read(k, NOW)).toBe(120);
    expect(await s.read(gone, NOW)).toBe(0);
    await a.adjust([k], [-500], NOW);
    expect(await s.read(k, NOW)).toBe(0);
    await a.adjust([gone], [+10], NOW);
    expect(await s.read(gone, NOW)).toBe(0);
  });

  it('counters expire with their window', async () => {
    const k = key('req');
    await a.reserve([{ key: k, amount: 1, limit: 1, ttlMs: 5_000 }], NOW);
    expect(await b.reserve([{ key: k, amount: 1, limit: 1, ttlMs: 5_000 }], NOW)).toEqual({ ok: false, values: [1] });
    if (s.ttl) {
      const ttl = await s.ttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5_000);
    } else {
      expect(await s.read(k, NOW + 4_999)).toBe(1);
      expect(await s.read(k, NOW + 5_000)).toBe(0);
      expect(await a.reserve([{ key: k, amount: 1, limit: 1, ttlMs: 5_000 }], NOW + 5_000)).toEqual({ ok: true, values: [1] });
    }
  });

  it('500 concurrent reservations against a limit of 100 admit exactly 100 (two handles on the store)', async () => {
    const k = key('burst');
    const tk = key('burst-tokens');
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).reserve(
      [{ key: k, amount: 1, limit: 100, ttlMs: 60_000 }, { key: tk, amount: 7, limit: 1_000_000, ttlMs: 60_000 }], NOW)));
    expect(results.filter((r) => r.ok).length).toBe(100);
    expect(await s.read(k, NOW)).toBe(100);
    // Rejected reservations consumed nothing anywhere.
    expect(await s.read(tk, NOW)).toBe(700);
    // Every admitted reservation saw a distinct count.
    expect(new Set(results.filter((r) => r.ok).map((r) => r.values[0])).size).toBe(100);
  });
});

describe('redis store batching', () => {
  it('concurrent reservations and settlements share round trips, answered in queue order and exactly', async () => {
    const store = new RedisQuotaStore(REDIS_URL);
    try {
      await store.reserve([{ key: key('warm-up'), amount: 1, limit: 5, ttlMs: 1000 }], NOW); // connected, script loaded
      const sent = { n: 0 };
      const original = store.client.sendCommand.bind(store.client);
      store.client.sendCommand = ((...args: Parameters<typeof original>) => { sent.n++; return original(...args); }) as typeof store.client.sendCommand;
      const k = key('batched');
      const reserves = Array.from({ length: 300 }, () => store.reserve([{ key: k, amount: 1, limit: 250, ttlMs: 60_000 }], NOW));
      const settle = store.adjust([k], [-10], NOW); // queued after every reservation above: runs after them
      const results = await Promise.all(reserves);
      await settle;
      expect(results.filter((r) => r.ok).length).toBe(250);
      // In queue order: the first 250 admitted, counting 1…250, the last 50 refused at 250.
      expect(results.slice(0, 250).map((r) => r.values[0])).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
      expect(results.slice(250).every((r) => !r.ok && r.values[0] === 250)).toBe(true);
      expect(Number(await store.client.get(k))).toBe(240);
      // 301 operations in a handful of script calls (at most 128 a batch).
      expect(sent.n).toBeLessThanOrEqual(5);
      expect(sent.n).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }
  });

  it('a failed batch fails every operation in it (fail-open/closed is decided per request by the plugin)', async () => {
    const store = new RedisQuotaStore('redis://127.0.0.1:1', { connectTimeout: 200 });
    try {
      const r = await Promise.allSettled([store.reserve([{ key: key('down'), amount: 1, limit: 5, ttlMs: 1000 }], NOW), store.adjust([key('down2')], [1], NOW)]);
      expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    } finally {
      await store.close();
    }
  });
});

describe('memory store bound', () => {
  it('holds at most maxKeys counters, forgetting the least recently used', () => {
    const m = new MemoryQuotaStore({ maxKeys: 3 });
    for (const k of ['a', 'b', 'c']) m.reserve([{ key: k, amount: 1, limit: 5, ttlMs: 60_000 }], NOW);
    m.reserve([{ key: 'a', amount: 1, limit: 5, ttlMs: 60_000 }], NOW); // a is now the most recent
    m.reserve([{ key: 'd', amount: 1, limit: 5, ttlMs: 60_000 }], NOW);
    expect(m.size).toBe(3);
    expect([m.peek('a', NOW), m.peek('b', NOW), m.peek('c', NOW), m.peek('d', NOW)]).toEqual([2, 0, 1, 1]);
  });
});
