// A real Next.js app serving the connector: `next build` (Turbopack, with Next's own type check of the route) and
// `next start` of example/, driven over HTTP like a browser would — JSON, SSE, a disconnect reaching the upstream,
// and the gateway's 401/429 with their headers through Next's server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startConnectorFixture, type ConnectorFixture } from '../../testing/fixture.ts';

const EXAMPLE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../example');
const NEXT_BIN = path.join(path.dirname(createRequire(import.meta.url).resolve('next/package.json')), 'dist/bin/next');

/** The parsed JSON body of a response (any: the tests check its shape). */
const json = (res: Response): Promise<any> => res.json();

let f: ConnectorFixture;
let app: ChildProcess | undefined;
let appUrl: string;
let buildOutput = '';

/** Runs the Next CLI in example/ and resolves with its exit code and output. */
function next(args: string[], env: Record<string, string>): { proc: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const proc = spawn(process.execPath, [NEXT_BIN, ...args], { cwd: EXAMPLE, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return { proc, done: new Promise((r) => proc.on('exit', (code) => r({ code, out }))) };
}

beforeAll(async () => {
  f = await startConnectorFixture();
  const build = await next(['build'], {}).done;
  buildOutput = build.out;
  expect(build.code, build.out).toBe(0);
  const start = next(['start', '-H', '127.0.0.1', '-p', '0'], { POLICY_GATEWAY_KEY: f.key, POLICY_GATEWAY_BASE_URL: `${f.url}/policy` });
  app = start.proc;
  let out = '';
  appUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`next start did not become ready:\n${out}`)), 60_000);
    start.proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Local:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && /Ready/.test(out)) { clearTimeout(timer); resolve(m[1]!); }
    });
    void start.done.then((r) => { clearTimeout(timer); reject(new Error(`next start exited with ${r.code}:\n${r.out}`)); });
  });
}, 180_000);

afterAll(async () => {
  if (app && app.exitCode === null) {
    const exited = new Promise((r) => app!.on('exit', r));
    app.kill('SIGTERM');
    await exited;
  }
  await f?.stop();
});

const post = (body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) => fetch(`${appUrl}/api/chat`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal,
});

describe('the example app built and served by Next.js', () => {
  it('builds both routes as dynamic App Router routes after Next type-checked them', () => {
    expect(buildOutput).toMatch(/Finished TypeScript/);
    expect(buildOutput).toMatch(/ƒ \/api\/chat/);
    expect(buildOutput).toMatch(/ƒ \/api\/limited/);
  });

  it('answers JSON with the policy block for the session user', async () => {
    const res = await post({ model: 'fake-model', messages: [{ role: 'user', content: f.prompts.allow }] }, { 'x-session-user': 'user-12345' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-policy-decision')).toBe('allow');
    const body = await json(res);
    expect(body.choices[0].message.content).toBe('Hello from the fake upstream. Contact me at [EMAIL].');
    expect(body.policy).toMatchObject({ policy_id: 'policy-gateway', policy_user: 'user-12345', project_id: 'support-bot' });
  });

  it('streams SSE through Next, and a browser that disconnects mid-stream closes the upstream request', async () => {
    const complete = await post({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: f.prompts.allow }] });
    expect(complete.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await complete.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice(6)).policy).toMatchObject({ decision: 'allow', project_id: 'support-bot' });

    const abortedBefore = f.upstream.aborted;
    const ac = new AbortController();
    const res = await post({ model: 'slow-stream', stream: true, messages: [{ role: 'user', content: f.prompts.allow }] }, {}, ac.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    ac.abort();
    await expect.poll(() => f.upstream.aborted, { timeout: 10_000 }).toBe(abortedBefore + 1);
  });

  it("passes the gateway's 429 through Next's server with Retry-After and the rate-limit headers", async () => {
    const user = { 'x-session-user': `next-app-429-${Date.now()}` };
    const body = { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] };
    const limited = (b: unknown) => fetch(`${appUrl}/api/limited`, { method: 'POST', headers: { 'content-type': 'application/json', ...user }, body: JSON.stringify(b) });
    expect((await limited(body)).status).toBe(200);
    expect((await limited(body)).status).toBe(200);
    const res = await limited(body);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await json(res)).error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
  });

  it('answers a body that is not JSON with its own OpenAI-shaped 400', async () => {
    const res = await fetch(`${appUrl}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_json');
  });
});
