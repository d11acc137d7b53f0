// End-to-end quotas (issue 6) against the REAL Redis: two gateway processes (and `--workers 2`) sharing counters
// admit exactly the limit under 500 concurrent requests; tokens settle from the upstream's usage (streaming too);
// a failed upstream call gives its reservation back; the in-process store answers 429 + Retry-After as well.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { startFakeUpstream, usageFor, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Unique per run: in every policy id (so in every counter key), never colliding with other runs or suites. */
const RUN = randomBytes(4).toString('hex');
const HOUR = 3_600_000;

let redis: Redis;
const cleanup: (() => Promise<unknown>)[] = [];

async function runKeys(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `pgw:q:*${RUN}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  expect(await redis.ping()).toBe('PONG');
});
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
afterAll(async () => {
  if (!redis) return;
  const keys = await runKeys();
  if (keys.length > 0) await redis.del(...keys);
  expect(await runKeys()).toEqual([]);
  await redis.quit();
});

async function upstream(): Promise<FakeUpstream> {
  const u = await startFakeUpstream();
  cleanup.push(() => u.close());
  return u;
}
async function gateway(policy: string, up: FakeUpstream, extra: string[] = []): Promise<GatewayProcess> {
  const g = await startGateway(['--rules', rulesDir({ 'q.policy': policy }), '--upstream', up.baseUrl, ...extra]);
  cleanup.push(() => g.stop());
  return g;
}

/**
 * The limits under test are per HOUR, not per minute: windows are fixed and UTC-aligned, so a burst that straddled
 * a boundary would be counted in two windows (up to twice the limit would pass, correctly) and the exact-count
 * assertions would be wrong. A test takes a few seconds; if the current hour ends within `marginMs`, wait for the
 * next one to start (at most `marginMs`, about once an hour) so every request of the test lands in one window.
 */
async function awayFromHourEdge(marginMs = 20_000): Promise<void> {
  const left = HOUR - (Date.now() % HOUR);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}
const hourStart = (t = Date.now()) => t - (t % HOUR);
const secondsToHourEnd = () => (HOUR - (Date.now() % HOUR)) / 1000;

/** Go duration text (`44m12.5s`, `1h0m0s`, `3.2s`, `20ms`) → seconds. */
function goDuration(s: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:(\d+)ms)?$/.exec(s);
  expect(m, `Go duration "${s}"`).not.toBeNull();
  return Number(m![1] ?? 0) * 3600 + Number(m![2] ?? 0) * 60 + Number(m![3] ?? 0) + Number(m![4] ?? 0) / 1000;
}

const msgs = [{ role: 'user' as const, content: 'How long do refunds take?' }];

interface Answer { status: number; headers: Headers; body: any; gateway: number }

function chat(g: GatewayProcess, headers: Record<string, string>, body: Record<string, unknown> = {}): Promise<Omit<Answer, 'gateway'>> {
  return fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'fake-model', messages: msgs, ...body }),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }));
}

/** Fires `n` requests at once, round-robin over `gws`, all as user `user`. */
async function burst(gws: GatewayProcess[], n: number, user: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => chat(gws[i % gws.length]!, { 'x-policy-user': user }).then((a) => ({ ...a, gateway: i % gws.length }))));
}

/** Audit records (logfmt lines on stdout) of a gateway. */
const auditRecords = (g: GatewayProcess) => g.stdout().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+ policy_id=/.test(l)).map(parseLogfmt);

/** Waits for the audit record of request `id`: it is written after the quota plugin has settled the request. */
async function settled(g: GatewayProcess, id: string): Promise<Record<string, string | null>> {
  let rec: Record<string, string | null> | undefined;
  await expect.poll(() => (rec = auditRecords(g).find((r) => r.request_id === id)), { timeout: 5000 }).toBeDefined();
  return rec!;
}

async function metric(g: GatewayProcess, re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`${g.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

/** Checks the exact outcome of a burst against `user 100 requests per hour`. */
function expectExactly100(answers: Answer[]): void {
  const ok = answers.filter((a) => a.status === 200);
  const limited = answers.filter((a) => a.status === 429);
  expect({ ok: ok.length, limited: limited.length, other: answers.length - ok.length - limited.length })
    .toEqual({ ok: 100, limited: answers.length - 100, other: 0 });
  // every admission saw its own count: remaining 99, 98, …, 0 — each exactly once
  expect(ok.map((a) => Number(a.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  for (const a of ok) expect(a.headers.get('x-ratelimit-limit-requests')).toBe('100');

  const expected = secondsToHourEnd();
  for (const a of limited) {
    const retry = a.headers.get('retry-after');
    expect(retry).toMatch(/^[1-9]\d*$/);
    expect(Math.abs(Number(retry) - expected)).toBeLessThanOrEqual(5);
    expect(a.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(a.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(Math.abs(goDuration(a.headers.get('x-ratelimit-reset-requests')!) - Number(retry))).toBeLessThanOrEqual(1);
    expect(a.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(a.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(a.body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(a.body.error.message).toBe(`rate limit "user 100 requests per hour" exceeded: retry after ${retry} seconds`);
  }
}

describe('Redis store shared by several gateway processes', () => {
  it('two gateways, 500 concurrent requests against "user 100 requests per hour": exactly 100 pass, 400 get 429', async () => {
    const id = `burst-${RUN}`;
    const up = await upstream();
    const policy = `policy "${id}" {\n  default\n  quota {\n    user 100 requests per hour\n    on_error closed\n  }\n}\n`;
    const gws = await Promise.all([gateway(policy, up, ['--redis-url', REDIS_URL]), gateway(policy, up, ['--redis-url', REDIS_URL])]);
    await awayFromHourEdge();
    const start = hourStart();
    const answers = await burst(gws, 500, 'heavy');
    expect(hourStart()).toBe(start);

    expectExactly100(answers);
    // each gateway alone would have admitted up to 100: the sum is 100 only because they share the counter
    expect(answers.filter((a) => a.gateway === 0).length).toBe(250);
    expect(up.received.length).toBe(100);
    expect(await redis.get(`pgw:q:${id}:user_requests:hour:u:heavy:${start / 1000}`)).toBe('100');
    const ttl = await redis.pttl(`pgw:q:${id}:user_requests:hour:u:heavy:${start / 1000}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(start + HOUR + 10_000 - Date.now() + 1000);

    // audit records and metrics of both processes tell the same story
    await expect.poll(() => auditRecords(gws[0]!).length + auditRecords(gws[1]!).length, { timeout: 5000 }).toBe(500);
    const limited = [...auditRecords(gws[0]!), ...auditRecords(gws[1]!)].filter((r) => r.status === '429');
    expect(limited.length).toBe(400);
    for (const r of limited) expect(r).toMatchObject({ decision: 'reject', reason_code: 'RATE_LIMITED', code: 'GW_ERR_RATE_LIMITED', quota_limit: 'user 100 requests per hour' });
    const rejections = new RegExp(`^policy_gateway_quota_rejections_total\\{policy_id="${id}",scope="user_requests"\\} (\\d+)$`, 'm');
    expect((await metric(gws[0]!, rejections)) + (await metric(gws[1]!, rejections))).toBe(400);
    expect(await metric(gws[0]!, /^policy_gateway_quota_store_errors_total\{[^}]*\} (\d+)$/m)).toBe(0);
  });

  it('--workers 2 on one port shares the Redis counter too: exactly 100 of 300 pass', async () => {
    const id = `workers-${RUN}`;
    const up = await upstream();
    const gw = await gateway(`policy "${id}" {\n  default\n  quota { user 100 requests per hour; on_error closed }\n}\n`, up, ['--redis-url', REDIS_URL, '--workers', '2']);
    await awayFromHourEdge();
    const answers = await burst([gw], 300, 'worker-user');
    expectExactly100(answers);
    expect(up.received.length).toBe(100);
    // both worker processes answered
    const pids = new Set(gw.stdout().split('\n').filter((l) => l.includes('"msg":"request completed"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    expect(pids.size).toBe(2);
    expect(await redis.get(`pgw:q:${id}:user_requests:hour:u:worker-user:${hourStart() / 1000}`)).toBe('100');
  });
});

describe('reserve, then settle from usage (Redis)', () => {
  const L = 100_000;
  const policyText = (id: string) => `policy "${id}" {
  default
  quota {
    user 1000 requests per hour
    user 100k tokens per hour
    on_error closed
  }
}
`;

  it('non-streaming and streaming answers settle to the upstream usage; the next answer shows it', async () => {
    const id = `settle-${RUN}`;
    const up = await upstream();
    const gw = await gateway(policyText(id), up, ['--redis-url', REDIS_URL]);
    await awayFromHourEdge();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-policy-user': 'settler' } });
    const tokenKey = `pgw:q:${id}:user_tokens:hour:u:settler:${hourStart() / 1000}`;
    const params = { model: 'fake-model', messages: msgs, max_tokens: 400 };
    let used = 0;
    let n = 0;

    // A: the first answer shows the budget minus this request's reservation R (prompt estimate + max_tokens)
    const a = await client.chat.completions.create(params, { headers: { 'x-request-id': `${id}-${++n}` } }).withResponse();
    const R = L - Number(a.response.headers.get('x-ratelimit-remaining-tokens'));
    expect(a.response.headers.get('x-ratelimit-limit-tokens')).toBe(String(L));
    expect(R).toBeGreaterThanOrEqual(400);
    const tA = a.data.usage!.total_tokens;
    expect(tA).toBeLessThan(R); // so settling really moves the counter
    await settled(gw, `${id}-${n}`);
    used += tA;
    expect(Number(await redis.get(tokenKey))).toBe(used);

    // B: identical request: remaining = budget − A's real usage − B's own reservation
    const b = await client.chat.completions.create(params, { headers: { 'x-request-id': `${id}-${++n}` } }).withResponse();
    expect(Number(b.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(L - used - R);
    await settled(gw, `${id}-${n}`);
    used += b.data.usage!.total_tokens;
    expect(Number(await redis.get(tokenKey))).toBe(used);

    // C: streaming, the client did not ask for usage: none reaches it, but the gateway settles from the upstream's
    const c = await client.chat.completions.create({ ...params, stream: true }, { headers: { 'x-request-id': `${id}-${++n}` } }).withResponse();
    expect(Number(c.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(L - used - R);
    let text = '';
    let sawUsage = false;
    for await (const chunk of c.data) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text).toBe(FAKE_ANSWER);
    expect(sawUsage).toBe(false);
    const sentC = up.received.find((r) => r.headers['x-request-id'] === `${id}-${n}`)!;
    expect(sentC.body.stream_options).toEqual({ include_usage: true });
    const recC = await settled(gw, `${id}-${n}`);
    const tC = usageFor(sentC.body, FAKE_ANSWER).total_tokens;
    expect(Number(recC.prompt_tokens) + Number(recC.completion_tokens)).toBe(tC);
    used += tC;
    expect(Number(await redis.get(tokenKey))).toBe(used);

    // D: streaming, the client asked for usage: it gets the chunk, and the settlement matches it
    const d = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }, { headers: { 'x-request-id': `${id}-${++n}` } });
    let usageD: OpenAI.CompletionUsage | undefined;
    for await (const chunk of d) if (chunk.usage) usageD = chunk.usage;
    expect(usageD?.total_tokens).toBeGreaterThan(0);
    await settled(gw, `${id}-${n}`);
    used += usageD!.total_tokens;

    // E: the next answer reflects all four settlements
    const e = await client.chat.completions.create(params, { headers: { 'x-request-id': `${id}-${++n}` } }).withResponse();
    expect(Number(e.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(L - used - R);
    expect(e.response.headers.get('x-ratelimit-remaining-requests')).toBe(String(1000 - n));
    await settled(gw, `${id}-${n}`);
    expect(Number(await redis.get(tokenKey))).toBe(used + e.data.usage!.total_tokens);
  });

  it('an upstream failure (model fail-500 → 502) gives the token reservation back; the request still counts', async () => {
    const id = `refund-${RUN}`;
    const up = await upstream();
    const gw = await gateway(policyText(id), up, ['--redis-url', REDIS_URL]);
    await awayFromHourEdge();
    const tokenKey = `pgw:q:${id}:user_tokens:hour:u:refunded:${hourStart() / 1000}`;

    const failed = await chat(gw, { 'x-policy-user': 'refunded', 'x-request-id': `${id}-1` }, { model: 'fail-500', max_tokens: 400 });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatchObject({ code: 'upstream_bad_response', type: 'server_error' });
    const R = L - Number(failed.headers.get('x-ratelimit-remaining-tokens'));
    expect(R).toBeGreaterThanOrEqual(400);
    expect(await settled(gw, `${id}-1`)).toMatchObject({ status: '502', prompt_tokens: null });
    expect(await redis.get(tokenKey)).toBe('0');

    // the same request again sees the whole budget minus only its own reservation; one request already counted
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-policy-user': 'refunded' } });
    const ok = await client.chat.completions.create({ model: 'fake-model', messages: msgs, max_tokens: 400 }, { headers: { 'x-request-id': `${id}-2` } }).withResponse();
    expect(Number(ok.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(L - R);
    expect(ok.response.headers.get('x-ratelimit-remaining-requests')).toBe('998');
    await settled(gw, `${id}-2`);
    expect(Number(await redis.get(tokenKey))).toBe(ok.data.usage!.total_tokens);
  });
});

describe('in-process store (no --redis-url)', () => {
  it('20 concurrent requests against "user 3 requests per hour": 3 pass, 17 get 429 with Retry-After; Redis untouched', async () => {
    const id = `memory-${RUN}`;
    const up = await upstream();
    const gw = await gateway(`policy "${id}" {\n  default\n  quota { user 3 requests per hour }\n}\n`, up);
    await awayFromHourEdge();
    const answers = await burst([gw], 20, 'mem-user');
    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    expect([ok.length, limited.length]).toEqual([3, 17]);
    expect(ok.map((a) => a.headers.get('x-ratelimit-remaining-requests')).sort()).toEqual(['0', '1', '2']);
    const expected = secondsToHourEnd();
    for (const a of limited) {
      expect(Math.abs(Number(a.headers.get('retry-after')) - expected)).toBeLessThanOrEqual(5);
      expect(a.body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
      expect(a.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    }
    // the openai SDK sees the same as a RateLimitError
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-policy-user': 'mem-user' } });
    await expect(client.chat.completions.create({ model: 'fake-model', messages: msgs })).rejects.toMatchObject({ constructor: OpenAI.RateLimitError, status: 429, code: 'rate_limit_exceeded' });
    // another user has its own count
    expect((await chat(gw, { 'x-policy-user': 'someone-else' })).status).toBe(200);
    expect((await runKeys()).filter((k) => k.startsWith(`pgw:q:${id}:`))).toEqual([]);
  });
});
