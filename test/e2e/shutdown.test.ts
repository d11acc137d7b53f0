// Grace expiry is not silent (issue 13 item 9): when SIGTERM's --grace runs out, a stream still running ends with an
// error event, a request still waiting for its answer gets a 503, each is audited with the cut, the log says how many
// requests were cut, and the exit code is 3 (0 when everything finished in time). Real CLI, real sockets.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const RULES = { 'p.policy': 'policy "p" {\n  default\n}\n' };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

/** A raw request through node:http that collects the whole answer, however it ends. */
function request(gw: GatewayProcess, body: object, id: string, onFirstByte?: () => void): Promise<{ status: number; text: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { if (!text) onFirstByte?.(); text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', (e) => resolve({ status: res.statusCode!, text, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, text: '', error: e.message }));
    req.end(JSON.stringify(body));
  });
}

describe('graceful stop when the grace period runs out', () => {
  let up: FakeUpstream;
  it('ends the open stream with an error event, answers the waiting request 503, audits both, logs the cut and exits 3', async () => {
    up = await startFakeUpstream({ chunkDelayMs: 400, slowMs: 20_000 });
    cleanup.push(() => up.close());
    const gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--grace', '800ms']);
    cleanup.push(() => gw.stop());
    let streaming!: () => void;
    const started = new Promise<void>((r) => { streaming = r; });
    const stream = request(gw, { model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'hi' }] }, 'cut-stream', () => streaming());
    const waiting = request(gw, { model: 'slow', messages: [{ role: 'user', content: 'hi' }] }, 'cut-json');
    await started;
    await expect.poll(() => up.received.length, { timeout: 5000 }).toBe(2);
    const t = performance.now();
    gw.proc.kill('SIGTERM');
    const [s, j] = await Promise.all([stream, waiting]);
    expect(performance.now() - t).toBeLessThan(5000);

    const events = s.text.trimEnd().split('\n\n');
    expect(s.status).toBe(200);
    expect(events.length).toBeGreaterThan(1);
    expect(events.at(-1)).toMatch(/^data: \{"error":\{"message":"the gateway shut down before this request finished: its grace period ran out","type":"server_error","param":null,"code":"shutting_down"\}\}$/);
    expect(s.text).not.toContain('[DONE]');

    expect(j.status).toBe(503);
    expect(JSON.parse(j.text)).toMatchObject({ error: { code: 'shutting_down', type: 'server_error' } });

    expect(await gw.exited).toBe(3);
    const log = gw.stdout();
    expect(log).toMatch(/"cut":2[,}].*"msg":"grace period over: requests were cut"/);
    const audits = log.split('\n').filter((l) => / request_id=cut-/.test(l)).map(parseLogfmt);
    expect(audits.map((a) => [a.request_id, a.code, a.status]).sort()).toEqual([
      ['cut-json', 'GW_ERR_SHUTDOWN_CUT', '503'],
      ['cut-stream', 'GW_ERR_SHUTDOWN_CUT', '200'],
    ]);
    // the upstream calls were aborted, not left running
    await expect.poll(() => up.aborted, { timeout: 3000 }).toBe(2);
  });

  it('exits 0 and logs no cut when everything finishes within the grace period', async () => {
    up = await startFakeUpstream({ chunkDelayMs: 30 });
    cleanup.push(() => up.close());
    const gw = await startGateway(['--rules', rulesDir(RULES), '--upstream', up.baseUrl, '--grace', '10s']);
    cleanup.push(() => gw.stop());
    let streaming!: () => void;
    const started = new Promise<void>((r) => { streaming = r; });
    const stream = request(gw, { model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'hi' }] }, 'ok-stream', () => streaming());
    await started;
    gw.proc.kill('SIGTERM');
    expect((await stream).text).toContain('[DONE]');
    expect(await gw.exited).toBe(0);
    expect(gw.stdout()).not.toContain('requests were cut');
  });
});
