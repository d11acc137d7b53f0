// The compose stack (deploy/compose.yaml): validated by docker-compose's own schema check (Debian's docker-compose)
// and its Prometheus config by `promtool check config`; the wiring between services checked (replicas, Redis, the
// scrape job finding every replica, Grafana's provisioned datasource and dashboard); the demo traffic generator run
// against a real gateway. Containers are not started here (no image registry is reachable from this machine).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT, startGateway } from '../helpers/gateway-process.ts';

const COMPOSE_FILE = path.join(ROOT, 'deploy/compose.yaml');
const DEPLOY = path.dirname(COMPOSE_FILE);

/** Runs a Debian tool the test needs; fails at once with the command that installs it when it is missing. */
function tool(cmd: string, args: string[], apt: string, opts: { cwd?: string } = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, timeout: 60_000, env: { ...process.env, COMPOSE_PROJECT_NAME: 'policy-gateway-test' } });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is not installed: run \`apt-get install -y ${apt}\``);
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

interface Service {
  image?: string; build?: { context: string }; command?: string[]; entrypoint?: string[]; environment?: Record<string, string>;
  volumes?: string[]; ports?: string[]; expose?: string[]; depends_on?: Record<string, { condition: string }> | string[];
  deploy?: { replicas?: number }; stop_grace_period?: string; read_only?: boolean; profiles?: string[]; healthcheck?: { test: string[] };
}
/** The compose file with merge keys and anchors resolved, as compose sees it. */
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const svc = (name: string): Service => compose.services[name]!;
/** Bind mounts of a service as [absolute host path, container path]. */
const binds = (s: Service): [string, string][] => (s.volumes ?? []).map((v) => v.split(':')).map(([h, c]) => [path.resolve(DEPLOY, h!), c!]);
const seconds = (d: string): number => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);

describe('compose stack', () => {
  it('docker-compose validates the file against its Compose schema', () => {
    const r = tool('docker-compose', ['-f', COMPOSE_FILE, '--profile', 'demo', 'config', '-q'], 'docker-compose');
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('the schema check is live: a misspelt key and a bad replica count are rejected', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-compose-'));
    try {
      const bad = readFileSync(COMPOSE_FILE, 'utf8').replace('replicas: 2', 'replicas: two').replace('stop_grace_period:', 'stop_grace_periodd:');
      writeFileSync(path.join(dir, 'compose.yaml'), bad);
      const r = tool('docker-compose', ['-f', path.join(dir, 'compose.yaml'), 'config', '-q'], 'docker-compose');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/stop_grace_periodd|replicas/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every bind-mounted file or folder exists in the repository', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [host] of binds(s)) expect(existsSync(host), `${name}: ${host}`).toBe(true);
    }
  });

  it('runs 2 gateway replicas from the Dockerfile, sharing quotas through the Redis service, read-only', () => {
    const gw = svc('gateway');
    expect(gw.deploy?.replicas).toBe(2);
    expect(path.resolve(DEPLOY, gw.build!.context)).toBe(ROOT);
    expect(existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
    expect(gw.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(svc('redis').healthcheck?.test).toContain('redis-cli');
    expect(gw.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
    expect(gw.read_only).toBe(true);
    // Policies: the repository's rules/ where POLICY_GATEWAY_RULES points, read-only (hot reload still sees edits).
    expect(binds(gw)).toContainEqual([path.join(ROOT, 'rules'), gw.environment!.POLICY_GATEWAY_RULES]);
    expect(gw.volumes!.every((v) => v.endsWith(':ro'))).toBe(true);
  });

  it('lets in-flight requests drain: --grace ends before compose sends SIGKILL', () => {
    const gw = svc('gateway');
    const grace = seconds(gw.command![gw.command!.indexOf('--grace') + 1]!);
    expect(grace).toBeGreaterThan(0);
    expect(seconds(gw.stop_grace_period!)).toBeGreaterThan(grace);
  });

  it('Prometheus config passes `promtool check config`', () => {
    const r = tool('promtool', ['check', 'config', path.join(DEPLOY, 'compose/prometheus.yml')], 'prometheus');
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('Prometheus discovers every gateway replica by the service name on the port the gateway listens on', () => {
    const [, target] = binds(svc('prometheus')).find(([h]) => h.endsWith('prometheus.yml'))!;
    expect(svc('prometheus').command).toContain(`--config.file=${target}`);
    const prom = parse(readFileSync(path.join(DEPLOY, 'compose/prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; metrics_path?: string; dns_sd_configs?: { names: string[]; type: string; port: number }[] }[];
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'policy-gateway')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    // One A record per replica: every replica is scraped as its own instance (static targets would see one).
    expect(job.dns_sd_configs).toEqual([expect.objectContaining({ names: ['gateway'], type: 'A' })]);
    const port = /POLICY_GATEWAY_PORT=(\d+)/.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))![1];
    expect(String(job.dns_sd_configs![0]!.port)).toBe(port);
    expect(svc('gateway').expose).toEqual([port]);
  });

  it('nginx spreads client requests over the replicas and passes SSE through unbuffered', () => {
    const conf = readFileSync(path.join(DEPLOY, 'compose/nginx.conf'), 'utf8');
    expect(conf).toMatch(/server gateway:5000 resolve;/);
    expect(conf).toMatch(/proxy_buffering off;/);
    expect(svc('lb').ports).toEqual(['5000:5000']);
  });

  it('Grafana is provisioned with the Prometheus service as default datasource and the bundled dashboard', () => {
    const g = svc('grafana');
    const provisioning = binds(g).find(([, c]) => c === '/etc/grafana/provisioning')![0];
    const ds = parse(readFileSync(path.join(provisioning, 'datasources/prometheus.yaml'), 'utf8')) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    expect(svc('prometheus').ports).toEqual(['9090:9090']);
    const prov = parse(readFileSync(path.join(provisioning, 'dashboards/policy-gateway.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    const dashDir = binds(g).find(([, c]) => c === prov.providers[0]!.options.path)![0];
    expect(dashDir).toBe(path.join(ROOT, 'dashboards'));
    expect(g.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${prov.providers[0]!.options.path}/policy-gateway.json`);
    // Provisioning does not resolve the export's ${DS_PROMETHEUS} input: every panel and variable must go through the
    // dashboard's `datasource` variable, which falls back to the provisioned default datasource.
    const dash = readFileSync(path.join(dashDir, 'policy-gateway.json'), 'utf8');
    const refs = [...dash.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]).filter((u) => u!.startsWith('$'));
    expect(refs.length).toBeGreaterThan(10);
    expect(new Set(refs)).toEqual(new Set(['${datasource}']));
  });

  it('the demo traffic generator drives a real gateway with the mix the dashboard shows', async () => {
    const gw = await startGateway(['--audit', 'off']);
    try {
      const r = spawnSync(process.execPath, [path.join(DEPLOY, 'compose/traffic.mjs')], {
        encoding: 'utf8', timeout: 20_000, env: { ...process.env, GATEWAY_URL: gw.url, RATE: '50', REQUESTS: '20' },
      });
      expect(r.status, r.stderr).toBe(0);
      const summary = Object.fromEntries([...r.stdout.matchAll(/([\w-]+:\d+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
      expect(r.stdout).toMatch(/^sent 20:/m);
      expect(summary).toMatchObject({ 'allow:200': 2, 'deny:200': 2, 'stream:200': 2, 'support:200': 2, 'no-key:401': 2 });
      expect(summary.error).toBeUndefined();
    } finally {
      await gw.stop();
    }
  });
});
