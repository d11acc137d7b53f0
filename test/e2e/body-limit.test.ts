// 413 is read, not lost to a reset (issue 13 item 6): a body over --body-limit is answered 413 with `Connection: close`,
// and the gateway drains the rest of the upload before closing, so a client still sending reads the answer — Node's
// fetch (undici) with a 4 MB body against a 64 KB limit, raw sockets uploading like curl, with and without
// `Expect: 100-continue` (then no byte of the body is needed), and chunked uploads. Repeated to catch the race.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseRawResponse, postHead, rawExchange } from '../helpers/raw-http.ts';
import net from 'node:net';

const FOUR_MB = 4 * 1024 * 1024;
const ROUNDS = 20;
let up: FakeUpstream;
let gw: GatewayProcess;
beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(['--rules', rulesDir({ 'p.policy': 'policy "p" {\n  default\n}\n' }), '--upstream', up.baseUrl, '--body-limit', '64kb']);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const bigBody = (n: number) => `{"model":"m","messages":[{"role":"user","content":"${'x'.repeat(n - 60)}"}]}`;

/** Uploads `total` bytes after `head` the way curl does (64 KB writes as fast as the socket takes them) and reads the answer. */
function upload(head: string, total: number, opts: { chunked?: boolean; waitContinue?: boolean } = {}): Promise<{ status: number; body: string; headers: Record<string, string>; sent: number; error?: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(gw.port, '127.0.0.1');
    let got = '';
    let sent = 0;
    let finished = false;
    const done = (error?: string) => {
      if (finished) return;
      finished = true;
      sock.destroy();
      const r = parseRawResponse(got.slice(got.indexOf('HTTP/1.1 4') === -1 ? 0 : got.indexOf('HTTP/1.1 4')));
      resolve({ status: r.status, body: r.body, headers: r.headers, sent, error });
    };
    const piece = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (sent < total && !finished) {
        const n = Math.min(piece.length, total - sent);
        const data = opts.chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]) : piece.subarray(0, n);
        sent += n;
        if (!sock.write(data)) { sock.once('drain', pump); return; }
      }
      if (opts.chunked && !finished) sock.write('0\r\n\r\n');
    };
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (opts.waitContinue && got.startsWith('HTTP/1.1 100')) { got = got.slice(got.indexOf('\r\n\r\n') + 4); pump(); }
      if (parseRawResponse(got).complete) done();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    sock.on('close', () => done(parseRawResponse(got).complete ? undefined : 'closed before a whole response'));
    sock.once('connect', () => {
      sock.write(head);
      if (!opts.waitContinue) pump();
    });
    setTimeout(() => done('timeout'), 10_000);
  });
}

function expect413(r: { status: number; body: string; headers: Record<string, string>; error?: string }): void {
  expect(r.error).toBeUndefined();
  expect(r.status).toBe(413);
  expect(r.headers.connection).toBe('close');
  expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'request_too_large', type: 'invalid_request_error' } });
}

describe('413 with the rest of the upload still coming', () => {
  it(`Node fetch of a 4 MB body against a 64 KB limit reads the 413, ${ROUNDS} times in a row`, async () => {
    const body = bigBody(FOUR_MB);
    for (let i = 0; i < ROUNDS; i++) {
      const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(413);
      expect(r.headers.get('connection')).toBe('close');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    }
  });

  it(`a raw upload with a declared 4 MB Content-Length reads the 413 while still sending, ${ROUNDS} times`, async () => {
    for (let i = 0; i < ROUNDS; i++) expect413(await upload(postHead('/v1/chat/completions', FOUR_MB), FOUR_MB));
  });

  it(`a chunked upload (no Content-Length) that grows past the limit reads the 413, ${ROUNDS} times`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      expect413(await upload(['POST /v1/chat/completions HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Transfer-Encoding: chunked', '', ''].join('\r\n'), FOUR_MB, { chunked: true }));
    }
  });

  it('with Expect: 100-continue and a declared size over the limit, the 413 comes at once and no body byte is needed', async () => {
    const r = await rawExchange(gw.port, [postHead('/v1/chat/completions', FOUR_MB, ['Expect: 100-continue'])], { waitMs: 3000, untilResponse: true });
    expect(r.status).toBe(413);
    expect(r.text).not.toContain('100 Continue');
    expect(r.headers.connection).toBe('close');
  });

  it('with Expect: 100-continue and a size within the limit, the client gets 100 Continue and then its answer', async () => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const r = await rawExchange(gw.port, [postHead('/v1/chat/completions', Buffer.byteLength(body), ['Expect: 100-continue']), 200, body], { waitMs: 3000 });
    expect(r.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')).toBe(true);
    expect(parseRawResponse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).status).toBe(200);
  });

  it('the gateway keeps serving, and each 413 was recorded once', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(text.match(/policy_gateway_requests_total\{route="v1",endpoint="chat",status="413"\} (\d+)/)?.[1])).toBe(3 * ROUNDS + 1);
  });
});
