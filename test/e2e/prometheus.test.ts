// A real Prometheus (Debian's `prometheus` package) against the real gateway (issue 7): `promtool check metrics`
// accepts /metrics, and after a short mixed load every PromQL expression of dashboards/policy-gateway.json returns
// data through Prometheus' HTTP API. Rules only use blocks of registered plugins; panels left without data say so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { ROOT, rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';

const DASHBOARD = path.join(ROOT, 'dashboards/policy-gateway.json');

/** Grafana's built-in and template variables, as the test substitutes them (windows cover the whole run). */
const VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m', __interval: '5s', __range: '5m', __range_s: '300', __range_ms: '300000', policy: '.*', datasource: 'prometheus',
};

/** Replaces `$name`, `${name}`, `${name:fmt}` and `[[name]]` with their values; unknown variables are an error. */
function substituteVariables(expr: string, values: Readonly<Record<string, string>> = VARIABLES): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (_m, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const v = values[name];
    if (v === undefined) throw new Error(`unknown dashboard variable "${name}" in ${expr}`);
    return v;
  });
}

interface Expression { readonly panel: string; readonly refId: string; readonly expr: string }

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function dashboardExpressions(dash: unknown): { targets: Expression[]; variables: { name: string; query: string }[] } {
  const targets: Expression[] = [];
  const walk = (panels: unknown[]) => {
    for (const p of panels as { title?: string; targets?: { expr?: string; refId?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') targets.push({ panel: p.title ?? '?', refId: t.refId ?? '?', expr: t.expr });
      if (Array.isArray(p.panels)) walk(p.panels);
    }
  };
  const d = dash as { panels?: unknown[]; templating?: { list?: { name: string; type: string; query?: unknown; definition?: string }[] } };
  walk(d.panels ?? []);
  const variables = (d.templating?.list ?? []).filter((v) => v.type === 'query').map((v) => ({
    name: v.name, query: typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query ?? v.definition ?? '',
  }));
  return { targets, variables };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const has = (block: string) => ALL_PLUGINS.some((p) => p.blocks.includes(block));

/**
 * Policies exercising every dashboard series the registered plugins can produce. `upstream`: the fake upstream's base
 * URL, which also stands in for the escalation webhook and a moderation endpoint (a slow one: its model is `slow`).
 */
function rules(upstream: string): Record<string, string> {
  const files: Record<string, string> = {
    'open.policy': `policy "open" {
  default
  audit { tag "team:support" }
}
`,
  };
  if (has('respond')) {
    files['refuse.policy'] = `policy "refuser" {
  respond { otherwise refuse }
}
`;
    if (has('rollout')) {
      files['shadow.policy'] = `policy "shadowed" {
  rollout { shadow target "*" }
  respond { otherwise refuse }
}
`;
    }
  }
  if (has('quota')) files['quota.policy'] = 'policy "limited" {\n  quota { user 1 requests per day }\n}\n';
  if (has('auth')) files['auth.policy'] = 'policy "locked" {\n  auth { keys "keys/k.keys" }\n}\n';
  if (has('redact')) files['redact.policy'] = 'policy "redacting" {\n  redact response { email }\n}\n';
  if (has('moderation') && has('respond')) {
    files['moderation.policy'] = `policy "moderated" {
  moderation { provider builtin; flag "violence/*" }
  respond { when "violence/*" refuse; otherwise allow }
}
`;
  }
  if (has('respond')) {
    files['escalate.policy'] = `policy "escalating" {
  respond {
    otherwise escalate
    escalation { url "${upstream}/hooks/escalation"; retries 0; timeout 2s }
  }
}
`;
  }
  if (has('moderation')) {
    // A moderation endpoint nobody listens on (a fail_open error each request), and a slow one: its call outlives the
    // plugin budget (--plugin-timeout below), a plugin error.
    files['moderation-down.policy'] = `policy "moderation-down" {
  moderation { provider openai { url "http://127.0.0.1:9/v1/moderations"; timeout 2s }; on_error open }
}
`;
    files['moderation-slow.policy'] = `policy "moderation-slow" {
  moderation { provider openai { url "${upstream}/moderations"; model "slow"; timeout 10s }; on_error open }
}
`;
  }
  if (has('topics') && has('respond')) {
    files['topics.policy'] = `policy "topical" {
  topics { deny "competitor pricing" }
  respond { when denylist refuse; otherwise allow }
}
`;
  }
  return files;
}

describe('dashboard expressions', () => {
  it('are extracted from panels and rows, and every variable they use is known', () => {
    const { targets, variables } = dashboardExpressions(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
    expect(targets.length).toBeGreaterThan(20);
    for (const t of targets) expect(() => substituteVariables(t.expr)).not.toThrow();
    expect(variables).toEqual([{ name: 'policy', query: 'label_values(policy_gateway_decisions_total, policy_id)' }]);
    expect(substituteVariables('rate(x{a=~"$policy"}[$__rate_interval]) ${policy} [[policy]]')).toBe('rate(x{a=~".*"}[1m]) .* .*');
    expect(() => substituteVariables('$nope')).toThrow(/unknown dashboard variable "nope"/);
  });

  it('the dashboard has a prometheus datasource variable and an input for it, so it imports cleanly', () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { __inputs: { name: string; pluginId: string }[]; templating: { list: { name: string; type: string; query: string }[] }; schemaVersion: number; panels: { datasource?: { uid?: string }; targets?: { datasource?: { uid?: string } }[] }[] };
    expect(d.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus', type: 'datasource' })]);
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
    for (const p of d.panels.filter((x) => x.targets)) {
      expect(p.datasource?.uid).toBe('${datasource}');
      for (const t of p.targets!) expect(t.datasource?.uid).toBe('${datasource}');
    }
  });
});

describe('a real Prometheus scraping the gateway', () => {
  let up: FakeUpstream;
  let gw: GatewayProcess;
  let gwRedisDown: GatewayProcess | undefined;
  let prom: ChildProcess | undefined;
  let promUrl: string;
  let dir: string;
  let rulesPath: string;
  let key = '';
  let promLog = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pgw-prom-'));
    up = await startFakeUpstream();
    rulesPath = rulesDir(rules(up.baseUrl));
    if (has('auth')) {
      const made = await runCli(['keys', 'create', '--label', 'prom-test', '--policy', 'locked', '--file', path.join(rulesPath, 'keys/k.keys')]);
      expect(made.code).toBe(0);
      key = made.stdout.trim();
    }
    gw = await startGateway(['--rules', rulesPath, '--upstream', up.baseUrl, '--audit', path.join(dir, 'audit.log'), '--plugin-timeout', '300ms']);
    // A second gateway whose quota store (Redis) is down: its quota store errors reach the dashboard too.
    if (has('quota')) {
      gwRedisDown = await startGateway(['--rules', rulesDir({ 'q.policy': 'policy "limited-redis" {\n  default\n  quota { user 100 requests per minute; on_error open }\n}\n' }),
        '--upstream', up.baseUrl, '--audit', 'off', '--redis-url', 'redis://127.0.0.1:1']);
    }
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = path.join(dir, 'prometheus.yml');
    writeFileSync(config, `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: policy-gateway
    static_configs:
      - targets: ['127.0.0.1:${gw.port}'${gwRedisDown ? `, '127.0.0.1:${gwRedisDown.port}'` : ''}]
`);
    prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stdout!.on('data', (d: Buffer) => { promLog += d.toString(); });
    prom.stderr!.on('data', (d: Buffer) => { promLog += d.toString(); });
    await until(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.status === 200, 'prometheus ready');
    await until(async () => (await query('up{job="policy-gateway"} == 1')).length === (gwRedisDown ? 2 : 1), 'first successful scrape');
  });
  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await gw?.stop();
    await gwRedisDown?.stop();
    await up?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function until(cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${promLog}`);
      await sleep(100);
    }
  }

  async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const j = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (j.status !== 'success') throw new Error(`query failed: ${expr}: ${j.error}`);
    return j.data!.resultType === 'scalar' ? [{ metric: {}, value: j.data!.result as unknown as [number, string] }] : j.data!.result;
  }

  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}, route = '/v1/chat/completions') =>
    fetch(`${gw.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      .then((r) => r.text().then(() => r.status));
  const chat = (extra: Record<string, unknown> = {}) => ({ model: 'fake-model', messages: [{ role: 'user', content: 'Summarize our refund policy.' }], ...extra });

  /** One round of mixed traffic: every kind of request the dashboard panels count. */
  async function round(i: number): Promise<number[]> {
    const jobs: Promise<number>[] = [];
    for (let k = 0; k < 4; k++) {
      jobs.push(post(chat({ policy_project_id: k % 2 ? 'support-bot' : 'billing', policy_user: `u${k}` })));
      jobs.push(post(chat({ stream: true })));
    }
    jobs.push(post(chat({ model: 'fail-500' })));
    jobs.push(fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' }).then((r) => r.text().then(() => r.status)));
    if (has('respond')) {
      jobs.push(post(chat(), { 'x-policy-id': 'refuser' }));
      if (has('rollout')) jobs.push(post(chat({ stream: i % 2 === 0 }), { 'x-policy-id': 'shadowed' }));
    }
    if (has('quota')) for (let k = 0; k < 3; k++) jobs.push(post(chat({ policy_user: `heavy-${k}` }), { 'x-policy-id': 'limited' }));
    if (has('auth')) {
      jobs.push(post(chat(), { 'x-policy-id': 'locked' }));
      jobs.push(post(chat(), { 'x-policy-id': 'locked', authorization: `Bearer ${key}` }));
    }
    if (has('redact')) for (let k = 0; k < 2; k++) jobs.push(post(chat({ stream: k === 1 }), { 'x-policy-id': 'redacting' }));
    if (has('moderation') && has('respond')) jobs.push(post({ model: 'fake-model', messages: [{ role: 'user', content: 'I will kill him with a knife and make him bleed.' }] }, { 'x-policy-id': 'moderated' }));
    if (has('topics') && has('respond')) jobs.push(post(chat({ messages: [{ role: 'user', content: 'Tell me about competitor pricing.' }] }), { 'x-policy-id': 'topical' }));
    // Two of each per round: the counts checked below (at least 10) hold even if a loaded machine slows one down.
    for (let k = 0; k < 2; k++) {
      if (has('respond')) jobs.push(post(chat(), { 'x-policy-id': 'escalating' }));
      if (has('moderation')) {
        jobs.push(post(chat(), { 'x-policy-id': 'moderation-down' }));
        jobs.push(post(chat(), { 'x-policy-id': 'moderation-slow' }));
      }
    }
    // The Redis-less gateway's requests are not counted in `statuses` (its audit is off).
    if (gwRedisDown) {
      await fetch(`${gwRedisDown.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ policy_user: 'r' })) })
        .then((r) => r.text());
    }
    return Promise.all(jobs);
  }

  it('promtool check metrics accepts the gateway\'s /metrics after traffic', async () => {
    await round(0);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain('policy_gateway_requests_total');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('every PromQL expression of the dashboard returns data after a short mixed load', async () => {
    const statuses: number[] = [];
    // ~5 seconds of traffic spread over several scrapes, with a hot reload in the middle
    for (let i = 1; i <= 10; i++) {
      statuses.push(...(await round(i)));
      if (i === 5) appendFileSync(path.join(rulesPath, 'open.policy'), '# touched by the test: hot reload\n');
      await sleep(400);
    }
    expect(statuses.length).toBeGreaterThan(150);
    expect(statuses).toContain(200);
    expect(statuses).toContain(502);
    // two more scrapes after the last request
    await sleep(2500);

    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const { targets, variables } = dashboardExpressions(dash);
    const empty: string[] = [];
    for (const t of targets) {
      const result = await query(substituteVariables(t.expr));
      const finite = result.filter((s) => Number.isFinite(Number(s.value[1])));
      if (finite.length === 0) empty.push(`${t.panel} [${t.refId}]: ${t.expr}`);
    }
    for (const v of variables) {
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.query);
      expect(m, v.query).not.toBeNull();
      const r = await fetch(`${promUrl}/api/v1/label/${m![2]}/values?match[]=${encodeURIComponent(m![1]!)}`);
      const values = ((await r.json()) as { data: string[] }).data;
      if (values.length === 0) empty.push(`variable ${v.name}: ${v.query}`);
      else expect(values).toContain('open');
    }
    // the series mean what the load did
    const value = async (expr: string) => Number((await query(expr))[0]?.value[1] ?? Number.NaN);
    expect(await value('sum(increase(policy_gateway_policy_reloads_total{result="success"}[5m]))')).toBeGreaterThan(0);
    expect(await value('sum(policy_gateway_upstream_errors_total{kind="status_5xx"})')).toBeGreaterThanOrEqual(10);
    expect(await value('sum(policy_gateway_audit_records_total{result="written"})')).toBeGreaterThanOrEqual(statuses.length);
    expect(await value('sum(policy_gateway_requests_total{status="400"})')).toBeGreaterThanOrEqual(10);
    if (has('quota')) expect(await value('sum(policy_gateway_quota_rejections_total{policy_id="limited", scope="user_requests"})')).toBeGreaterThanOrEqual(20);
    if (has('auth')) expect(await value('sum(policy_gateway_auth_failures_total{reason="missing"})')).toBeGreaterThanOrEqual(10);
    if (has('rollout') && has('respond')) {
      expect(await value('sum(policy_gateway_decisions_total{policy_id="shadowed", rollout_mode="shadow", decision="refuse", effective_decision="allow"})')).toBeGreaterThanOrEqual(10);
    }
    if (has('redact')) expect(await value('sum(policy_gateway_redactions_total{policy_id="redacting", type="email"})')).toBeGreaterThanOrEqual(20);
    if (has('moderation') && has('respond')) expect(await value('sum(policy_gateway_moderation_flags_total{policy_id="moderated"})')).toBeGreaterThanOrEqual(10);
    if (has('topics') && has('respond')) {
      expect(await value('sum(policy_gateway_decisions_total{policy_id="topical", decision="refuse", rollout_mode="enforced"})')).toBeGreaterThanOrEqual(10);
    }
    if (has('respond')) expect(await value('sum(policy_gateway_escalations_total{policy_id="escalating", result="sent"})')).toBeGreaterThanOrEqual(10);
    if (has('moderation')) {
      expect(await value('sum(policy_gateway_moderation_errors_total{provider="openai", result="fail_open"})')).toBeGreaterThanOrEqual(10);
      expect(await value('sum(policy_gateway_plugin_errors_total{plugin="moderation", hook="onRequest"})')).toBeGreaterThanOrEqual(10);
    }
    if (has('quota')) expect(await value('sum(policy_gateway_quota_store_errors_total{store="redis", result="fail_open"})')).toBeGreaterThanOrEqual(10);
    // Deployment facts: one revision serving per process, one version, a recent successful load.
    expect((await query('count by (revision) (policy_gateway_rules_info)')).length).toBeGreaterThanOrEqual(1);
    expect(await value('count(policy_gateway_build_info)')).toBe(gwRedisDown ? 2 : 1);
    expect(await value('time() - max(policy_gateway_rules_last_reload_success_timestamp_seconds)')).toBeLessThan(60);
    const missing = ['auth', 'quota', 'rollout', 'topics', 'moderation', 'respond', 'redact'].filter((b) => !has(b));
    expect(empty, `panels without data (plugins not registered: ${missing.join(', ') || 'none'})`).toEqual([]);
  });
});
