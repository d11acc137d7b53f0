// OpenTelemetry tracing end to end: the real CLI exports over OTLP/HTTP (JSON) to a loopback receiver; span tree, GenAI
// and policy attributes, traceparent honoured and passed on, sampling, failing hooks, no prompt or answer text in any
// span, and a silent or dead collector that never slows or breaks requests.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const PROMPT_SENTINEL = 'SENTINEL-PROMPT-77ab13';
const OUTPUT_SENTINEL = 'SENTINEL-OUTPUT-e5c0d9';
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

const POLICY = `policy "traced" {
  default
  topics { deny "competitor pricing" }
  respond {
    when denylist refuse with "I can't help with that topic."
    otherwise allow
  }
  redact response { email }
}
`;

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: AnyValue[] } };
interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  attributes?: { key: string; value: AnyValue }[];
  status?: { code?: number };
}
interface Receiver { url: string; spans: OtlpSpan[]; bodies: string[]; resources: Record<string, unknown>[]; close(): Promise<void> }

/** An OTLP/HTTP traces receiver (JSON encoding) on loopback: collects every span it is sent. */
async function startReceiver(): Promise<Receiver> {
  const spans: OtlpSpan[] = [];
  const bodies: string[] = [];
  const resources: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) { res.writeHead(415).end(); return; }
      bodies.push(text);
      const doc = JSON.parse(text) as { resourceSpans: { resource?: Record<string, unknown>; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        resources.push(rs.resource ?? {});
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, spans, bodies, resources, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

function attrs(s: OtlpSpan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of s.attributes ?? []) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue
      ?? v.arrayValue?.values?.map((x) => x.stringValue);
  }
  return out;
}

async function waitFor<T>(get: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function chat(gw: GatewayProcess, content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], ...extra }),
  });
}

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  let up: FakeUpstream;
  let rx: Receiver;
  let gw: GatewayProcess;

  beforeAll(async () => {
    up = await startFakeUpstream({ answer: `Sure. Mail ${OUTPUT_SENTINEL} to bob@example.com.` });
    rx = await startReceiver();
    gw = await startGateway(['--rules', rulesDir({ 'main.policy': POLICY }), '--upstream', up.baseUrl, '--otlp-endpoint', rx.url],
      { env: { OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'pgw-under-test' } });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    await rx?.close();
  });

  it('exports one server span per request with a child per plugin hook and a client span for the upstream call', async () => {
    const r = await chat(gw, `Summarize our refund policy. ${PROMPT_SENTINEL}`, { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' });
    expect(r.status).toBe(200);
    const body = await r.json() as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toContain('[EMAIL]');

    const root = await waitFor(() => rx.spans.find((s) => s.traceId === CLIENT_TRACE && s.kind === 2), 'the request span');
    // The client's traceparent is the parent of the gateway's span.
    expect(root.parentSpanId).toBe(CLIENT_SPAN);
    expect(root.name).toBe('POST /v1/chat/completions');
    const ra = attrs(root);
    expect(ra).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'fake-model',
      'policy_gateway.policy.id': 'traced', 'policy_gateway.decision': 'allow', 'policy_gateway.effective_decision': 'allow',
      'policy_gateway.reason_code': 'ALLOW', 'http.response.status_code': 200,
    });
    expect(String(ra['policy_gateway.policy.revision'])).toMatch(/\S/);
    expect(ra['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(ra['gen_ai.usage.output_tokens']).toBeGreaterThan(0);

    // The upstream call: a CLIENT child named after the operation and model, whose context went to the upstream.
    const client = await waitFor(() => rx.spans.find((s) => s.traceId === CLIENT_TRACE && s.kind === 3), 'the upstream span');
    expect(client.parentSpanId).toBe(root.spanId);
    expect(client.name).toBe('chat fake-model');
    expect(attrs(client)).toMatchObject({ 'gen_ai.request.model': 'fake-model', 'gen_ai.provider.name': 'openai', 'server.address': '127.0.0.1' });
    expect(attrs(client)['gen_ai.usage.output_tokens']).toBe(ra['gen_ai.usage.output_tokens']);
    expect(up.received.at(-1)!.headers.traceparent).toBe(`00-${CLIENT_TRACE}-${client.spanId}-01`);
    expect(up.received.at(-1)!.headers.tracestate).toBe('vendor=abc');

    // A child per plugin hook that ran: topics and decide on the request, the redactor on the answer, the auditor at the end.
    const hooks = await waitFor(() => {
      const hs = rx.spans.filter((s) => s.traceId === CLIENT_TRACE && s.kind === 1);
      return hs.some((s) => s.name === 'auditor onComplete') ? hs : undefined;
    }, `the hook spans (got ${rx.spans.filter((s) => s.kind === 1).map((s) => s.name).join(", ")})`);
    for (const h of hooks) expect(h.parentSpanId).toBe(root.spanId);
    const names = hooks.map((h) => h.name);
    expect(names).toEqual(expect.arrayContaining(['topics onRequest', 'decide onRequest', 'redactor onResponse', 'auditor onComplete']));
    expect(attrs(hooks.find((h) => h.name === 'topics onRequest')!)).toMatchObject({ 'policy_gateway.plugin': 'topics', 'policy_gateway.hook': 'onRequest' });
    expect(rx.resources.some((res) => JSON.stringify(res).includes('pgw-under-test'))).toBe(true);
  });

  it('records a refusal (no upstream span) and starts a new trace when the client sent none', async () => {
    const before = rx.spans.length;
    const r = await chat(gw, `What is the competitor pricing? ${PROMPT_SENTINEL}`);
    expect(r.status).toBe(200);
    const root = await waitFor(() => rx.spans.slice(before).find((s) => s.kind === 2 && attrs(s)['policy_gateway.decision'] === 'refuse'), 'the refusal span');
    expect(root.parentSpanId ?? '').toBe('');
    expect(root.traceId).not.toBe(CLIENT_TRACE);
    expect(attrs(root)).toMatchObject({ 'policy_gateway.reason_code': 'REFUSE', 'policy_gateway.effective_decision': 'refuse' });
    await waitFor(() => rx.spans.some((s) => s.traceId === root.traceId && s.name === 'auditor onComplete') || undefined, 'the auditor span');
    expect(rx.spans.filter((s) => s.traceId === root.traceId && s.kind === 3)).toEqual([]);
  });

  it('records a request answered before any policy (bad JSON) as one server span named after its route', async () => {
    const trace = 'aaf92f3577b34da6a3ce929d0e0e4799';
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${trace}-${CLIENT_SPAN}-01` }, body: `{"model": "m", "messages": "${PROMPT_SENTINEL}`,
    });
    expect(r.status).toBe(400);
    const s = await waitFor(() => rx.spans.find((x) => x.traceId === trace), 'the rejected request span');
    expect(s).toMatchObject({ name: 'POST v1', kind: 2, parentSpanId: CLIENT_SPAN });
    expect(attrs(s)).toMatchObject({ 'http.response.status_code': 400, 'error.type': 'GW_ERR_BAD_JSON', 'policy_gateway.route': 'v1' });
  });

  it('clips a client-sent model name in span names and attributes', async () => {
    const trace = 'bbf92f3577b34da6a3ce929d0e0e4711';
    const model = `m-${'x'.repeat(2000)}`;
    const r = await chat(gw, 'hello', { traceparent: `00-${trace}-${CLIENT_SPAN}-01` }, { model });
    expect(r.status).toBe(200);
    const client = await waitFor(() => rx.spans.find((x) => x.traceId === trace && x.kind === 3), 'the upstream span');
    expect(client.name.length).toBeLessThanOrEqual(5 + 256);
    expect(String(attrs(client)['gen_ai.request.model']).length).toBe(256);
  });

  it('puts no prompt or answer text in any exported span', async () => {
    const s = await chat(gw, `stream it ${PROMPT_SENTINEL}`, {}, { stream: true });
    await s.text();
    await waitFor(() => rx.spans.some((x) => x.kind === 2 && attrs(x)['gen_ai.request.model'] === 'fake-model' && rx.spans.length > 10) || undefined, 'spans');
    const all = rx.bodies.join('\n');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(PROMPT_SENTINEL);
    expect(all).not.toContain(OUTPUT_SENTINEL);
    expect(all).not.toContain('bob@example.com');
    expect(all).not.toContain('refund');
  });
});

describe('sampling', () => {
  it('--otlp-sample-ratio 0 records no new traces but follows a client that sampled its trace', async () => {
    const up = await startFakeUpstream();
    const rx = await startReceiver();
    const gw = await startGateway(['--rules', rulesDir({ 'main.policy': POLICY }), '--upstream', up.baseUrl, '--otlp-endpoint', rx.url, '--otlp-sample-ratio', '0'],
      { env: { OTEL_BSP_SCHEDULE_DELAY: '20' } });
    try {
      for (let i = 0; i < 5; i++) expect((await chat(gw, 'hello')).status).toBe(200);
      const sampled = '0af7651916cd43dd8448eb211c80319c';
      expect((await chat(gw, 'hello', { traceparent: `00-${sampled}-b7ad6b7169203331-01` })).status).toBe(200);
      await waitFor(() => rx.spans.find((s) => s.traceId === sampled && s.kind === 2), 'the sampled trace');
      expect(up.received.at(-1)!.headers.traceparent).toMatch(new RegExp(`^00-${sampled}-[0-9a-f]{16}-01$`));
      expect(new Set(rx.spans.map((s) => s.traceId))).toEqual(new Set([sampled]));
    } finally {
      await gw.stop();
      await up.close();
      await rx.close();
    }
  });

  it('without tracing, a client traceparent is passed on to the upstream unchanged', async () => {
    const up = await startFakeUpstream();
    const gw = await startGateway(['--rules', rulesDir({ 'main.policy': POLICY }), '--upstream', up.baseUrl]);
    try {
      const tp = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
      expect((await chat(gw, 'hello', { traceparent: tp, tracestate: 'vendor=abc' })).status).toBe(200);
      expect(up.received.at(-1)!.headers.traceparent).toBe(tp);
      expect(up.received.at(-1)!.headers.tracestate).toBe('vendor=abc');
      expect((await chat(gw, 'hello', { traceparent: 'junk', tracestate: 'vendor=abc' })).status).toBe(200);
      expect(up.received.at(-1)!.headers.traceparent).toBeUndefined();
      expect(up.received.at(-1)!.headers.tracestate).toBeUndefined();
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('a failing plugin hook', () => {
  it('is a child span in error, and the request span says why', async () => {
    const up = await startFakeUpstream();
    const rx = await startReceiver();
    // The moderation endpoint is the fake upstream answering model "slow" after 2 s: past the 200 ms plugin budget.
    const policy = `policy "slowmod" {\n  default\n  moderation { provider openai { url "${up.baseUrl}/moderations"; model "slow"; timeout 10s }; on_error open }\n}\n`;
    const gw = await startGateway(['--rules', rulesDir({ 'm.policy': policy }), '--upstream', up.baseUrl, '--otlp-endpoint', rx.url, '--plugin-timeout', '200ms'],
      { env: { OTEL_BSP_SCHEDULE_DELAY: '20' } });
    try {
      const trace = 'ccf92f3577b34da6a3ce929d0e0e4722';
      const r = await chat(gw, 'hello', { traceparent: `00-${trace}-${CLIENT_SPAN}-01` });
      expect(r.status).toBe(500);
      const root = await waitFor(() => rx.spans.find((x) => x.traceId === trace && x.kind === 2), 'the request span');
      expect(attrs(root)).toMatchObject({ 'http.response.status_code': 500, 'error.type': 'GW_ERR_PLUGIN_TIMEOUT' });
      expect(root.status?.code).toBe(2);
      const hook = await waitFor(() => rx.spans.find((x) => x.traceId === trace && x.name === 'moderation onRequest'), 'the hook span');
      expect(hook.parentSpanId).toBe(root.spanId);
      expect(hook.status?.code).toBe(2);
      expect(rx.spans.filter((x) => x.traceId === trace && x.kind === 3)).toEqual([]);
    } finally {
      await gw.stop();
      await up.close();
      await rx.close();
    }
  });
});

describe('an unreachable or silent collector', () => {
  it('never slows or breaks requests', async () => {
    const up = await startFakeUpstream();
    // A collector that accepts connections and never answers, and one nobody listens on.
    const silent = net.createServer(() => { /* hold the socket, never answer */ });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as AddressInfo).port;
    const rules = rulesDir({ 'main.policy': POLICY });
    const gws = [
      // Exports to the silent collector wait up to a minute: a request that waited for one would outlive this test.
      await startGateway(['--rules', rules, '--upstream', up.baseUrl, '--otlp-endpoint', `http://127.0.0.1:${silentPort}`],
        { env: { OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_BSP_MAX_QUEUE_SIZE: '64', OTEL_EXPORTER_OTLP_TIMEOUT: '60000' } }),
      await startGateway(['--rules', rules, '--upstream', up.baseUrl, '--otlp-endpoint', 'http://127.0.0.1:9/v1/traces'],
        { env: { OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_BSP_MAX_QUEUE_SIZE: '64', OTEL_EXPORTER_OTLP_TIMEOUT: '500' } }),
    ];
    try {
      for (const gw of gws) {
        // More requests than the queue holds: spans beyond it are dropped, requests are not held up.
        for (let round = 0; round < 10; round++) {
          const rs = await Promise.all(Array.from({ length: 20 }, () => chat(gw, 'hello')));
          for (const r of rs) { expect(r.status).toBe(200); await r.text(); }
        }
        const health = await fetch(`${gw.url}/healthz`);
        expect(health.status).toBe(200);
      }
      // The failing export is reported (rate-limited), never as a crash.
      await waitFor(() => (gws[1]!.stdout().includes('trace export failed') ? true : undefined), 'the export warning');
    } finally {
      // A graceful stop gives up on the stalled export after a bounded wait (5 s) and still exits 0.
      for (const gw of gws) expect(await gw.stop()).toBe(0);
      silent.close();
      await up.close();
    }
  }, 60_000);
});
