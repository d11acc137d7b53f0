// The console's decision feed and per-policy stats: the history ring and its filters, batched SSE fan-out over a real
// socket, a client that stops reading losing records (counted, then told) instead of growing the gateway's buffers,
// and the stats' shadow disagreement, reason bounds, quota rejections, latency and per-minute series.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DecisionFeed, matches } from '../../src/console/feed.ts';
import { ConsoleStats, MAX_REASONS, NO_POLICY } from '../../src/console/stats.ts';

const rec = (i: number, extra: Record<string, unknown> = {}) => ({
  policy_id: i % 2 ? 'odd' : 'even', decision: 'allow', effective_decision: 'allow', reason_code: 'ALLOW', rollout_mode: 'enforced',
  route: 'v1', request_id: `r${i}`, overhead_ms: 0.4, ...extra,
});

const servers: http.Server[] = [];
afterEach(async () => { for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise((r) => s.close(r)); } });

/** A server whose every request subscribes to `feed` with `filter`; resolves to its port. `seen` collects the responses. */
async function serveFeed(feed: DecisionFeed, filter = {}, seen: http.ServerResponse[] = []): Promise<number> {
  const s = http.createServer((_req, res) => { seen.push(res); feed.subscribe(res, filter, {}); });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

describe('DecisionFeed', () => {
  it('keeps the last N records for a fresh page, oldest first, filtered exactly', () => {
    const feed = new DecisionFeed({ history: 5 });
    expect(new DecisionFeed().limits).toMatchObject({ history: 100, perSecond: 200, clients: 16, clientBuffer: 1 << 20 });
    for (let i = 1; i <= 12; i++) feed.publish(rec(i));
    expect(feed.recent({}).map((r) => r.request_id)).toEqual(['r8', 'r9', 'r10', 'r11', 'r12']);
    expect(feed.recent({ policy_id: 'odd' }).map((r) => r.request_id)).toEqual(['r9', 'r11']);
    expect(feed.recent({}, 2).map((r) => r.seq)).toEqual([11, 12]);
    expect(matches(rec(1), { policy_id: 'odd', decision: 'allow' })).toBe(true);
    expect(matches(rec(1), { policy_id: 'odd', decision: 'refuse' })).toBe(false);
  });

  it('streams matching records to a live client as SSE, in batches', async () => {
    const feed = new DecisionFeed({ flushMs: 5 });
    const port = await serveFeed(feed, { decision: 'refuse' });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: hello')) text += (await reader.read()).value;
    feed.publish(rec(1));
    feed.publish(rec(2, { decision: 'refuse', reason_code: 'REFUSE' }));
    while (!text.includes('"r2"')) text += (await reader.read()).value;
    expect(text).toMatch(/id: 2\nevent: decision\ndata: \{"seq":2,"policy_id":"even","decision":"refuse"/);
    expect(text).not.toContain('"r1"');
    await reader.cancel();
  });

  it('drops and counts records for a client that stops reading: the gateway never buffers more than the limit for it', async () => {
    const limit = 32 * 1024;
    let counted = 0;
    const feed = new DecisionFeed({ flushMs: 1, clientBuffer: limit, perSecond: Infinity }, Date.now, (n) => { counted += n; });
    const seen: http.ServerResponse[] = [];
    const port = await serveFeed(feed, {}, seen);
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    let got = '';
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    await new Promise((r) => setTimeout(r, 50));
    expect(feed.clients).toBe(1);
    sock.pause(); // stops reading: the kernel buffers fill, then the server's
    const big = 'x'.repeat(2000);
    for (let round = 0; round < 200 && feed.dropped === 0; round++) {
      for (let i = 0; i < 100; i++) feed.publish(rec(i, { note: big }));
      await new Promise((r) => setTimeout(r, 3));
    }
    expect(feed.dropped).toBeGreaterThan(0);
    // One batch (here at most 100 records of ~2.3 kB) may land on a buffer just under the limit; never more than that.
    expect(seen[0]!.writableLength).toBeLessThan(limit + 100 * 2400);
    const before = feed.dropped;
    for (let i = 0; i < 1000; i++) feed.publish(rec(i, { note: big }));
    await new Promise((r) => setTimeout(r, 20));
    expect(feed.dropped).toBeGreaterThanOrEqual(before + 1000);
    expect(seen[0]!.writableLength).toBeLessThan(limit + 100 * 2400);
    expect(counted).toBe(feed.dropped); // what the gateway adds to policy_gateway_console_dropped_total
    // Reading again: the client is told how many it lost, then gets new records.
    got = '';
    sock.resume();
    await new Promise((r) => setTimeout(r, 100));
    feed.publish(rec(7, { request_id: 'after' }));
    for (let i = 0; i < 100 && !got.includes('"after"'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toMatch(/event: dropped\ndata: \{"dropped":[1-9]\d*,"skipped":0\}/);
    expect(got).toContain('"after"');
    sock.destroy();
  });

  it('sends a client at most perSecond records a second and tells it how many it skipped; history keeps them all', async () => {
    const feed = new DecisionFeed({ flushMs: 5, perSecond: 5 });
    const port = await serveFeed(feed);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: hello')) text += (await reader.read()).value;
    for (let i = 0; i < 20; i++) feed.publish(rec(i));
    await new Promise((r) => setTimeout(r, 30));
    feed.publish(rec(99)); // the next batch carries the news
    while (!text.includes('"skipped":')) text += (await reader.read()).value;
    expect(text.match(/event: decision/g)).toHaveLength(5);
    expect(text).toMatch(/event: dropped\ndata: \{"dropped":0,"skipped":1[56]\}/);
    expect(feed.recent({}).length).toBe(21);
    await reader.cancel();
  });

  it('refuses more live clients than its limit and forgets clients that left', async () => {
    const feed = new DecisionFeed({ clients: 1 });
    const port = await serveFeed(feed);
    const ctrl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    expect(feed.full).toBe(true);
    ctrl.abort();
    for (let i = 0; i < 100 && feed.clients > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(feed.clients).toBe(0);
    expect(feed.full).toBe(false);
  });

  it('does no fan-out work when nobody listens (ring and stats only)', () => {
    const feed = new DecisionFeed();
    for (let i = 0; i < 10_000; i++) feed.publish(rec(i));
    expect(feed.dropped).toBe(0);
    expect(feed.stats.view().find((p) => p.policy_id === 'odd')!.total).toBe(5000);
  });
});

describe('ConsoleStats', () => {
  it('counts decisions, shadow disagreement, quota rejections and added latency per policy', () => {
    let now = Date.UTC(2026, 0, 13, 10, 0, 30);
    const s = new ConsoleStats(() => now);
    s.add({ policy_id: 'p', decision: 'refuse', effective_decision: 'allow', rollout_mode: 'shadow', reason_code: 'REFUSE', overhead_ms: 0.2 });
    s.add({ policy_id: 'p', decision: 'allow', effective_decision: 'allow', rollout_mode: 'shadow', reason_code: 'ALLOW', overhead_ms: 0.3 });
    s.add({ policy_id: 'p', decision: 'refuse', effective_decision: 'refuse', rollout_mode: 'enforced', reason_code: 'REFUSE', overhead_ms: 4 });
    now += 60_000;
    s.add({ policy_id: 'p', decision: 'reject', effective_decision: 'reject', rollout_mode: null, reason_code: 'QUOTA_EXCEEDED', code: 'GW_ERR_QUOTA_EXCEEDED', quota_limit: 'user 10 tokens per day', overhead_ms: 0.1 });
    s.add({ policy_id: null, decision: 'reject', reason_code: 'NOT_FOUND', overhead_ms: 0.05 });
    const [p, none] = s.view();
    expect(p!.policy_id).toBe('p');
    expect(p!.total).toBe(4);
    expect(p!.decisions).toMatchObject({ allow: 1, refuse: 2, reject: 1 });
    expect(p!.shadow).toEqual({ decided: 2, would_change: 1, rate: 0.5 });
    expect(p!.enforced).toBe(1);
    expect(p!.quota_rejections).toBe(1);
    expect(p!.top_reason_codes[0]).toEqual({ reason_code: 'REFUSE', count: 2 });
    expect(p!.latency_added_ms).toEqual({ count: 4, mean: 1.15, p50: 0.25, p95: 5 });
    const last = p!.timeline.slice(-2);
    expect(last.map((m) => m.minute)).toEqual(['2026-01-13T10:00Z', '2026-01-13T10:01Z']);
    expect(last[0]!.counts).toMatchObject({ refuse: 2, allow: 1 });
    expect(last[1]!.counts).toMatchObject({ reject: 1 });
    expect(p!.timeline).toHaveLength(60);
    expect(none!.policy_id).toBe(NO_POLICY);
  });

  it('bounds reason codes per policy and forgets minutes older than an hour', () => {
    let now = 0;
    const s = new ConsoleStats(() => now);
    for (let i = 0; i < MAX_REASONS + 10; i++) s.add({ policy_id: 'p', decision: 'refuse', reason_code: `R${i}` });
    const v = s.view()[0]!;
    expect(v.top_reason_codes[0]).toEqual({ reason_code: 'OTHER', count: 10 });
    now = 61 * 60_000;
    s.add({ policy_id: 'p', decision: 'allow' });
    const t = s.view()[0]!.timeline;
    expect(t.reduce((n, m) => n + m.counts.refuse, 0)).toBe(0);
    expect(t.at(-1)!.counts.allow).toBe(1);
  });
});

describe('ConsoleStats across processes (--workers N)', () => {
  it('adds another process\'s snapshot: totals, reasons, latency buckets and the same minutes add up; older minutes give way', () => {
    let now = Date.UTC(2026, 0, 13, 10, 5, 0);
    const a = new ConsoleStats(() => now);
    const b = new ConsoleStats(() => now);
    a.add({ policy_id: 'p', decision: 'refuse', effective_decision: 'allow', rollout_mode: 'shadow', reason_code: 'REFUSE', overhead_ms: 0.2 });
    b.add({ policy_id: 'p', decision: 'allow', effective_decision: 'allow', rollout_mode: 'shadow', reason_code: 'ALLOW', overhead_ms: 3 });
    b.add({ policy_id: 'q', decision: 'reject', code: 'GW_ERR_RATE_LIMITED', reason_code: 'RATE_LIMITED' });
    const sum = new ConsoleStats(() => now);
    sum.absorb(JSON.parse(JSON.stringify(a.snapshot())));
    sum.absorb(JSON.parse(JSON.stringify(b.snapshot())));
    const [p, q] = sum.view();
    expect(p).toMatchObject({ policy_id: 'p', total: 2, shadow: { decided: 2, would_change: 1, rate: 0.5 } });
    expect(p!.latency_added_ms).toMatchObject({ count: 2, mean: 1.6 });
    expect(p!.timeline.at(-1)!.counts).toMatchObject({ refuse: 1, allow: 1 });
    expect(q).toMatchObject({ policy_id: 'q', total: 1, quota_rejections: 1 });
    now += 2 * 60_000;
    const c = new ConsoleStats(() => now);
    c.add({ policy_id: 'p', decision: 'allow' });
    sum.absorb(c.snapshot());
    const t = sum.view()[0]!.timeline;
    expect(t.at(-1)!.counts.allow).toBe(1);
    expect(t.at(-3)!.counts).toMatchObject({ refuse: 1, allow: 1 });
  });

  it('ignores malformed parts', () => {
    const s = new ConsoleStats();
    s.absorb({ startedAt: 0, policies: { p: null } } as never);
    s.absorb({ startedAt: 0 } as never);
    expect(s.view()).toEqual([]);
  });
});
