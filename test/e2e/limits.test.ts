// Connection limits and timeouts (issue 13 item 2), with real sockets against the real CLI: a client that stalls its
// body gets a 408 and its socket back; hundreds of stalled connections cannot lock anyone out — new clients get a fast
// 503, /healthz and /metrics keep answering from the ops reserve and from --ops-listen, and service resumes when the
// stalled connections go; a connection where nothing moves is closed at the idle timeout.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseRawResponse, postHead, rawExchange } from '../helpers/raw-http.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const RULES = { 'p.policy': 'policy "p" {\n  default\n}\n' };
const chat = JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

async function setup(args: string[], upOpts?: Parameters<typeof startFakeUpstream>[0]): Promise<{ gw: GatewayProcess; up: FakeUpstream }> {
  const up = await startFakeUpstream(upOpts);
  cleanup.push(() => up.close());
  const gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, ...args]);
  cleanup.push(() => gw.stop());
  return { gw, up };
}

/** Opens `n` connections that each send a request head and a few body bytes, then stall. */
async function stalled(port: number, n: number, what: 'body' | 'nothing' = 'body'): Promise<net.Socket[]> {
  const socks = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      if (what === 'body') s.write(`${postHead('/v1/chat/completions', 1000)}{"model":`);
      resolve(s);
    });
    s.on('error', reject);
  })));
  cleanup.push(() => { for (const s of socks) s.destroy(); });
  return socks;
}

const get = async (url: string) => {
  const t = performance.now();
  const r = await fetch(url);
  return { status: r.status, ms: performance.now() - t, body: await r.text() };
};

describe('a client that stalls its body', () => {
  it('gets a 408 request_timeout after --request-timeout, is closed, and leaves one audit record', async () => {
    const { gw, up } = await setup(['--request-timeout', '1s']);
    const r = await rawExchange(gw.port, [`${postHead('/v1/chat/completions', 500, ['X-Request-Id: stall-1'])}{"model":"m"`], { waitMs: 6000 });
    expect(r.status).toBe(408);
    expect(r.end).toBe('closed');
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(4000);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'request_timeout', type: 'invalid_request_error' } });
    await expect.poll(() => gw.stdout().split('\n').filter((l) => / status=408 /.test(l)).length, { timeout: 3000 }).toBe(1);
    const rec = parseLogfmt(gw.stdout().split('\n').find((l) => / status=408 /.test(l))!);
    expect(rec).toMatchObject({ code: 'GW_ERR_REQUEST_TIMEOUT', route: 'v1' });
    expect(up.received).toHaveLength(0);
  });

  it('a connection that sends nothing is answered 408 and closed at the same bound (headers included)', async () => {
    const { gw } = await setup(['--request-timeout', '1s']);
    const r = await rawExchange(gw.port, [], { waitMs: 6000 });
    expect(r.status).toBe(408);
    expect(r.end).toBe('closed');
  });
});

describe('many stalled connections', () => {
  it('cannot lock anyone out: fast 503 for new clients, /healthz and /metrics answer, service resumes after', async () => {
    const { gw } = await setup(['--max-connections', '200', '--ops-reserve', '4', '--request-timeout', '60s', '--ops-listen', '0']);
    const opsPort = Number(/"opsPort":(\d+)/.exec(gw.stdout())![1]);
    const held = await stalled(gw.port, 200);
    // the limit is reached: a new chat request on the main port gets a fast JSON 503 with Retry-After
    const t = performance.now();
    const refused = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat });
    expect(refused.status).toBe(503);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('overloaded');
    // ops routes still answer on the main port, from the reserve
    expect((await get(`${gw.url}/healthz`)).status).toBe(200);
    const metrics = await get(`${gw.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^policy_gateway_open_connections 20[0-9]$/m);
    // fill the reserve with idle connections: past it, the answer is a canned 503 before any request is read
    const reserve = await stalled(gw.port, 4, 'nothing');
    const canned = await rawExchange(gw.port, [], { waitMs: 3000 });
    expect(canned.status).toBe(503);
    expect(canned.ms).toBeLessThan(1000);
    expect(JSON.parse(canned.body)).toMatchObject({ error: { code: 'overloaded' } });
    // the ops listener is not subject to the client limit
    const ops = await get(`http://127.0.0.1:${opsPort}/healthz`);
    expect(ops.status).toBe(200);
    expect(ops.ms).toBeLessThan(1000);
    expect((await get(`http://127.0.0.1:${opsPort}/metrics`)).body).toMatch(/^policy_gateway_connections_rejected_total [1-9]\d*$/m);
    expect((await fetch(`http://127.0.0.1:${opsPort}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat })).status).toBe(404);
    // the stalled clients go away: service resumes
    for (const s of [...held, ...reserve]) s.destroy();
    await expect.poll(async () => (await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat })).status, { timeout: 5000 }).toBe(200);
    expect(gw.stdout()).toContain('connection limit reached');
  });
});

describe('the idle timeout', () => {
  it('closes a connection on which nothing moves for --idle-timeout', async () => {
    const { gw } = await setup(['--idle-timeout', '1s', '--upstream-timeout', '30s'], { slowMs: 10_000 });
    const t = performance.now();
    const r = await rawExchange(gw.port, [`${postHead('/v1/chat/completions', Buffer.byteLength(chat.replace('fake-model', 'slow')))}${chat.replace('fake-model', 'slow')}`], { waitMs: 8000 });
    expect(r.end).not.toBe('timeout');
    expect(performance.now() - t).toBeLessThan(5000);
    expect(parseRawResponse(r.text).status).toBe(0);
    await expect.poll(() => gw.stdout().includes('"msg":"request aborted"'), { timeout: 3000 }).toBe(true);
  });
});
