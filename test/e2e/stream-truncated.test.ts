// A stream the upstream did not finish (issue 13 item 5): an SSE body that ends cleanly without `[DONE]` and without a
// finish_reason, in the middle of a value the redactor is holding back, is an upstream failure like a reset — the held
// tail is never released, the stream ends with the same error event as a reset, and the audit line and metrics say so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const base = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'm' };
const piece = (content: string, finish: string | null = null, index = 0) =>
  `data: ${JSON.stringify({ ...base, choices: [{ index, delta: { content }, finish_reason: finish }] })}\n\n`;

/** How each model name makes the fake upstream end its stream. */
const ENDINGS: Record<string, (res: http.ServerResponse) => void> = {
  // the body ends cleanly (chunked terminator) mid-address: no finish_reason, no [DONE]
  truncated: (res) => { res.write(piece('Write to john.doe@exa')); res.end(piece('mple.c')); },
  // the connection is reset mid-address
  reset: (res) => { res.write(piece('Write to john.doe@exa')); setTimeout(() => res.socket?.destroy(), 50); },
  // every choice finished, only [DONE] is missing: a complete answer
  'no-done': (res) => { res.write(piece('Write to john.doe@example.com')); res.end(piece(' thanks', 'stop')); },
  // two choices, one finished, the other cut mid-address
  'half-finished': (res) => { res.write(piece('ok', 'stop', 0)); res.end(piece('mail jane@exa', null, 1)); },
};

let upstream: http.Server;
let gw: GatewayProcess;
beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => { raw += c; });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      ENDINGS[(JSON.parse(raw) as { model: string }).model]!(res);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  gw = await startGateway(['--rules', rulesDir({ 'r.policy': 'policy "r" {\n  default\n  redact response { email }\n}\n' }), '--upstream', url]);
});
afterAll(async () => {
  await gw?.stop();
  await new Promise((r) => upstream.close(r));
});

async function stream(model: string, id: string): Promise<string[]> {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(r.status).toBe(200);
  return (await r.text()).trimEnd().split('\n\n');
}
const audit = async (id: string) => {
  await expect.poll(() => gw.stdout().includes(`request_id=${id} `), { timeout: 5000 }).toBe(true);
  return parseLogfmt(gw.stdout().split('\n').find((l) => l.includes(`request_id=${id} `))!);
};
const metric = async (kind: string) => Number((await (await fetch(`${gw.url}/metrics`)).text()).match(new RegExp(`policy_gateway_upstream_errors_total\\{upstream="default",kind="${kind}"\\} (\\d+)`))?.[1] ?? 0);

describe('a stream the upstream did not finish', () => {
  it.each([
    { note: 'a clean end without [DONE] or finish_reason', model: 'truncated', leak: ['john', 'exa', 'mple.c'] },
    { note: 'a connection reset', model: 'reset', leak: ['john', 'exa'] },
    { note: 'a clean end with one of two choices unfinished', model: 'half-finished', leak: ['jane', 'exa'] },
  ])('$note: the held tail is never released and the stream ends with the upstream_interrupted error event', async ({ model, leak }) => {
    const before = await metric('interrupted');
    const events = await stream(model, `trunc-${model}`);
    const text = events.join('\n');
    for (const l of leak) expect(text).not.toContain(l);
    expect(text).not.toContain('[DONE]');
    expect(events.at(-1)).toMatch(/^data: \{"error":\{"message":"the upstream model server broke off its answer before it was complete","type":"server_error","param":null,"code":"upstream_interrupted"\}\}$/);
    expect(await audit(`trunc-${model}`)).toMatchObject({ code: 'GW_ERR_UPSTREAM_INTERRUPTED', status: '200', stream: 'true' });
    expect(await metric('interrupted')).toBe(before + 1);
  });

  it('every choice finished but [DONE] missing: a complete answer, redacted, with the policy chunk and [DONE]', async () => {
    const events = await stream('no-done', 'trunc-no-done');
    const text = events.join('\n');
    expect(text).toContain('[EMAIL]');
    expect(text).not.toContain('john');
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.at(-2)).toContain('"policy":');
    expect(await audit('trunc-no-done')).toMatchObject({ code: null, status: '200' });
  });
});
