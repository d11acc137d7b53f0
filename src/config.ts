// `serve` configuration: command-line flags first, then POLICY_GATEWAY_* environment variables, then defaults.
// Parsed once at startup into a frozen GatewayConfig; `--help` text lives here so it never drifts from the parser.
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_JSON_DEPTH, MAX_JSON_DEPTH_LIMIT } from './json-depth.ts';

/** One upstream: requests whose model matches `models` (exact names or globs) go to `baseUrl`. */
export interface UpstreamConfig {
  /** Bounded metric label: `default`, `demo` or the model glob. */
  readonly name: string;
  readonly baseUrl: string;
  /** Model globs this upstream serves; ['*'] for a catch-all. */
  readonly models: readonly string[];
  /** Environment variable holding this upstream's API key (never the key itself). */
  readonly keyEnv: string | undefined;
}

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly rules: string;
  /** Empty: run the embedded demo upstream. */
  readonly upstreams: readonly UpstreamConfig[];
  readonly upstreamTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxSockets: number;
  readonly defaultPolicy: string | undefined;
  readonly workers: number;
  readonly redisUrl: string | undefined;
  readonly bodyLimit: number;
  readonly graceMs: number;
  readonly pluginTimeoutMs: number;
  readonly logLevel: string;
  readonly audit: string;
  readonly auditFormat: 'logfmt' | 'json';
  readonly watch: boolean;
  /** Project ids that keep their own `project` metric label value (others collapse into `other`). */
  readonly metricProjects: readonly string[];
  /** http-proxy-3 code path to the upstream: undici (its fetch path, calls dispatched on an undici Pool) or http (native node:http). */
  readonly upstreamClient: 'undici' | 'http';
  /** Deepest nesting of arrays and objects accepted in a request body (and in upstream JSON). */
  readonly maxJsonDepth: number;
  /** Time to receive a request's headers and body (408 after it). */
  readonly requestTimeoutMs: number;
  /** A connection with no bytes moving either way for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Open client connections per process on the main port; more get a fast 503 (beyond the ops reserve: a bare one). */
  readonly maxConnections: number;
  /** Connections accepted beyond maxConnections that may only use /healthz, /readyz and /metrics. */
  readonly opsReserve: number;
  /** A second listener serving only /healthz, /readyz and /metrics, or undefined. */
  readonly opsListen: { readonly host: string; readonly port: number } | undefined;
  /** Largest upstream answer buffered (a JSON answer, one SSE event, a decoded compressed body). */
  readonly upstreamBodyLimit: number;
  /** Directories outside the policy root that files named by a policy may resolve into. */
  readonly allowPaths: readonly string[];
  /** OTLP/HTTP traces URL (tracing on), or undefined (tracing off). */
  readonly otlpEndpoint: string | undefined;
  /** Share of new traces recorded (0..1); requests whose client trace is sampled (or not) follow it. */
  readonly otlpSampleRatio: number;
  /** The console: its keys file (entries with grants=admin open it) and its own listener; undefined when off. */
  readonly console: { readonly keys: string; readonly host: string; readonly port: number } | undefined;
}

/** Where the console listens when --console-keys is given without --console-listen. */
export const DEFAULT_CONSOLE_LISTEN = { host: '127.0.0.1', port: 5001 } as const;

export const SERVE_HELP = `Usage: policy-gateway serve [options]

Starts the gateway. Every option can also be set by the environment variable in brackets.

  --host HOST               address to listen on [POLICY_GATEWAY_HOST] (default 127.0.0.1; 0.0.0.0 in containers)
  --port N                  port to listen on [POLICY_GATEWAY_PORT] (default 5000; 0 picks a free port)
  --rules DIR               directory (or file) of .policy files, hot-reloaded [POLICY_GATEWAY_RULES] (default rules)
  --upstream [GLOB=]URL     OpenAI-compatible base URL ending in /v1; repeat for several, routed by model name
                            (exact or glob, first match wins; a URL without GLOB= serves every model)
                            [POLICY_GATEWAY_UPSTREAM, comma-separated]. None: the embedded demo upstream.
  --upstream-key-env [GLOB=]NAME
                            environment variable holding the API key sent to the upstream(s) whose GLOB matches
                            (no GLOB: every upstream) [POLICY_GATEWAY_UPSTREAM_KEY_ENV, comma-separated]
  --upstream-timeout DUR    max wait for the upstream's first byte and between stream chunks (default 60s)
  --connect-timeout DUR     max time to connect to an upstream (default 5s)
  --max-sockets N           keep-alive pool size per upstream (default 256)
  --upstream-client C       undici (default: calls dispatched on an undici Pool; less CPU per request)
                            or http (http-proxy-3 on node:http) [POLICY_GATEWAY_UPSTREAM_CLIENT]
  --default-policy ID       policy for /v1 requests that name none [POLICY_GATEWAY_DEFAULT_POLICY]
                            (default: the policy marked \`default\` in the rules)
  --workers N               worker processes sharing the port, metrics aggregated [POLICY_GATEWAY_WORKERS] (default 1)
  --redis-url URL           share quota counters through Redis [REDIS_URL] (default: in-process store)
  --body-limit SIZE         max request body, after decoding gzip/deflate/br (default 20mb)
  --max-json-depth N        deepest nesting of arrays and objects in a request body, the body object being level 1
                            (deeper: 400 json_too_deep; also bounds upstream JSON) [POLICY_GATEWAY_MAX_JSON_DEPTH] (default 64)
  --request-timeout DUR     time a client has to send a request's headers and body (then 408) (default 60s)
  --idle-timeout DUR        close a connection when no byte moves either way for this long
                            (default: the upstream timeout + 30s, at least 2m)
  --max-connections N       open client connections per process; beyond it new connections get a fast 503
                            [POLICY_GATEWAY_MAX_CONNECTIONS] (default 8192)
  --ops-reserve N           connections accepted beyond --max-connections for /healthz, /readyz and /metrics only
                            (default 32)
  --ops-listen [HOST:]PORT  also serve /healthz, /readyz and /metrics (only) on this address, for probes and
                            scrapers that must never queue behind client traffic [POLICY_GATEWAY_OPS_LISTEN]
  --upstream-body-limit SIZE
                            largest upstream answer the gateway holds at once: a JSON answer, one SSE event,
                            a decompressed body (then 502) (default 64mb)
  --allow-path DIR          a directory outside the policy root that keys and list files named by a policy may
                            be in (repeatable) [POLICY_GATEWAY_ALLOW_PATH, comma-separated]
  --otlp-endpoint URL       export OpenTelemetry traces over OTLP/HTTP (JSON) to this collector: a base URL
                            (http://collector:4318, /v1/traces is added) or the full traces URL; off by default
                            [POLICY_GATEWAY_OTLP_ENDPOINT]. OTEL_EXPORTER_OTLP_HEADERS adds headers (e.g. auth),
                            OTEL_SERVICE_NAME names the service (default policy-gateway).
  --otlp-sample-ratio R     share of requests traced, 0 to 1, when the client sent no sampled traceparent (a client's
                            sampling decision is followed) [POLICY_GATEWAY_OTLP_SAMPLE_RATIO] (default 1)
  --console-keys FILE       turn the console on (/console: live decisions, per-policy stats, policies, a playground);
                            only keys of FILE (the keys-file format) whose entry has grants=admin open it
                            [POLICY_GATEWAY_CONSOLE_KEYS] (default: no console)
  --console-listen [HOST:]PORT
                            the console's own listener, never the main port (default 127.0.0.1:5001; binding another
                            host exposes it to that network: see docs/security.md) [POLICY_GATEWAY_CONSOLE_LISTEN]
  --grace DUR               graceful-shutdown grace period for in-flight requests (default 30s)
  --plugin-timeout DUR      budget for each asynchronous plugin hook (default 10s)
  --log-level LEVEL         fatal|error|warn|info|debug [LOG_LEVEL] (default info)
  --audit DEST              audit records to stdout, stderr, a file path (reopened on SIGHUP) or off
                            [POLICY_GATEWAY_AUDIT] (default stdout)
  --audit-format FMT        logfmt|json [POLICY_GATEWAY_AUDIT_FORMAT] (default logfmt)
  --metric-projects IDS     comma-separated project ids that get their own value of the \`project\` metric label
                            (every other project is counted as \`other\`, none as \`none\`: labels stay bounded)
                            [POLICY_GATEWAY_METRIC_PROJECTS]
  --no-watch                do not hot-reload policies on file change (SIGHUP still reloads)
  -h, --help                show this help

Durations: 500ms, 30s, 5m. Sizes: 512kb, 20mb.`;

/** Parses "500ms", "30s", "5m", "1h" or a bare number of milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(`${what}: invalid duration "${text}" (use e.g. 500ms, 30s, 5m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

/** Parses "512kb", "20mb", "1gb" or a bare number of bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`${what}: invalid size "${text}" (use e.g. 512kb, 20mb)`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.round(Number(m[1]) * mult);
}

/** A configuration problem reported to the operator (exit code 2), never a stack trace. */
export class ConfigError extends Error {}

function splitList(v: string | undefined): string[] {
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

function parseInt10(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${what}: expected an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

/** Splits `GLOB=VALUE` (GLOB optional); a URL's own `=` (query strings) is left alone when no glob prefix exists. */
function splitGlob(spec: string): [string | undefined, string] {
  const eq = spec.indexOf('=');
  if (eq > 0 && !spec.slice(0, eq).includes('://')) return [spec.slice(0, eq), spec.slice(eq + 1)];
  return [undefined, spec];
}

/** Builds the frozen config from `serve` arguments and the environment. Throws ConfigError on bad input. */
export function parseServeConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): GatewayConfig | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' }, port: { type: 'string' }, rules: { type: 'string' },
        upstream: { type: 'string', multiple: true }, 'upstream-key-env': { type: 'string', multiple: true },
        'upstream-timeout': { type: 'string' }, 'connect-timeout': { type: 'string' }, 'max-sockets': { type: 'string' },
        'default-policy': { type: 'string' }, workers: { type: 'string' }, 'redis-url': { type: 'string' },
        'body-limit': { type: 'string' }, grace: { type: 'string' }, 'plugin-timeout': { type: 'string' },
        'log-level': { type: 'string' }, audit: { type: 'string' }, 'audit-format': { type: 'string' },
        'no-watch': { type: 'boolean' }, 'metric-projects': { type: 'string' }, 'upstream-client': { type: 'string' }, help: { type: 'boolean', short: 'h' },
        'max-json-depth': { type: 'string' }, 'request-timeout': { type: 'string' }, 'idle-timeout': { type: 'string' },
        'max-connections': { type: 'string' }, 'ops-reserve': { type: 'string' }, 'ops-listen': { type: 'string' },
        'upstream-body-limit': { type: 'string' }, 'allow-path': { type: 'string', multiple: true },
        'otlp-endpoint': { type: 'string' }, 'otlp-sample-ratio': { type: 'string' },
        'console-keys': { type: 'string' }, 'console-listen': { type: 'string' },
      },
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) return 'help';
  const str = (k: string, envName: string | undefined, dflt: string): string =>
    (values[k] as string | undefined) ?? (envName ? env[envName] : undefined) ?? dflt;

  const upstreamSpecs = (values.upstream as string[] | undefined) ?? splitList(env.POLICY_GATEWAY_UPSTREAM);
  const keySpecs = (values['upstream-key-env'] as string[] | undefined) ?? splitList(env.POLICY_GATEWAY_UPSTREAM_KEY_ENV);
  const keyRules = keySpecs.map(splitGlob);
  const upstreams: UpstreamConfig[] = upstreamSpecs.map((spec, i) => {
    const [glob, url] = splitGlob(spec);
    let parsed: URL;
    try { parsed = new URL(url); } catch { throw new ConfigError(`--upstream: invalid URL "${url}"`); }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`--upstream: "${url}" must be http:// or https://`);
    const keyEnv = keyRules.find(([g]) => g === glob)?.[1] ?? keyRules.find(([g]) => g === undefined)?.[1];
    return Object.freeze({
      name: glob ?? (upstreamSpecs.length === 1 ? 'default' : `upstream${i + 1}`),
      baseUrl: url.replace(/\/+$/, ''),
      models: Object.freeze(glob ? glob.split('|') : ['*']),
      keyEnv,
    });
  });
  const auditFormat = str('audit-format', 'POLICY_GATEWAY_AUDIT_FORMAT', 'logfmt');
  if (auditFormat !== 'logfmt' && auditFormat !== 'json') throw new ConfigError(`--audit-format: expected logfmt or json, got "${auditFormat}"`);
  const upstreamClient = str('upstream-client', 'POLICY_GATEWAY_UPSTREAM_CLIENT', 'undici');
  if (upstreamClient !== 'undici' && upstreamClient !== 'http') throw new ConfigError(`--upstream-client: expected undici or http, got "${upstreamClient}"`);
  const logLevel = str('log-level', 'LOG_LEVEL', 'info');
  const upstreamTimeoutMs = parseDuration(str('upstream-timeout', undefined, '60s'), '--upstream-timeout');
  const requestTimeoutMs = parseDuration(str('request-timeout', undefined, '60s'), '--request-timeout');
  if (requestTimeoutMs < 1) throw new ConfigError('--request-timeout: must be at least 1ms');
  const idleRaw = values['idle-timeout'] as string | undefined;
  const idleTimeoutMs = idleRaw === undefined ? Math.max(120_000, upstreamTimeoutMs + 30_000) : parseDuration(idleRaw, '--idle-timeout');
  if (idleTimeoutMs < 1) throw new ConfigError('--idle-timeout: must be at least 1ms');
  const opsRaw = str('ops-listen', 'POLICY_GATEWAY_OPS_LISTEN', '');
  let opsListen: GatewayConfig['opsListen'];
  if (opsRaw !== '') {
    const m = /^(?:(.+):)?(\d+)$/.exec(opsRaw);
    if (!m) throw new ConfigError(`--ops-listen: expected [HOST:]PORT, got "${opsRaw}"`);
    opsListen = Object.freeze({ host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port: parseInt10(m[2]!, '--ops-listen port', 0, 65535) });
  }
  const otlpRaw = str('otlp-endpoint', 'POLICY_GATEWAY_OTLP_ENDPOINT', '');
  let otlpEndpoint: string | undefined;
  if (otlpRaw !== '') {
    let u: URL;
    try { u = new URL(otlpRaw); } catch { throw new ConfigError(`--otlp-endpoint: invalid URL "${otlpRaw}"`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`--otlp-endpoint: "${otlpRaw}" must be http:// or https://`);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
    otlpEndpoint = u.toString();
  }
  const ratioRaw = str('otlp-sample-ratio', 'POLICY_GATEWAY_OTLP_SAMPLE_RATIO', '') || '1';
  const otlpSampleRatio = Number(ratioRaw);
  if (ratioRaw.trim() === '' || !Number.isFinite(otlpSampleRatio) || otlpSampleRatio < 0 || otlpSampleRatio > 1) {
    throw new ConfigError(`--otlp-sample-ratio: expected a number from 0 to 1, got "${ratioRaw}"`);
  }
  const consoleKeys = str('console-keys', 'POLICY_GATEWAY_CONSOLE_KEYS', '');
  const consoleRaw = str('console-listen', 'POLICY_GATEWAY_CONSOLE_LISTEN', '');
  if (consoleRaw !== '' && consoleKeys === '') throw new ConfigError('--console-listen: the console needs --console-keys FILE (a keys file with a grants=admin entry)');
  let consoleCfg: GatewayConfig['console'];
  if (consoleKeys !== '') {
    let listen: { host: string; port: number } = { ...DEFAULT_CONSOLE_LISTEN };
    if (consoleRaw !== '') {
      const m = /^(?:(.+):)?(\d+)$/.exec(consoleRaw);
      if (!m) throw new ConfigError(`--console-listen: expected [HOST:]PORT, got "${consoleRaw}"`);
      listen = { host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port: parseInt10(m[2]!, '--console-listen port', 0, 65535) };
    }
    consoleCfg = Object.freeze({ keys: consoleKeys, ...listen });
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new ConfigError(`--log-level: unknown level "${logLevel}"`);
  return Object.freeze({
    host: str('host', 'POLICY_GATEWAY_HOST', '127.0.0.1'),
    port: parseInt10(str('port', 'POLICY_GATEWAY_PORT', '5000'), '--port', 0, 65535),
    rules: str('rules', 'POLICY_GATEWAY_RULES', 'rules'),
    upstreams: Object.freeze(upstreams),
    upstreamTimeoutMs,
    connectTimeoutMs: parseDuration(str('connect-timeout', undefined, '5s'), '--connect-timeout'),
    maxSockets: parseInt10(str('max-sockets', undefined, '256'), '--max-sockets', 1, 65535),
    defaultPolicy: (values['default-policy'] as string | undefined) ?? env.POLICY_GATEWAY_DEFAULT_POLICY,
    workers: parseInt10(str('workers', 'POLICY_GATEWAY_WORKERS', '1'), '--workers', 1, 256),
    redisUrl: (values['redis-url'] as string | undefined) ?? env.REDIS_URL ?? undefined,
    bodyLimit: parseSize(str('body-limit', undefined, '20mb'), '--body-limit'),
    graceMs: parseDuration(str('grace', undefined, '30s'), '--grace'),
    pluginTimeoutMs: parseDuration(str('plugin-timeout', undefined, '10s'), '--plugin-timeout'),
    logLevel,
    audit: str('audit', 'POLICY_GATEWAY_AUDIT', 'stdout'),
    auditFormat,
    watch: !values['no-watch'],
    upstreamClient,
    metricProjects: Object.freeze(splitList(str('metric-projects', 'POLICY_GATEWAY_METRIC_PROJECTS', ''))),
    maxJsonDepth: parseInt10(str('max-json-depth', 'POLICY_GATEWAY_MAX_JSON_DEPTH', String(DEFAULT_MAX_JSON_DEPTH)), '--max-json-depth', 1, MAX_JSON_DEPTH_LIMIT),
    requestTimeoutMs,
    idleTimeoutMs,
    maxConnections: parseInt10(str('max-connections', 'POLICY_GATEWAY_MAX_CONNECTIONS', '8192'), '--max-connections', 1, 1_000_000),
    opsReserve: parseInt10(str('ops-reserve', undefined, '32'), '--ops-reserve', 0, 10_000),
    opsListen,
    upstreamBodyLimit: parseSize(str('upstream-body-limit', undefined, '64mb'), '--upstream-body-limit'),
    allowPaths: Object.freeze((values['allow-path'] as string[] | undefined) ?? splitList(env.POLICY_GATEWAY_ALLOW_PATH)),
    otlpEndpoint,
    otlpSampleRatio,
    console: consoleCfg,
  });
}
