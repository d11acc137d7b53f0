// `npm run bench`: Policy Gateway side by side with its peers (direct, nginx, bare http-proxy-3, Portkey) in one
// run on one machine: interleaved rounds of autocannon load, medians, streaming TTFB, peak RSS, CPU per request,
// ratios, PASS/FAIL targets; writes bench/results/<date>.{md,json,svg} and latest.md. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CONTENDERS, Unavailable, type BenchEnv, type Contender, type Running } from './contenders.ts';
import { runLoad, type LoadResult } from './load.ts';
import { runStreams, type StreamSamples } from './stream-client.ts';
import { spawnChild, stopChild, treeCpuMs, treePeakRssMb, hasTaskset, sleep, type Child } from './proc.ts';
import { findNginx, nginxVersion } from './nginx.ts';
import { median, percentile, round, Samples } from './stats.ts';
import { computeRatios, evaluateTargets, renderMarkdown, renderSvg, type Extra, type Report, type Row } from './report.ts';
import { runProfiles } from './profile.ts';
import { SSE_EVENT_COUNT } from './upstream.ts';
import { attachAb, baseChoice, renderAb, runAgainstBase, type BaseChoice } from './detection-ab.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `Usage: npm run bench -- [options]

  --quick                 ~1-minute smoke: 1 round of 3 s, 1 s warm-up, 60 streams, core configurations only
  --duration S            seconds per measurement (default 10)
  --rounds N              interleaved rounds, medians reported (default 3)
  --warmup S              warm-up seconds per configuration before measuring (default 3)
  --connections N         concurrent connections (default 32)
  --pipelining N          requests in flight per connection (default 1)
  --only a,b              run only these configurations (ids below)
  --skip a,b              skip these configurations
  --stream-requests N     streamed requests per configuration, pooled over rounds (default 200)
  --stream-concurrency N  concurrent streams (default 4)
  --upstream-delay MS     fake upstream waits MS before answering (TTFB tests; default 0)
  --sse-gap MS            gap between the fake upstream's SSE chunks (default 2)
  --no-pin                do not pin processes with taskset
  --upstream-on gen|proxy pin the fake upstream with the load generator (default) or with the proxy
  --no-extras             skip the other benchmark sections (redaction, matcher, quota, policy compile, trace)
  --base-ref REV          compare matcher and redaction speed with git revision REV in the same process
                          (default HEAD~1, the previous commit; checked out to a temporary directory)
  --base DIR              the same against a checkout in DIR
  --no-base               no comparison
  --preliminary           mark the report preliminary (implied by --quick)
  --strict                exit 1 when a target FAILs
  --profile a,b           instead of the table: run these configurations under load with --cpu-prof and
                          print where the time goes (self time by function and by module)
  --profile-seconds S     load duration while profiling (default 10)
  --out DIR               results directory (default bench/results)
  --render FILE.json      re-render the .md and .svg of an earlier run from its .json (no measuring)
  -h, --help              this help

Configurations: ${CONTENDERS.map((c) => c.id).join(', ')}`;

interface Opts {
  quick: boolean;
  durationS: number;
  rounds: number;
  warmupS: number;
  connections: number;
  pipelining: number;
  only?: Set<string>;
  skip: Set<string>;
  streamRequests: number;
  streamConcurrency: number;
  upstreamDelay: number;
  sseGap: number;
  pin: boolean;
  upstreamOn: 'gen' | 'proxy';
  extras: boolean;
  base: BaseChoice;
  preliminary: boolean;
  strict: boolean;
  profile?: string[];
  profileSeconds: number;
  out: string;
  render?: string;
}

function parseOpts(argv: string[]): Opts | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      pipelining: { type: 'string' },
      only: { type: 'string' },
      skip: { type: 'string' },
      'stream-requests': { type: 'string' },
      'stream-concurrency': { type: 'string' },
      'upstream-delay': { type: 'string' },
      'sse-gap': { type: 'string' },
      'no-pin': { type: 'boolean' },
      'upstream-on': { type: 'string' },
      'no-extras': { type: 'boolean' },
      'base-ref': { type: 'string' },
      base: { type: 'string' },
      'no-base': { type: 'boolean' },
      preliminary: { type: 'boolean' },
      strict: { type: 'boolean' },
      profile: { type: 'string' },
      'profile-seconds': { type: 'string' },
      out: { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const num = (v: string | undefined, d: number, what: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${what}: expected a number, got "${v}"`);
    return n;
  };
  const list = (v: string | undefined): string[] => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  const known = new Set(CONTENDERS.map((c) => c.id));
  for (const id of [...list(values.only), ...list(values.skip), ...list(values.profile)]) {
    if (!known.has(id)) throw new Error(`unknown configuration "${id}" (known: ${[...known].join(', ')})`);
  }
  const upstreamOn = values['upstream-on'] ?? 'gen';
  if (upstreamOn !== 'gen' && upstreamOn !== 'proxy') throw new Error(`--upstream-on: expected gen or proxy, got "${upstreamOn}"`);
  return {
    quick,
    upstreamOn,
    durationS: num(values.duration, quick ? 3 : 10, 'duration'),
    rounds: Math.max(1, Math.round(num(values.rounds, quick ? 1 : 3, 'rounds'))),
    warmupS: num(values.warmup, quick ? 1 : 3, 'warmup'),
    connections: Math.max(1, Math.round(num(values.connections, 32, 'connections'))),
    pipelining: Math.max(1, Math.round(num(values.pipelining, 1, 'pipelining'))),
    only: values.only ? new Set(list(values.only)) : undefined,
    skip: new Set(list(values.skip)),
    streamRequests: Math.round(num(values['stream-requests'], quick ? 60 : 200, 'stream-requests')),
    streamConcurrency: Math.max(1, Math.round(num(values['stream-concurrency'], 4, 'stream-concurrency'))),
    upstreamDelay: num(values['upstream-delay'], 0, 'upstream-delay'),
    sseGap: num(values['sse-gap'], 2, 'sse-gap'),
    pin: !values['no-pin'],
    extras: !values['no-extras'],
    base: baseChoice(values),
    preliminary: quick || (values.preliminary ?? false),
    strict: values.strict ?? false,
    profile: values.profile ? list(values.profile) : undefined,
    profileSeconds: num(values['profile-seconds'], 10, 'profile-seconds'),
    out: path.resolve(values.out ?? path.join(ROOT, 'bench/results')),
    render: values.render ? path.resolve(values.render) : undefined,
  };
}

const log = (s: string): void => {
  process.stderr.write(s + '\n');
};

/** The machine, for the report header. */
function machineInfo(): Record<string, string> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  const nginxBin = findNginx();
  const ver = (p: string): string => {
    try {
      return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  };
  return {
    CPU: cpu,
    cores: String(os.cpus().length),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    Node: process.version,
    nginx: nginxBin ? nginxVersion(nginxBin) : 'not installed',
    autocannon: ver('autocannon'),
    'http-proxy-3': ver('http-proxy-3'),
    Portkey: ver('@portkey-ai/gateway'),
  };
}

function loadAvg(): string {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** Pin this process (all its threads) to `cpus`. */
function pinSelf(cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** One plain request through a contender, to refuse measuring a configuration that only returns errors. */
function smoke(run: Running): Promise<string | undefined> {
  return new Promise((resolve) => {
    const u = new URL(run.url);
    const body = Buffer.from(run.body);
    const req = http.request(
      {
        host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...run.headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          if (res.statusCode !== 200) return resolve(`a test request answered HTTP ${res.statusCode}: ${text.slice(0, 240)}`);
          try {
            const j = JSON.parse(text) as { choices?: unknown[]; output?: unknown[] };
            const items = run.api === 'responses' ? j.output : j.choices;
            if (!Array.isArray(items) || items.length === 0) return resolve(`a test request answered 200 without ${run.api === 'responses' ? 'output' : 'choices'}: ${text.slice(0, 240)}`);
          } catch {
            return resolve(`a test request answered 200 with a body that is not JSON: ${text.slice(0, 240)}`);
          }
          resolve(undefined);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout after 10 s')));
    req.on('error', (e) => resolve(`a test request failed: ${e.message}`));
    req.end(body);
  });
}

interface Live {
  c: Contender;
  run?: Running;
  reason?: string;
  stopped?: boolean;
  rounds: Array<LoadResult & { cpuMs: number; cpuUsPerReq: number; proxyCorePct: number; genCorePct: number; upCorePct: number }>;
  stream: StreamSamples;
}

/** The other engineers' benchmark sections, each optional. */
const EXTRAS: ReadonlyArray<{ file: string; fn: string; title: string; needsPlugins?: boolean }> = [
  { file: 'bench/redaction.ts', fn: 'benchRedaction', title: 'Redaction' },
  { file: 'bench/matcher.ts', fn: 'benchMatcher', title: 'Topic matcher' },
  { file: 'bench/quota.ts', fn: 'benchQuota', title: 'Quota' },
  { file: 'bench/policy-compile.ts', fn: 'benchPolicyCompile', title: 'Policy compile', needsPlugins: true },
  { file: 'bench/trace.ts', fn: 'benchTrace', title: 'Evaluation trace', needsPlugins: true },
];

async function runExtras(quick: boolean): Promise<Extra[]> {
  const out: Extra[] = [];
  for (const x of EXTRAS) {
    const abs = path.join(ROOT, x.file);
    if (!existsSync(abs)) {
      out.push({ title: x.title, file: x.file, status: 'absent' });
      continue;
    }
    log(`extra: ${x.file} ${x.fn}() …`);
    try {
      const mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
      const fn = mod[x.fn];
      if (typeof fn !== 'function') throw new Error(`${x.file} does not export ${x.fn}()`);
      let arg: unknown;
      if (x.needsPlugins) arg = ((await import(pathToFileURL(path.join(ROOT, 'plugins/index.ts')).href)) as { ALL_PLUGINS: unknown }).ALL_PLUGINS;
      const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('did not finish within 180 s')), 180_000).unref());
      const figures = await Promise.race([x.needsPlugins ? fn(arg, { quick }) : fn({ quick }), timeout]);
      out.push({ title: x.title, file: x.file, status: 'ok', figures });
    } catch (e) {
      out.push({ title: x.title, file: x.file, status: 'error', error: (e as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(e) });
    }
  }
  return out;
}

/** Everything this run started, stopped on exit, error or Ctrl-C (only these pids are ever signalled). */
const children: Child[] = [];
const lives: Live[] = [];
let tmpDir: string | undefined;
let stopping = false;

async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const l of lives) if (l.run && !l.stopped) await l.run.stop().catch(() => {});
  for (const c of children) await stopChild(c).catch(() => {});
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
}

async function main(): Promise<number> {
  let opts: Opts | 'help';
  try {
    opts = parseOpts(process.argv.slice(2));
  } catch (e) {
    log(`bench: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const o = opts;
  if (o.render) {
    // NaN was stored as null; the renderers treat both as "no figure"
    const rep = JSON.parse(readFileSync(o.render, 'utf8')) as Report;
    rep.targets = evaluateTargets(rep.rows); // with today's target lines (the figures are the run's own)
    const base = o.render.replace(/\.json$/, '');
    writeFileSync(`${base}.md`, renderMarkdown(rep, `${path.basename(base)}.svg`));
    writeFileSync(`${base}.svg`, renderSvg(rep));
    log(`bench: re-rendered ${path.relative(ROOT, base)}.{md,svg}`);
    return 0;
  }
  const startedAt = new Date();
  const date = startedAt.toISOString().slice(0, 10);
  const cores = os.cpus().length;
  const pin = o.pin && hasTaskset() && cores >= 2;
  const genCpus = pin ? '0' : undefined;
  const proxyCpus = pin ? '1' : undefined;
  const multiCpus = pin ? (cores > 2 ? `1-${cores - 1}` : '0,1') : undefined;
  const pinning: string[] = [];
  if (pin) {
    const ok = pinSelf(genCpus!);
    pinning.push(`load generator (this harness: autocannon + streaming client) on cpu ${genCpus}${ok ? '' : ' (taskset failed: unpinned)'}`);
    pinning.push(
      o.upstreamOn === 'gen'
        ? `fake upstream on cpu ${genCpus} (shares with the load generator, so every proxy has core ${proxyCpus} to itself)`
        : `fake upstream on cpu ${proxyCpus} (--upstream-on proxy: shares with the proxy, the load generator has core ${genCpus} to itself)`,
    );
    pinning.push(`each single-process proxy on cpu ${proxyCpus} (nginx worker_processes 1)`);
    pinning.push(`gateway --workers 2 on cpus ${multiCpus} (unpinned on this ${cores}-core machine: it competes with the load generator)`);
  } else {
    pinning.push(o.pin ? `not pinned (${hasTaskset() ? `${cores} core(s)` : 'taskset not found'})` : 'not pinned (--no-pin)');
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-bench-'));
  tmpDir = tmp;
  const onSignal = (): void => {
    log('bench: interrupted, stopping everything it started …');
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const machine = machineInfo();
  log(`bench: ${Object.entries(machine).map(([k, v]) => `${k} ${v}`).join(' · ')}`);
  for (const p of pinning) log(`bench: pinning: ${p}`);
  const loadAvgBefore = loadAvg();

  // the fake upstream
  let upstreamPort: number | undefined;
  const upstreamCpus = o.upstreamOn === 'gen' ? genCpus : proxyCpus;
  const upstream = spawnChild('upstream', process.execPath, [path.join(ROOT, 'bench/upstream.ts'), '--port', '0', '--delay', String(o.upstreamDelay), '--sse-gap', String(o.sseGap)], {
    cpus: upstreamCpus,
    onLine: (l) => {
      if (l.includes('"listening"')) upstreamPort = (JSON.parse(l) as { port: number }).port;
    },
  });
  children.push(upstream);
  for (let i = 0; i < 100 && upstreamPort === undefined && !upstream.isDead(); i++) await sleep(50);
  if (upstreamPort === undefined) {
    log(`bench: the fake upstream did not start: ${upstream.output()}`);
    await cleanup();
    return 1;
  }
  const env: BenchEnv = {
    root: ROOT,
    node: process.execPath,
    upstreamPort,
    tmp,
    proxyCpus,
    multiCpus,
    runId: `${startedAt.getTime().toString(36)}`,
    redisUrl: 'redis://127.0.0.1:6379',
    log,
  };

  if (o.profile) {
    try {
      await runProfiles(o.profile, env, { seconds: o.profileSeconds, connections: o.connections, out: o.out, date });
    } finally {
      await cleanup();
    }
    return 0;
  }

  const selected = CONTENDERS.filter((c) => (o.only ? o.only.has(c.id) : !o.skip.has(c.id) && (!o.quick || c.quick)));
  for (const c of selected) {
    const live: Live = { c, rounds: [], stream: { ttfb: new Samples(), total: new Samples(), errors: 0 } };
    lives.push(live);
    log(`bench: starting ${c.num}. ${c.label} …`);
    try {
      live.run = await c.start(env);
      const bad = await smoke(live.run);
      if (bad) {
        await live.run.stop();
        live.run = undefined;
        live.stopped = true;
        live.reason = bad;
      }
    } catch (e) {
      live.reason = e instanceof Unavailable ? e.message : `failed to start: ${(e as Error).message}`;
    }
    if (live.reason) log(`bench:   unavailable: ${live.reason}`);
  }
  const ready = lives.filter((l) => l.run);
  const spec = (r: Running, durationS: number) => ({
    url: r.url,
    headers: r.headers,
    body: r.body,
    connections: o.connections,
    pipelining: o.pipelining,
    durationS,
  });

  if (o.warmupS > 0) {
    for (const l of ready) {
      log(`bench: warm-up ${l.c.id} ${o.warmupS} s`);
      await runLoad(spec(l.run!, o.warmupS)).catch(() => undefined);
      await sleep(200);
    }
  }

  for (let round = 1; round <= o.rounds; round++) {
    for (const l of ready) {
      const pid = l.run!.pid;
      const cpu0 = pid ? treeCpuMs(pid) : 0;
      const gen0 = process.cpuUsage();
      const up0 = treeCpuMs(upstream.pid);
      const t0 = performance.now();
      const r = await runLoad(spec(l.run!, o.durationS));
      const wall = performance.now() - t0;
      const cpuMs = pid ? treeCpuMs(pid) - cpu0 : NaN;
      const gen = process.cpuUsage(gen0);
      const genMs = (gen.user + gen.system) / 1000;
      const upMs = treeCpuMs(upstream.pid) - up0;
      l.rounds.push({
        ...r,
        cpuMs,
        cpuUsPerReq: pid && r.ok > 0 ? (cpuMs * 1000) / r.ok : NaN,
        proxyCorePct: pid ? (100 * cpuMs) / wall : NaN,
        genCorePct: (100 * genMs) / wall,
        upCorePct: (100 * upMs) / wall,
      });
      const errs = r.non2xx + r.errors;
      log(
        `bench: round ${round}/${o.rounds} ${l.c.id.padEnd(13)} ${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${r.p50.toFixed(2)}  p99 ${r.p99.toFixed(2)} ms` +
          `${errs ? `  errors ${errs}` : ''}${pid ? `  cpu ${(cpuMs * 1000 / Math.max(1, r.ok)).toFixed(0)} µs/req` : ''}`,
      );
      await sleep(300);
    }
  }

  // streaming: interleaved too, samples pooled over rounds
  const perRound = Math.max(1, Math.ceil(o.streamRequests / o.rounds));
  for (let round = 1; round <= o.rounds; round++) {
    for (const l of ready) {
      await runStreams({
        url: l.run!.url, headers: l.run!.headers, body: l.run!.streamBody, requests: perRound, concurrency: o.streamConcurrency,
        endMarker: l.run!.api === 'responses' ? 'event: response.completed' : undefined,
      }, l.stream);
    }
  }

  // peak RSS, then stop
  const rss = new Map<string, { mb: number; pids: number[] }>();
  for (const l of ready) if (l.run!.pid) rss.set(l.c.id, treePeakRssMb(l.run!.pid));
  for (const l of ready) {
    await l.run!.stop();
    l.stopped = true;
  }
  const loadAvgAfter = loadAvg();

  const extras = o.extras ? await runExtras(o.quick) : [];
  if (o.extras && o.base.kind !== 'none') {
    log(`extra: matcher and redaction against ${o.base.kind === 'rev' ? o.base.rev : o.base.dir} (bench/detection-ab.ts) …`);
    const ab = await runAgainstBase(o.base, { quick: o.quick });
    log('error' in ab ? `  against ${ab.label}: unavailable: ${ab.error}` : renderAb(ab.rows, ab.label));
    attachAb(extras, ab);
  }

  const rows: Row[] = lives.map((l) => {
    const base = { id: l.c.id, num: l.c.num, label: l.c.label, what: l.c.what, role: l.c.role, pinnedTo: l.run?.pinnedTo ?? '—', version: l.run?.version };
    if (!l.run || l.rounds.length === 0) {
      return { ...base, available: false, reason: l.reason, rounds: [], totalOk: 0, totalNon2xx: 0, totalErrors: 0, statusCodes: {} };
    }
    const pick = (k: 'rps' | 'p50' | 'p99' | 'p999' | 'cpuUsPerReq' | 'proxyCorePct' | 'genCorePct' | 'upCorePct'): number => median(l.rounds.map((r) => r[k]));
    const codes: Record<string, number> = {};
    for (const r of l.rounds) for (const [k, v] of Object.entries(r.statusCodes)) codes[k] = (codes[k] ?? 0) + v;
    const ttfb = l.stream.ttfb.sorted();
    const total = l.stream.total.sorted();
    const rr = rss.get(l.c.id);
    return {
      ...base,
      available: true,
      rounds: l.rounds.map((r) => ({
        rps: round(r.rps, 1), p50: round(r.p50, 3), p90: round(r.p90, 3), p99: round(r.p99, 3), p999: round(r.p999, 3), mean: round(r.mean, 3),
        ok: r.ok, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, durationS: r.durationS,
        cpuMs: round(r.cpuMs, 0), cpuUsPerReq: round(r.cpuUsPerReq, 1), proxyCorePct: round(r.proxyCorePct, 1), genCorePct: round(r.genCorePct, 1), upCorePct: round(r.upCorePct, 1),
      })),
      med: { rps: pick('rps'), p50: pick('p50'), p99: pick('p99'), p999: pick('p999'), cpuUsPerReq: pick('cpuUsPerReq'), proxyCorePct: pick('proxyCorePct'), genCorePct: pick('genCorePct'), upCorePct: pick('upCorePct') },
      totalOk: l.rounds.reduce((a, r) => a + r.ok, 0),
      totalNon2xx: l.rounds.reduce((a, r) => a + r.non2xx, 0),
      totalErrors: l.rounds.reduce((a, r) => a + r.errors, 0),
      statusCodes: codes,
      peakRssMb: rr?.mb,
      processes: rr?.pids.length,
      stream: {
        n: ttfb.length,
        ttfbP50: percentile(ttfb, 50),
        ttfbP99: percentile(ttfb, 99),
        totalP50: percentile(total, 50),
        totalP99: percentile(total, 99),
        errors: l.stream.errors,
        firstError: l.stream.firstError,
      },
    };
  });
  computeRatios(rows);
  const targets = evaluateTargets(rows);
  const notes: string[] = [];
  if (rows.some((r) => r.role.startsWith('portkey') && r.stream && r.stream.errors > 0)) {
    notes.push('Portkey streaming fails here with HTTP 500 "Something went wrong" (server log: `TypeError: immutable` in updateHeaders) — ' +
      'a known Portkey bug with @hono/node-server > 1.14.2 (Portkey-AI/gateway#1389, #1550), the version npm resolves for @portkey-ai/gateway 1.15.2.');
  }
  const bareCpu = rows.find((r) => r.role === 'bare')?.med?.cpuUsPerReq;
  if (bareCpu && Number.isFinite(bareCpu)) {
    const rel = rows
      .filter((r) => r.med && Number.isFinite(r.med.cpuUsPerReq) && r.role !== 'bare')
      .map((r) => `${r.num} ${(r.med!.cpuUsPerReq / bareCpu).toFixed(2)}×`);
    if (rel.length) {
      notes.push(`Proxy CPU per request relative to the bare http-proxy-3 (${Math.round(bareCpu)} µs): ${rel.join(', ')} — ` +
        'steadier than req/s when other work shares the machine; 90% of bare throughput needs ≤ 1.11×.');
    }
  }
  if (o.sseGap > 0) notes.push(`The fake upstream spaces its ${SSE_EVENT_COUNT} SSE events ${o.sseGap} ms apart, so "total" includes ~${(SSE_EVENT_COUNT - 1) * o.sseGap} ms of upstream pacing; a proxy that buffered the stream would show TTFB ≈ total.`);
  if (o.upstreamDelay > 0) notes.push(`The fake upstream waits ${o.upstreamDelay} ms before each answer (--upstream-delay).`);

  // nginx may have been installed by this run (bench/nginx.ts): name the version it measured, not the state before.
  if (machine.nginx === 'not installed') {
    const bin = findNginx();
    if (bin) machine.nginx = nginxVersion(bin);
  }
  const report: Report = {
    date,
    startedAt: startedAt.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    preliminary: o.preliminary,
    machine,
    options: {
      connections: o.connections,
      pipelining: o.pipelining,
      'seconds per measurement': o.durationS,
      rounds: o.rounds,
      'warm-up s': o.warmupS,
      'streams per configuration': perRound * o.rounds,
      'stream concurrency': o.streamConcurrency,
      'upstream delay ms': o.upstreamDelay,
      'SSE gap ms': o.sseGap,
    },
    pinning,
    rows,
    targets,
    extras,
    notes,
    loadAvgBefore,
    loadAvgAfter,
  };
  mkdirSync(o.out, { recursive: true });
  const base = o.quick ? `${date}-quick` : date;
  const md = renderMarkdown(report, `${base}.svg`);
  writeFileSync(path.join(o.out, `${base}.md`), md);
  writeFileSync(path.join(o.out, `${base}.json`), JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(path.join(o.out, `${base}.svg`), renderSvg(report));
  copyFileSync(path.join(o.out, `${base}.md`), path.join(o.out, 'latest.md'));
  process.stdout.write(md + '\n');
  for (const t of targets) process.stdout.write(`${t.status} ${t.name}: ${t.value} (target ${t.threshold})${t.why ? ` — ${t.why}` : ''}\n`);
  log(`bench: wrote ${path.relative(ROOT, path.join(o.out, base))}.{md,json,svg} and latest.md`);
  await cleanup();
  return o.strict && targets.some((t) => t.status === 'FAIL') ? 1 : 0;
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (e: unknown) => {
    log(`bench: ${(e as Error).stack ?? String(e)}`);
    await cleanup();
    process.exit(1);
  },
);
