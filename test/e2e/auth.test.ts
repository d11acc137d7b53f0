// End-to-end auth (issue 6): policy keys made with the real `policy-gateway keys` CLI, every 401/403 over HTTP in
// OpenAI's shape, a valid key through the openai SDK, keys added/revoked/expiring while the gateway runs (no
// restart), the label (never the key) in the audit record, and no key in stdout, stderr or /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

/** Two policies sharing one keys file, kept outside the rules directory (so no policy reload picks it up). */
const rulesFor = (keys: string) => ({
  'auth.policy': `policy "locked" {
  default
  auth { keys ${JSON.stringify(keys)} }
}
policy "other" {
  auth { keys ${JSON.stringify(keys)} }
}
`,
});

let up: FakeUpstream;
let gw: GatewayProcess;
let keysFile: string;
/** Every key created in this file (none may ever show up in the gateway's output or metrics). */
const keys: string[] = [];
let teamKey: string;
let projectKey: string;
let seq = 0;

async function createKey(args: string[]): Promise<string> {
  const r = await runCli(['keys', 'create', ...args, '--file', keysFile]);
  expect(r.code, r.stderr).toBe(0);
  const key = r.stdout.trim();
  expect(key).toMatch(/^pgk_[A-Za-z0-9]{12}_[A-Za-z0-9]{32,128}$/);
  keys.push(key);
  return key;
}

beforeAll(async () => {
  up = await startFakeUpstream();
  keysFile = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-keys-')), 'team.keys');
  teamKey = await createKey(['--label', 'team-a', '--policy', 'locked']);
  projectKey = await createKey(['--label', 'alpha-ci', '--policy', 'locked', '--project', 'alpha']);
  // The keys file lives outside the rules directory, as a mounted Secret would: the operator allows its directory.
  gw = await startGateway(['--rules', rulesDir(rulesFor(keysFile)), '--upstream', up.baseUrl, '--allow-path', path.dirname(keysFile)]);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const msgs = [{ role: 'user' as const, content: 'hello' }];

/** A raw POST to /v1/chat/completions; `auth` undefined = no Authorization header. */
async function post(auth: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; id: string }> {
  const id = `auth-${++seq}`;
  const h: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id, ...headers };
  if (auth !== undefined) h.authorization = auth;
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: h, body: JSON.stringify({ model: 'fake-model', messages: msgs }) });
  return { status: r.status, headers: r.headers, body: await r.json(), id };
}

/** The audit record (logfmt on stdout) of request `id`, once written. */
async function auditOf(id: string): Promise<Record<string, string | null>> {
  let line: string | undefined;
  await expect.poll(() => (line = gw.stdout().split('\n').find((l) => /^\d{4}-\d\d-\d\dT/.test(l) && l.includes(` request_id=${id} `))), { timeout: 5000 }).toBeDefined();
  return parseLogfmt(line!);
}

async function authFailures(): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^policy_gateway_auth_failures_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

const randomKey = () => `pgk_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)}_${randomBytes(30).toString('hex').slice(0, 40)}`;
const tamper = (k: string) => k.slice(0, -1) + (k.endsWith('a') ? 'b' : 'a');

describe('every refusal, OpenAI-shaped', () => {
  const cases: { note: string; auth: () => string | undefined; headers?: Record<string, string>; status: 401 | 403; code: string; type: string; reason: string; message: RegExp }[] = [
    { note: 'no Authorization header → 401 missing', auth: () => undefined, status: 401, code: 'missing_api_key', type: 'invalid_request_error', reason: 'missing', message: /^missing API key/ },
    { note: 'an empty Authorization header → 401 missing', auth: () => '', status: 401, code: 'missing_api_key', type: 'invalid_request_error', reason: 'missing', message: /^missing API key/ },
    { note: 'Basic scheme → 401 malformed', auth: () => 'Basic dXNlcjpwYXNz', status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'malformed', message: /^malformed Authorization header/ },
    { note: '"Bearer" without a token → 401 malformed', auth: () => 'Bearer', status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'malformed', message: /^malformed Authorization header/ },
    { note: 'two tokens → 401 malformed', auth: () => `Bearer ${teamKey} extra`, status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'malformed', message: /^malformed Authorization header/ },
    { note: 'not a policy key (an upstream-style sk- key) → 401 invalid', auth: () => 'Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789', status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'invalid', message: /^invalid policy key/ },
    { note: 'a well-formed key that is not in the file → 401 invalid', auth: () => `Bearer ${randomKey()}`, status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'invalid', message: /^invalid policy key/ },
    { note: 'a known id with a wrong secret → 401 invalid', auth: () => `Bearer ${tamper(teamKey)}`, status: 401, code: 'invalid_api_key', type: 'invalid_request_error', reason: 'invalid', message: /^invalid policy key/ },
    { note: 'a key for another policy → 403', auth: () => `Bearer ${teamKey}`, headers: { 'x-policy-id': 'other' }, status: 403, code: 'forbidden', type: 'permission_error', reason: 'forbidden', message: /^this policy key may not use policy "other"/ },
    { note: 'a project key naming another project → 403', auth: () => `Bearer ${projectKey}`, headers: { 'x-policy-project': 'beta' }, status: 403, code: 'forbidden', type: 'permission_error', reason: 'forbidden', message: /^this policy key may not use project "beta"/ },
    { note: 'a project key naming no project → 403', auth: () => `Bearer ${projectKey}`, status: 403, code: 'forbidden', type: 'permission_error', reason: 'forbidden', message: /without a project/ },
  ];

  it.each(cases)('$note', async (c) => {
    const before = await authFailures();
    const r = await post(c.auth(), c.headers);
    expect(r.status).toBe(c.status);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(r.body.error).toMatchObject({ code: c.code, type: c.type });
    expect(r.body.error.message).toMatch(c.message);
    expect(up.received.some((u) => u.headers['x-request-id'] === r.id)).toBe(false);
    const after = await authFailures();
    expect(after[c.reason]).toBe((before[c.reason] ?? 0) + 1);
    const rec = await auditOf(r.id);
    expect(rec).toMatchObject({ decision: 'reject', reason_code: c.status === 401 ? 'AUTH_FAILED' : 'FORBIDDEN', status: String(c.status) });
  });

  it('the openai SDK surfaces them as AuthenticationError / PermissionDeniedError', async () => {
    const sdk = (apiKey: string, headers: Record<string, string> = {}) =>
      new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers }).chat.completions.create({ model: 'fake-model', messages: msgs });
    await expect(sdk(randomKey())).rejects.toMatchObject({ constructor: OpenAI.AuthenticationError, status: 401, code: 'invalid_api_key' });
    await expect(sdk(teamKey, { 'x-policy-id': 'other' })).rejects.toMatchObject({ constructor: OpenAI.PermissionDeniedError, status: 403, code: 'forbidden' });
  });
});

describe('valid keys', () => {
  it('work with the openai SDK; the audit record carries the key label, the upstream never sees the policy key', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: teamKey, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'fake-model', messages: msgs }, { headers: { 'x-request-id': 'auth-ok-1' } });
    expect(r.choices[0]!.message.content).toBe(FAKE_ANSWER);
    const sent = up.received.find((u) => u.headers['x-request-id'] === 'auth-ok-1')!;
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent)).not.toContain(teamKey);
    expect(await auditOf('auth-ok-1')).toMatchObject({ key_label: 'team-a', status: '200', decision: 'allow' });

    const p = await post(`bearer ${projectKey}`, { 'x-policy-project': 'alpha' });
    expect(p.status).toBe(200);
    expect(await auditOf(p.id)).toMatchObject({ key_label: 'alpha-ci', policy_project_id: 'alpha' });
  });

  it('a key created while the gateway runs works within ~2 s; revoked, it is refused again — no restart', async () => {
    const key = await createKey(['--label', 'late-joiner', '--policy', 'locked,other']);
    const t0 = Date.now();
    await expect.poll(async () => (await post(`Bearer ${key}`, { 'x-policy-id': 'other' })).status, { timeout: 2500, interval: 100 }).toBe(200);
    const addedMs = Date.now() - t0;
    expect(addedMs).toBeLessThan(2500);
    const ok = await post(`Bearer ${key}`, { 'x-policy-id': 'other' });
    expect(await auditOf(ok.id)).toMatchObject({ key_label: 'late-joiner', policy_id: 'other' });
    // picked up without a restart: by the auth plugin's own check of the file, or by the policy store, which also
    // watches the directories of the files policies name
    expect(gw.stdout()).toMatch(/"msg":"(keys file reloaded|policies reloaded)"/);

    const rev = await runCli(['keys', 'revoke', '--id', key, '--file', keysFile]);
    expect(rev.code, rev.stderr).toBe(0);
    expect(readFileSync(keysFile, 'utf8')).toMatch(/# revoked .*label=late-joiner/);
    await expect.poll(async () => (await post(`Bearer ${key}`)).body.error?.code, { timeout: 2500, interval: 100 }).toBe('invalid_api_key');
    // the other keys were not disturbed by the reloads
    expect((await post(`Bearer ${teamKey}`)).status).toBe(200);
  });

  it('a key with an expiry works until then, and is refused as expired afterwards', async () => {
    // seconds precision: at least 4 s from now, so the key is seen working before it expires
    const expires = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const key = await createKey(['--label', 'short-lived', '--policy', 'locked', '--expires', expires]);
    await expect.poll(async () => (await post(`Bearer ${key}`)).status, { timeout: 2500, interval: 100 }).toBe(200);
    expect(Date.now()).toBeLessThan(Date.parse(expires));
    let last: Awaited<ReturnType<typeof post>> | undefined;
    await expect.poll(async () => (last = await post(`Bearer ${key}`)).status, { timeout: 6000, interval: 100 }).toBe(401);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expires));
    expect(last!.body.error).toMatchObject({ code: 'expired_api_key', type: 'invalid_request_error', message: 'policy key has expired' });
  });
});

describe('secrecy', () => {
  it('no key, secret or key digest ever appears in stdout, stderr or /metrics', async () => {
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/policy_gateway_auth_failures_total\{reason="invalid"\} \d+/);
    const digests = [...readFileSync(keysFile, 'utf8').matchAll(/sha256:([0-9a-f]{64})/g)].map((m) => m[1]!);
    expect(digests.length).toBeGreaterThanOrEqual(3);
    const haystacks = { stdout: gw.stdout(), stderr: gw.stderr(), metrics };
    expect(haystacks.stdout).toContain('key_label=team-a');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const k of keys) {
        expect(text, `${where} holds a key`).not.toContain(k);
        expect(text, `${where} holds a key secret`).not.toContain(k.slice(17));
      }
      for (const d of digests) expect(text, `${where} holds a key digest`).not.toContain(d);
    }
  });
});
