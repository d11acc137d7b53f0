// Parser-level rejections (issue 13 item 8): requests Node's HTTP parser refuses — smuggling attempts, bare CR, NUL,
// obs-fold, oversized heads, garbage — get an OpenAI-shaped JSON 400/431 with Connection: close, exactly one audit record
// each, and nothing reaches the upstream. Raw sockets against the real CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const AUDIT_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z policy_id=/;
let up: FakeUpstream;
let gw: GatewayProcess;
beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(['--rules', rulesDir({ 'p.policy': 'policy "p" {\n  default\n}\n' }), '--upstream', up.baseUrl]);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const audits = () => gw.stdout().split('\n').filter((l) => AUDIT_LINE.test(l)).map(parseLogfmt);
const chat = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
const POST = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';

describe('requests the HTTP parser refuses', () => {
  it.each([
    { note: 'Content-Length with Transfer-Encoding (request smuggling)', raw: `${POST}Content-Length: ${chat.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, status: 400, code: 'invalid_http', says: 'Transfer-Encoding' },
    { note: 'two different Content-Length headers', raw: `${POST}Content-Length: 5\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 400, code: 'invalid_http', says: 'Content-Length' },
    { note: 'a bare CR inside a header value', raw: `${POST}X-A: b\rc\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 400, code: 'invalid_http', says: 'line ending' },
    { note: 'a NUL byte in a header value', raw: `${POST}X-A: b\0c\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 400, code: 'invalid_http', says: 'header' },
    { note: 'an obs-fold continuation line', raw: `${POST}X-A: b\r\n c\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 400, code: 'invalid_http', says: 'header' },
    { note: 'a 20 KB header', raw: `${POST}X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 431, code: 'headers_too_large', says: '16384' },
    { note: 'an unknown method', raw: 'GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'invalid_http', says: 'method' },
    { note: 'an invalid chunk size in a chunked body', raw: `${POST}Transfer-Encoding: chunked\r\n\r\nzz\r\n${chat}\r\n0\r\n\r\n`, status: 400, code: 'invalid_http', says: 'chunk' },
    { note: 'an HTTP/1.1 request without Host', raw: `POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 400, code: 'invalid_http', says: 'Host' },
    { note: 'an Expect other than 100-continue', raw: `${POST}Expect: 200-ok\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`, status: 417, code: 'expectation_failed', says: '100-continue' },
  ])('$note: JSON $status, one audit record, nothing forwarded', async ({ raw, status, code, says }) => {
    const before = audits().length;
    const forwarded = up.received.length;
    const r = await rawExchange(gw.port, [raw], { waitMs: 3000 });
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.connection).toBe('close');
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const body = JSON.parse(r.body) as { error: { message: string; type: string; param: null; code: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null, code });
    expect(body.error.message).toContain(says);
    expect(r.end).toBe('closed'); // the gateway closed the connection (no second request was read)
    await expect.poll(() => audits().length, { timeout: 3000 }).toBe(before + 1);
    const rec = audits().at(-1)!;
    expect(rec).toMatchObject({ status: String(status), request_id: r.headers['x-request-id'], decision: 'reject' });
    expect(rec.code).toBe(status === 431 ? 'GW_ERR_HEADERS_TOO_LARGE' : status === 417 ? 'GW_ERR_EXPECTATION_FAILED' : 'GW_ERR_BAD_HTTP');
    expect(up.received.length).toBe(forwarded);
  });

  it('never echoes the bytes it refused', async () => {
    const r = await rawExchange(gw.port, [`${POST}X-A: SECRET-\0-HEADER\r\n\r\n`], { waitMs: 3000 });
    expect(r.status).toBe(400);
    expect(r.text).not.toContain('SECRET');
  });

  it('the gateway keeps serving and counts the rejections by status', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(text.match(/policy_gateway_requests_total\{route="unknown",endpoint="none",status="431"\} (\d+)/)?.[1])).toBe(1);
  });
});
