// `policy-gateway serve`: wires config, logger, metrics, policy store, upstreams and the Gateway together,
// handles signals (SIGTERM/SIGINT graceful stop, SIGHUP reload) and, with --workers N, runs a node:cluster.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { GatewayConfig, UpstreamConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { createMetrics, recordRulesLoaded, type Metrics } from '../metrics.ts';
import { Gateway } from '../http/gateway.ts';
import { buildUpstreams, UpstreamRouter } from '../upstream/router.ts';
import { DEMO_MODELS, startDemoUpstream } from '../upstream/demo.ts';
import { PolicyStore } from '../policy/store.ts';
import { buildRegistry } from '../plugin-registry.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import { VERSION } from '../version.ts';
import type { ExplainApi } from '../console/playground.ts';
import type { DecisionFeed } from '../console/feed.ts';

interface Running {
  gateway: Gateway;
  /** Stops gracefully; resolves with the exit code: 0, or EXIT_CUT when the grace period ran out and requests were cut. */
  stop: (reason: string) => Promise<number>;
}

/** Exit code of a graceful stop whose grace period ran out with requests still running (they were cut). */
export const EXIT_CUT = 3;

/**
 * Starts one gateway process (a single-process server or one cluster worker) with `plugins` in chain order (checked
 * as a registry first). Resolves once listening.
 */
export async function startGateway(config: GatewayConfig, env: Readonly<Record<string, string | undefined>>, plugins: readonly PluginFactory<any>[],
  opts: { metricsText?: () => Promise<string>; log?: Logger } = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.logLevel);
  const plugged = buildRegistry(plugins);
  const registry = new Registry();
  const metrics: Metrics = createMetrics(registry, plugged.plugins);
  if (cluster.isWorker) {
    AggregatorRegistry.setRegistries([registry]);
    // Constructing one installs prom-client's worker-side listener that answers the primary's aggregation requests.
    new AggregatorRegistry();
  }
  const closers: (() => Promise<void> | void)[] = [];
  const reopeners: (() => void)[] = [];
  const tasks = new Set<Promise<void>>();
  // The console's listener runs in one process: the only one, or worker 1 of a cluster; every worker counts its own
  // requests for the per-policy figures, which the console adds up (see docs/console.md).
  const workerIndex = cluster.isWorker ? Number(process.env.PGW_WORKER_INDEX ?? cluster.worker?.id ?? 1) : 0;
  const feed: DecisionFeed | undefined = config.console !== undefined
    // Workers other than the console's keep counters only (no history to show).
    ? new (await import('../console/feed.ts')).DecisionFeed(workerIndex > 1 ? { history: 1 } : {}, Date.now, (n) => metrics.consoleDropped.inc(n)) : undefined;
  if (feed !== undefined && cluster.isWorker) (await import('../console/cluster-stats.ts')).answerStatsRequests(feed.stats);
  const services: GatewayServices = {
    log,
    metricsOf: (decls) => metrics.of(decls),
    env,
    redisUrl: config.redisUrl,
    audit: { destination: config.audit, format: config.auditFormat },
    onClose: (fn) => { closers.push(fn); },
    onReopen: (fn) => { reopeners.push(fn); },
    background: (task) => {
      const p = task().catch((err: unknown) => { log.warn({ err }, 'background task failed'); }).finally(() => tasks.delete(p));
      tasks.add(p);
    },
    ...(feed === undefined ? {} : { decisions: feed }),
  };

  let tracing: Tracing | undefined;
  if (config.otlpEndpoint !== undefined) {
    // Registered first so it closes last: spans of the requests drained by the graceful stop are exported too.
    // Loaded only when tracing is on: a gateway without --otlp-endpoint never loads the OpenTelemetry SDK.
    const { Tracing: TracingImpl } = await import('../telemetry/tracing.ts');
    tracing = new TracingImpl({
      url: config.otlpEndpoint, sampleRatio: config.otlpSampleRatio, serviceName: env.OTEL_SERVICE_NAME || 'policy-gateway', version: VERSION, log,
      scheduleDelayMs: boundedEnvInt(env.OTEL_BSP_SCHEDULE_DELAY, 1000, 10, 60_000),
      maxQueueSize: boundedEnvInt(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048, 1, 65_536),
      exportTimeoutMs: boundedEnvInt(env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000, 100, 60_000),
      resource: { 'service.instance.id': String(process.pid) },
    });
    const t = tracing;
    closers.push(() => t.shutdown());
    if (!cluster.isWorker || cluster.worker?.id === 1) log.info({ url: config.otlpEndpoint }, 'tracing: exporting OpenTelemetry spans over OTLP/HTTP');
  }

  let upstreamConfigs: readonly UpstreamConfig[] = config.upstreams;
  let fallbackModels: readonly string[] = config.upstreams.flatMap((u) => u.models.filter((m) => !m.includes('*') && !m.includes('?')));
  if (upstreamConfigs.length === 0) {
    const demo = await startDemoUpstream();
    closers.push(demo.close);
    upstreamConfigs = [{ name: 'demo', baseUrl: demo.baseUrl, models: ['*'], keyEnv: undefined }];
    fallbackModels = DEMO_MODELS;
    if (!cluster.isWorker || cluster.worker?.id === 1) {
      log.info({ models: DEMO_MODELS }, 'no upstream configured: serving the embedded demo model (deterministic answers, for trying the gateway out)');
      log.info('to front a real backend: policy-gateway serve --upstream https://api.openai.com/v1 --upstream-key-env OPENAI_API_KEY (or POLICY_GATEWAY_UPSTREAM / POLICY_GATEWAY_UPSTREAM_KEY_ENV)');
    }
  }
  for (const u of upstreamConfigs) {
    if (u.keyEnv && !env[u.keyEnv]) log.warn({ upstream: u.name, keyEnv: u.keyEnv }, 'upstream API key variable is not set');
  }
  const router = new UpstreamRouter(buildUpstreams(upstreamConfigs, env, { maxSockets: config.maxSockets, connectTimeoutMs: config.connectTimeoutMs, timeoutMs: config.upstreamTimeoutMs }));
  closers.push(() => router.close());

  const store = new PolicyStore({
    paths: [config.rules],
    allowPaths: config.allowPaths,
    plugins: plugged.plugins,
    logger: log,
    watch: config.watch,
    // A person watching the log in a terminal gets reload diagnostics rendered (caret, notes), not JSON records.
    terminal: process.stdout.isTTY === true && opts.log === undefined ? process.stderr : undefined,
    onReload: (result) => {
      metrics.policyReloads.inc({ result });
      const set = store.current;
      if (result === 'success' && set !== undefined) recordRulesLoaded(metrics, set.revision, set.policies.size, Date.now());
    },
  });
  await store.load();
  metrics.policyReloads.inc({ result: 'success' });
  recordRulesLoaded(metrics, store.current!.revision, store.current!.policies.size, Date.now());
  closers.push(() => store.close());

  const unchainedHooks = plugged.plugins.filter((p) => p.onUnchainedEnd !== undefined);
  const gateway = new Gateway({
    policies: store, router, metrics, services, log,
    bodyLimit: config.bodyLimit, maxJsonDepth: config.maxJsonDepth, upstreamTimeoutMs: config.upstreamTimeoutMs, pluginTimeoutMs: config.pluginTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, maxConnections: config.maxConnections, opsReserve: config.opsReserve,
    upstreamBodyLimit: config.upstreamBodyLimit,
    defaultPolicy: config.defaultPolicy, metricsText: opts.metricsText, fallbackModels, metricProjects: new Set(config.metricProjects), upstreamClient: config.upstreamClient,
    tracing,
    onUnchainedEnd: (end) => {
      const e = { ...end, error: end.error && { code: end.error.code, status: end.error.status, reasonCode: end.error.reasonCode } };
      for (const p of unchainedHooks) p.onUnchainedEnd!(e, services);
    },
  });
  let consolePort: number | undefined;
  if (feed !== undefined && config.console !== undefined && workerIndex <= 1) {
    const { AdminKeys } = await import('../console/admin-keys.ts');
    const { ConsoleServer } = await import('../console/server.ts');
    const { playgroundRunner } = await import('../console/playground.ts');
    const keys = new AdminKeys(config.console.keys, log);
    const consoleServer = new ConsoleServer({
      feed, keys, log, policies: store,
      playground: playgroundRunner(loadExplain),
      worker: cluster.isWorker ? { id: workerIndex, of: Number(process.env.PGW_WORKERS ?? config.workers) } : undefined,
      clusterStats: cluster.isWorker ? (await import('../console/cluster-stats.ts')).askPrimaryForStats : undefined,
    });
    consolePort = await consoleServer.listen(config.console.port, config.console.host);
    closers.push(() => consoleServer.close());
  }
  const port = await gateway.listen(config.port, config.host);
  const opsPort = config.opsListen ? await gateway.listenOps(config.opsListen.port, config.opsListen.host) : undefined;
  const set = store.current!;
  log.info({ host: config.host, port, url: `http://${config.host}:${port}/v1`, ...(opsPort === undefined ? {} : { opsPort }), ...(consolePort === undefined ? {} : { consolePort, consoleUrl: `http://${config.console!.host}:${consolePort}/console` }), policies: [...set.policies.keys()], revision: set.revision, defaultPolicy: config.defaultPolicy ?? set.defaultPolicyId }, 'listening');
  warnOnFdLimit(config, log);

  let stopping: Promise<number> | undefined;
  const stop = (reason: string): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason, inflight: gateway.inflight, graceMs: config.graceMs }, 'shutting down');
      const { drained, cut } = await gateway.shutdown(config.graceMs);
      if (!drained) log.warn({ cut, graceMs: config.graceMs }, 'grace period over: requests were cut');
      if (tasks.size) await Promise.race([Promise.allSettled([...tasks]), new Promise((r) => setTimeout(r, Math.min(config.graceMs, 5000)).unref())]);
      for (const c of closers.reverse()) {
        try { await c(); } catch (err) { log.warn({ err }, 'close failed'); }
      }
      log.info({ exitCode: cut > 0 ? EXIT_CUT : 0 }, 'stopped');
      log.flush?.();
      return cut > 0 ? EXIT_CUT : 0;
    })();
    return stopping;
  };
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reopening files and reloading policies');
    for (const r of reopeners) r();
    void store.reload();
  });
  return { gateway, stop };
}

/** An integer from an OTEL_* environment variable, clamped to [min, max]; `dflt` when unset or not a number. */
function boundedEnvInt(raw: string | undefined, dflt: number, min: number, max: number): number {
  const n = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : dflt;
}

/**
 * Warns when the process's open-file limit cannot hold --max-connections: each client connection is a descriptor,
 * each request forwarded upstream another. Linux only (reads /proc/self/limits); elsewhere silent.
 */
function warnOnFdLimit(config: GatewayConfig, log: Logger): void {
  let soft: number;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m || m[1] === 'unlimited') return;
    soft = Number(m[1]);
  } catch { return; }
  const need = 2 * (config.maxConnections + config.opsReserve) + 256;
  if (soft < need) {
    log.warn({ openFileLimit: soft, maxConnections: config.maxConnections, needed: need },
      'the open-file limit is below what --max-connections needs (2 per connection + 256): raise it (ulimit -n) or lower --max-connections');
  }
}

/** Runs `serve` to completion with `plugins` (chain order): resolves with the process exit code after a graceful stop. */
export async function serve(config: GatewayConfig, env: Readonly<Record<string, string | undefined>>, plugins: readonly PluginFactory<any>[]): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  let metricsText: (() => Promise<string>) | undefined;
  if (cluster.isWorker) metricsText = askPrimaryForMetrics;
  // A worker listens for the primary's stop from the start: a stop sent while it is still starting is kept and acted on
  // once it listens (it was lost before, and the primary waited out the grace period to kill the worker).
  let stopWanted: string | undefined;
  let onStop: ((sig: string) => void) | undefined;
  if (cluster.isWorker) {
    process.on('message', (m: { type?: string }) => {
      if (m?.type !== 'pgw:stop') return;
      if (onStop) onStop('primary'); else stopWanted = 'primary';
    });
  }
  const running = await startGateway(config, env, plugins, { metricsText });
  return new Promise<number>((resolve) => {
    const onSignal = (sig: string) => { void running.stop(sig).then(resolve); };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    onStop = onSignal;
    if (stopWanted !== undefined) onSignal(stopWanted);
  });
}

let metricsSeq = 0;
const metricsWaiters = new Map<number, (text: string) => void>();
/** Worker side: the primary aggregates every worker's registry (prom-client AggregatorRegistry). */
function askPrimaryForMetrics(): Promise<string> {
  const id = ++metricsSeq;
  if (metricsWaiters.size === 0) {
    process.on('message', (m: { type?: string; id?: number; text?: string }) => {
      if (m?.type === 'pgw:metrics' && typeof m.id === 'number') { metricsWaiters.get(m.id)?.(m.text ?? ''); metricsWaiters.delete(m.id); }
    });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { metricsWaiters.delete(id); reject(new Error('metrics aggregation timed out')); }, 5000);
    metricsWaiters.set(id, (t) => { clearTimeout(timer); resolve(t); });
    process.send?.({ type: 'pgw:metrics-req', id });
  });
}

/** Primary of a --workers N cluster: forks workers, aggregates metrics, forwards stop signals, restarts crashed workers. */
async function runPrimary(config: GatewayConfig): Promise<number> {
  const log = createLogger(config.logLevel);
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  const relayStats = config.console ? (await import('../console/cluster-stats.ts')).relayStats : undefined;
  // Each worker keeps its index (1..N) across restarts: worker 1 runs the console.
  const indexOf = new Map<number, number>();
  const fork = (index: number) => {
    const w = cluster.fork({ PGW_WORKER_INDEX: String(index), PGW_WORKERS: String(config.workers) });
    indexOf.set(w.id, index);
    if (relayStats) relayStats(w);
    w.on('message', (m: { type?: string; id?: number }) => {
      if (m?.type !== 'pgw:metrics-req') return;
      aggregator.clusterMetrics().then(
        (text) => w.send({ type: 'pgw:metrics', id: m.id, text }),
        (err: unknown) => w.send({ type: 'pgw:metrics', id: m.id, text: `# aggregation failed: ${String(err)}\n` }),
      );
    });
    return w;
  };
  for (let i = 1; i <= config.workers; i++) fork(i);
  log.info({ workers: config.workers }, 'cluster started');
  const listening = new Set<number>();
  cluster.on('listening', (w) => { listening.add(w.id); });
  let exitCode = 0;
  let stopAll: ((sig: string) => void) | undefined;
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (code === EXIT_CUT && exitCode === 0) exitCode = EXIT_CUT; // a worker cut requests at the end of its grace
      return;
    }
    if (!listening.has(w.id)) {
      // A worker that dies before listening (policies that do not load, a port in use) would die again: stop.
      log.error({ worker: w.id, code, signal }, 'worker failed to start: stopping the cluster');
      exitCode = 1;
      stopAll?.('worker startup failure');
      return;
    }
    log.error({ worker: w.id, code, signal }, 'worker exited unexpectedly: restarting');
    fork(indexOf.get(w.id) ?? 1);
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason: sig }, 'stopping workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'pgw:stop' });
      const check = () => { if (Object.keys(cluster.workers ?? {}).length === 0) resolve(); };
      cluster.on('exit', check);
      check();
      setTimeout(() => { for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGKILL'); resolve(); }, config.graceMs + 5000).unref();
    };
    stopAll = stop;
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => { for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP'); });
  });
  log.info('stopped');
  log.flush?.();
  return exitCode;
}

/** The policy author's explain module (src/author/explain.ts), loaded when the playground first runs. */
function loadExplain(): Promise<ExplainApi> {
  return import('../author/explain.ts');
}
