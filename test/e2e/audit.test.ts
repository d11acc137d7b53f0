// End-to-end audit completeness (issue 7): the real CLI writes exactly one audit record per request of every kind —
// allowed, refused, rate-limited, unauthenticated, bad JSON, unknown policy, upstream failure, client abort — through a
// logrotate-style rename + SIGHUP and a SIGTERM in the middle of the load; prompts and outputs never reach any log
// unless a policy opts in, and then only redacted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const PROMPT_SENTINEL = 'SENTINEL-PROMPT-8c1f2a';
const OUTPUT_SENTINEL = 'SENTINEL-OUTPUT-4b2d9e';
const AUDIT_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z policy_id=/;

/** Audit records (logfmt) in a file, or in a process's stdout mixed with JSON app logs. */
function auditRecords(text: string): Record<string, string | null>[] {
  return text.split('\n').filter((l) => AUDIT_LINE.test(l)).map(parseLogfmt);
}
const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Sent {
  readonly id: string;
  readonly kind: string;
  /** HTTP status the client received; undefined when no response arrived (aborted, or refused at shutdown). */
  status?: number;
}

describe('audit completeness through log rotation and a graceful stop', () => {
  let up: FakeUpstream;
  let gw: GatewayProcess;
  let dir: string;
  let auditFile: string;
  let key: string;
  const sent: Sent[] = [];
  let seq = 0;

  const messages = [{ role: 'user', content: `Summarize our refund policy. ${PROMPT_SENTINEL}` }];

  /** Sends one request of `kind` with its own X-Request-Id; records the status the client saw. */
  async function send(kind: string, opts: { abortAfterMs?: number } = {}): Promise<Sent> {
    const s: Sent = { id: `t-${kind}-${++seq}`, kind };
    sent.push(s);
    let route = '/v1/chat/completions';
    let body: string;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': s.id };
    const chat = (extra: Record<string, unknown>) => JSON.stringify({ model: 'fake-model', messages, ...extra });
    switch (kind) {
      case 'allowed': body = chat({ policy_user: `user-${seq % 5}`, policy_project_id: 'support-bot' }); break;
      case 'streamed': body = chat({ stream: true }); break;
      case 'keyed': body = chat({ policy_id: 'locked' }); route = '/policy/chat/completions'; headers.authorization = `Bearer ${key}`; break;
      case 'refused': body = chat({ policy_id: 'refuser' }); route = '/policy/chat/completions'; break;
      case 'limited': body = chat({ policy_id: 'limited', policy_user: 'heavy-user' }); route = '/policy/chat/completions'; break;
      case 'unauthenticated': body = chat({ policy_id: 'locked' }); route = '/policy/chat/completions'; break;
      case 'bad-json': body = `{"model": "fake-model", "messages": [{"role": "user", "content": "${PROMPT_SENTINEL}`; break;
      case 'unknown-policy': body = chat({ policy_id: 'no-such-policy' }); route = '/policy/chat/completions'; break;
      case 'upstream-failure': body = JSON.stringify({ model: 'fail-500', messages }); break;
      case 'slow': case 'aborted': body = JSON.stringify({ model: 'slow', messages }); break;
      default: throw new Error(kind);
    }
    const ac = new AbortController();
    const timer = opts.abortAfterMs === undefined ? undefined : setTimeout(() => ac.abort(), opts.abortAfterMs);
    try {
      const r = await fetch(`${gw.url}${route}`, { method: 'POST', headers, body, signal: ac.signal });
      await r.text();
      s.status = r.status;
    } catch {
      // aborted by us, or the gateway had stopped accepting connections: no response
    } finally {
      clearTimeout(timer);
    }
    return s;
  }

  const ROUNDS = 5;
  const MIXED = ['allowed', 'streamed', 'keyed', 'refused', 'limited', 'unauthenticated', 'bad-json', 'unknown-policy', 'upstream-failure'];
  async function round(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await Promise.all(MIXED.map((k) => send(k)));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pgw-audit-e2e-'));
    auditFile = path.join(dir, 'log', 'audit.log');
    up = await startFakeUpstream({ answer: `Our refund policy: 30 days. ${OUTPUT_SENTINEL}`, slowMs: 1200 });
    const rules = rulesDir({
      'main.policy': `policy "open" {
  default
  audit { tag "team:support", "tier:gold" }
}
policy "refuser" {
  respond { otherwise refuse }
}
policy "limited" {
  # a day-long window: quota windows are fixed and UTC-aligned, and a per-minute one let 4 through when this test
  # ran across a minute boundary
  quota { user 2 requests per day }
}
policy "locked" {
  auth { keys "keys/support.keys" }
}
`,
    });
    const made = await runCli(['keys', 'create', '--label', 'support-team', '--policy', 'locked', '--file', path.join(rules, 'keys/support.keys')]);
    expect(made.code).toBe(0);
    key = made.stdout.trim();
    gw = await startGateway(['--rules', rules, '--upstream', up.baseUrl, '--audit', auditFile]);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('one record per answered request, across a rename + SIGHUP and a SIGTERM mid-load, and no prompt or output in any log', async () => {
    // phase 1: every kind of request, written to audit.log
    await round(ROUNDS);
    const phase1 = sent.slice();
    await waitFor(() => auditRecords(read(auditFile)).length === phase1.length, 'phase 1 records');

    // logrotate: rename, then SIGHUP; the next records go to a new audit.log
    renameSync(auditFile, `${auditFile}.1`);
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.stdout().includes('SIGHUP: reopening files'), 'the SIGHUP log line');
    await round(ROUNDS);
    const phase2 = sent.slice(phase1.length);
    await send('aborted', { abortAfterMs: 150 });
    await waitFor(() => auditRecords(read(auditFile)).length === phase2.length + 1, 'phase 2 records');

    // phase 3: slow requests in flight at SIGTERM finish during the drain; requests after it get 503 or no connection
    const inflight = [send('slow'), send('slow'), send('slow'), send('allowed')];
    await waitFor(() => up.received.filter((r) => String(r.headers['x-request-id']).startsWith('t-slow-')).length === 3, 'slow requests upstream');
    const stopped = gw.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const late = [send('allowed'), send('refused'), send('bad-json')];
    await Promise.all([...inflight, ...late]);
    expect(await stopped).toBe(0);

    const rotated = auditRecords(read(`${auditFile}.1`));
    const current = auditRecords(read(auditFile));
    const all = [...rotated, ...current];

    // rotation: phase 1 is entirely in the renamed file, everything after the SIGHUP in the new one
    expect(new Set(rotated.map((r) => r.request_id))).toEqual(new Set(phase1.map((s) => s.id)));
    for (const s of phase2) expect(current.some((r) => r.request_id === s.id)).toBe(true);

    // completeness: exactly one record per request that got a response, and for the aborted one; none for strangers
    const count = new Map<string, number>();
    for (const r of all) count.set(r.request_id!, (count.get(r.request_id!) ?? 0) + 1);
    const ids = new Set(sent.map((s) => s.id));
    expect([...count.keys()].filter((id) => !ids.has(id))).toEqual([]);
    expect([...count.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const answered = sent.filter((s) => s.status !== undefined);
    // every request of the two phases and the four in flight at SIGTERM was answered
    expect(answered.length).toBeGreaterThanOrEqual(2 * ROUNDS * MIXED.length + 4);
    for (const s of answered) {
      const rec = all.find((r) => r.request_id === s.id);
      expect(rec, `record of ${s.id}`).toBeDefined();
      expect(rec!.status, `status of ${s.id}`).toBe(String(s.status));
    }
    const slowOnes = sent.filter((s) => s.kind === 'slow');
    expect(slowOnes.map((s) => s.status)).toEqual([200, 200, 200]);
    const aborted = sent.find((s) => s.kind === 'aborted')!;
    expect(aborted.status).toBeUndefined();
    expect(all.find((r) => r.request_id === aborted.id)).toMatchObject({ aborted: 'true', status: '0' });

    // what each kind of request reads like
    const recOf = (kind: string) => all.filter((r) => sent.find((s) => s.id === r.request_id)?.kind === kind);
    for (const r of recOf('allowed').filter((x) => x.status === '200')) {
      expect(r).toMatchObject({ policy_id: 'open', decision: 'allow', reason_code: 'ALLOW', policy_project_id: 'support-bot', tags: 'team:support,tier:gold' });
      expect(Number(r.prompt_tokens)).toBeGreaterThan(0);
      expect(Number(r.completion_tokens)).toBeGreaterThan(0);
      expect(Number(r.upstream_ms)).toBeGreaterThan(0);
      expect(r.upstream_status).toBe('200');
    }
    expect(recOf('allowed').length).toBeGreaterThan(0);
    expect(recOf('streamed').every((r) => r.stream === 'true' && r.status === '200')).toBe(true);
    expect(recOf('keyed').every((r) => r.key_label === 'support-team' && r.decision === 'allow')).toBe(true);
    expect(recOf('refused').filter((r) => r.status === '200').every((r) => r.decision === 'refuse' && r.reason_code === 'REFUSE' && r.upstream_status === null)).toBe(true);
    const limited = recOf('limited');
    expect(limited.filter((r) => r.status === '200')).toHaveLength(2);
    expect(limited.filter((r) => r.status === '429').every((r) => r.decision === 'reject' && r.reason_code === 'RATE_LIMITED' && r.code === 'GW_ERR_RATE_LIMITED')).toBe(true);
    expect(limited.filter((r) => r.status === '429').length).toBeGreaterThanOrEqual(2 * ROUNDS - 2);
    expect(recOf('unauthenticated').every((r) => r.decision === 'reject' && r.reason_code === 'AUTH_FAILED' && r.status === '401')).toBe(true);
    expect(recOf('bad-json').filter((r) => r.status === '400').every((r) => r.policy_id === null && r.reason_code === 'INVALID_REQUEST' && r.code === 'GW_ERR_BAD_JSON')).toBe(true);
    expect(recOf('unknown-policy').every((r) => r.policy_id === null && r.reason_code === 'NOT_FOUND' && r.code === 'GW_ERR_POLICY_NOT_FOUND')).toBe(true);
    expect(recOf('upstream-failure').every((r) => r.decision === 'allow' && r.status === '502' && r.code === 'GW_ERR_UPSTREAM_BAD_RESPONSE')).toBe(true);
    for (const r of all) {
      expect(r).not.toHaveProperty('prompt');
      expect(r).not.toHaveProperty('output');
    }

    // no prompt or output text anywhere: app logs (stdout), stderr, both audit files
    for (const [name, text] of [['stdout', gw.stdout()], ['stderr', gw.stderr()], ['audit.log.1', read(`${auditFile}.1`)], ['audit.log', read(auditFile)]] as const) {
      expect(text.includes(PROMPT_SENTINEL), `${name} holds the prompt sentinel`).toBe(false);
      expect(text.includes(OUTPUT_SENTINEL), `${name} holds the output sentinel`).toBe(false);
    }
    // the sentinels did travel: the upstream saw the prompt (so the test would catch a leak)
    expect(up.received.some((r) => JSON.stringify(r.body).includes(PROMPT_SENTINEL))).toBe(true);
  });
});

describe('prompts on: text appears in the record only after redaction', () => {
  const PROMPT_EMAIL = 'sentinel.asker@example.com';
  const OUTPUT_EMAIL = 'sentinel.answer@example.com';
  let up: FakeUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    up = await startFakeUpstream({ answer: `Write to ${OUTPUT_EMAIL} for refunds.` });
    gw = await startGateway(['--rules', rulesDir({
      'main.policy': `policy "verbose" {
  default
  redact request { email }
  redact response { email }
  audit {
    tag "team:support"
    prompts on
  }
}
policy "quiet" {
  redact response { email }
}
`,
    }), '--upstream', up.baseUrl, '--audit', 'stdout', '--audit-format', 'json']);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const post = (body: Record<string, unknown>, id: string) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: `My address is ${PROMPT_EMAIL}` }], ...body }),
  }).then((r) => r.text());

  it('records the redacted prompt and output (JSON and streamed), never the raw text', async () => {
    await post({}, 'p-json');
    await post({ stream: true }, 'p-stream');
    await post({ policy_id: 'quiet' }, 'p-quiet');
    await gw.stop('SIGTERM');
    const records = gw.stdout().split('\n').filter((l) => l.startsWith('{"timestamp"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const byId = new Map(records.map((r) => [r.request_id, r]));
    for (const id of ['p-json', 'p-stream']) {
      const r = byId.get(id)!;
      expect(r, id).toBeDefined();
      expect(r.tags).toEqual(['team:support']);
      expect(typeof r.prompt).toBe('string');
      expect(r.prompt).toMatch(/^user: My address is \S+$/);
      expect(r.output).toMatch(/^Write to \S+ for refunds\.$/);
      expect(r.redactions).toMatchObject({ email: expect.any(Number) });
    }
    expect(byId.get('p-quiet')).not.toHaveProperty('prompt');
    for (const text of [gw.stdout(), gw.stderr()]) {
      expect(text).not.toContain(PROMPT_EMAIL);
      expect(text).not.toContain(OUTPUT_EMAIL);
    }
    expect(up.received.some((r) => JSON.stringify(r.body).includes('My address is'))).toBe(true);
  });
});

describe('the rule-set revision', () => {
  let up: FakeUpstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway(['--rules', rulesDir({ 'a.policy': 'policy "p" {\n  default\n}\n' }), '--upstream', up.baseUrl]);
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('every record names the revision the request was served with (as in the listening log line and /readyz)', async () => {
    const revision = (JSON.parse(gw.stdout().split('\n').find((l) => l.includes('"msg":"listening"'))!) as { revision: string }).revision;
    expect(revision).toMatch(/^[0-9a-f]{12}$/);
    const headers = { 'content-type': 'application/json' };
    await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...headers, 'x-request-id': 'rev-1' }, body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.text());
    await gw.stop('SIGTERM');
    const rec = auditRecords(gw.stdout()).find((r) => r.request_id === 'rev-1');
    expect(rec).toMatchObject({ policy_id: 'p', revision });
  });
});

describe('audit records and application logs sharing stdout', () => {
  it('under a burst of 2,000 concurrent requests every stdout line is whole: a JSON log line or a parseable audit record', async () => {
    const up = await startFakeUpstream();
    // --audit stdout is the default; info level logs one JSON line per request next to its audit line
    const gw = await startGateway(['--rules', rulesDir({ 'a.policy': 'policy "p" {\n  default\n  audit { tag "team:support" }\n}\n' }), '--upstream', up.baseUrl, '--log-level', 'info']);
    try {
      const body = (i: number) => JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }], policy_user: `user-${i}-${'x'.repeat(i % 200)}` });
      await Promise.all(Array.from({ length: 2000 }, (_, i) => fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) }).then((r) => r.text())));
      await gw.stop('SIGTERM');
      const lines = gw.stdout().split('\n').filter((l) => l !== '');
      const torn = lines.filter((l) => {
        if (l.startsWith('{')) { try { JSON.parse(l); return false; } catch { return true; } }
        if (!AUDIT_LINE.test(l)) return true;
        try { parseLogfmt(l); return false; } catch { return true; }
      });
      expect(torn).toEqual([]);
      expect(auditRecords(gw.stdout())).toHaveLength(2000);
      expect(lines.filter((l) => l.includes('"msg":"request completed"'))).toHaveLength(2000);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
