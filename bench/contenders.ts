// The contenders of `npm run bench`: how each one is started on loopback (pinned), probed, addressed and stopped.
// A contender that cannot run throws Unavailable with the reason; the table then says so instead of a number.
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { spawnChild, freePort, httpStatus, waitReady, stopChild, type Child } from './proc.ts';
import { ensureNginx, writeNginxConf, testNginxConf } from './nginx.ts';

/** Where and how the harness runs things. */
export interface BenchEnv {
  /** Repository root (cwd for the gateway). */
  root: string;
  /** Node 24 binary (process.execPath). */
  node: string;
  /** Loopback port of the fake upstream. */
  upstreamPort: number;
  /** Scratch directory for this run (nginx prefix, rules, audit files). */
  tmp: string;
  /** CPU list for proxies (taskset -c), or undefined when not pinning. */
  proxyCpus?: string;
  /** CPU list for multi-process proxies (gateway --workers 2), or undefined. */
  multiCpus?: string;
  /** Unique id of this run (quota user, so Redis counters from earlier runs never interfere). */
  runId: string;
  /** Redis URL for config 7. */
  redisUrl: string;
  /** Extra node flags for Node-based proxies (profiling: --cpu-prof …). */
  nodeFlags?: readonly string[];
  log: (s: string) => void;
}

/** A started contender: the URL to load and the request to send. */
export interface Running {
  /** Full URL of the chat completions endpoint. */
  url: string;
  headers: Record<string, string>;
  /** Non-streaming request body. */
  body: string;
  /** Streaming request body. */
  streamBody: string;
  /** The API it is called with: chat completions (default) or the Responses API (answers and streams look different). */
  api?: 'chat' | 'responses';
  /** Root pid of the proxy process tree (undefined for "direct"). */
  pid?: number;
  /** CPU list the proxy is pinned to, or "unpinned". */
  pinnedTo: string;
  /** Version or build information worth printing. */
  version?: string;
  stop(): Promise<void>;
}

/** Thrown by start() when a contender cannot run here; the message is the reason shown in the table. */
export class Unavailable extends Error {}

/** A contender definition. */
export interface Contender {
  /** Stable id used by --only/--skip and in the JSON. */
  id: string;
  /** Row number in the issue's list ("1", "2", …, "7b"); extras get "x". */
  num: string;
  label: string;
  /** One-line description for the README/report. */
  what: string;
  /** Comparison kind: used to pick targets. */
  role: 'direct' | 'direct-responses' | 'nginx' | 'bare' | 'bare-fetch' | 'portkey' | 'portkey-guard' | 'gw-pass' | 'gw-full'
    | 'gw-pass-responses' | 'gw-full-responses' | 'gw-redis' | 'gw-workers' | 'gw-console';
  /** Included in --quick. */
  quick: boolean;
  start(env: BenchEnv): Promise<Running>;
}

/** The user prompt: realistic support text in which none of the generated deny phrases occurs. */
export const PROMPT =
  'Hello, I bought a pair of running shoes from your shop last week and they do not fit well. ' +
  'Could you explain how your refund policy works, whether I need the original box, and how long it ' +
  'usually takes for the money to come back to my card? Thanks a lot for your help.';

/** The benchmark request of every configuration: a system message, PROMPT, policy "bench" and `user`. */
export function benchRequest(user: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'bench-model',
    messages: [
      { role: 'system', content: 'You are a helpful customer-support assistant.' },
      { role: 'user', content: PROMPT },
    ],
    policy_id: 'bench',
    policy_user: user,
    ...extra,
  };
}

/** The same request for the Responses API: the system message as `instructions`, PROMPT as `input`. */
export function benchResponsesRequest(user: string): Record<string, unknown> {
  return {
    model: 'bench-model',
    instructions: 'You are a helpful customer-support assistant.',
    input: PROMPT,
    policy_id: 'bench',
    policy_user: user,
  };
}

function bodies(env: BenchEnv, extra: Record<string, unknown> = {}, api: 'chat' | 'responses' = 'chat'): { body: string; streamBody: string } {
  const base = api === 'responses' ? benchResponsesRequest(`bench-${env.runId}`) : benchRequest(`bench-${env.runId}`, extra);
  return { body: JSON.stringify(base), streamBody: JSON.stringify({ ...base, stream: true }) };
}

function pinLabel(cpus?: string): string {
  return cpus ? `cpu ${cpus}` : 'unpinned';
}

/** Parse the port out of a JSON "listening" log line, if the line is one. */
function listeningPort(line: string): number | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const o = JSON.parse(line.slice(line.indexOf('{'))) as { port?: number };
    return typeof o.port === 'number' ? o.port : undefined;
  } catch {
    return undefined;
  }
}

function lastLines(s: string, n = 6): string {
  return s
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ')
    .slice(0, 600);
}

/** The policy diagnostics in a gateway's output (`error[POL0302]: unknown block "audit"`), deduplicated. */
export function policyErrors(output: string): string[] {
  const out = new Set<string>();
  for (const m of output.matchAll(/error\[(POL\d+)\]: ([^\n]*)/g)) out.add(`${m[1]} ${m[2].trim()}`);
  return [...out];
}

async function startOrExplain(child: Child, probe: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  // a gateway whose policy does not load may stay up (e.g. a cluster primary respawning workers): give up after 3 s
  const t0 = Date.now();
  const giveUp = (): string | undefined =>
    Date.now() - t0 > 3000 && policyErrors(child.output()).length > 0 ? 'reported policy errors and is not ready' : undefined;
  const why = await waitReady(child, probe, timeoutMs, giveUp);
  if (why) {
    await stopChild(child, 1000);
    const diags = policyErrors(child.output());
    const detail = diags.length > 0 ? `the policy does not load: ${diags.join('; ')}` : lastLines(child.output()) || 'no output';
    throw new Unavailable(`${what} ${why}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// 1. direct

const direct: Contender = {
  id: 'direct',
  num: '1',
  label: 'direct to upstream',
  what: 'the load generator talks straight to the fake upstream (no proxy): the ceiling of this machine',
  role: 'direct',
  quick: true,
  async start(env) {
    return {
      url: `http://127.0.0.1:${env.upstreamPort}/v1/chat/completions`,
      headers: { authorization: 'Bearer sk-bench' },
      ...bodies(env),
      pinnedTo: '—',
      stop: async () => {},
    };
  },
};

/** Direct to the upstream's /v1/responses: the ceiling of the Responses rows. */
const directResponses: Contender = {
  id: 'direct-responses',
  num: '1r',
  label: 'direct to upstream, /v1/responses',
  what: 'the same Responses API request straight to the fake upstream (the same answer text as a Response)',
  role: 'direct-responses',
  quick: false,
  async start(env) {
    return {
      url: `http://127.0.0.1:${env.upstreamPort}/v1/responses`,
      headers: { authorization: 'Bearer sk-bench' },
      ...bodies(env, {}, 'responses'),
      api: 'responses',
      pinnedTo: '—',
      stop: async () => {},
    };
  },
};

// ---------------------------------------------------------------------------------------------------------
// 2. nginx

const nginx: Contender = {
  id: 'nginx',
  num: '2',
  label: 'nginx proxy_pass (keep-alive upstream)',
  what: 'Debian nginx, worker_processes 1, upstream keepalive 64, HTTP/1.1 to the upstream, proxy_buffering off, no access log',
  role: 'nginx',
  quick: true,
  async start(env) {
    let bin: string;
    try {
      bin = ensureNginx(env.log);
    } catch (e) {
      throw new Unavailable((e as Error).message);
    }
    const port = await freePort();
    const prefix = path.join(env.tmp, 'nginx');
    const conf = writeNginxConf(prefix, port, env.upstreamPort);
    const bad = testNginxConf(bin, prefix, conf);
    if (bad) throw new Unavailable(`nginx -t rejected the generated config: ${bad.slice(0, 300)}`);
    const child = spawnChild('nginx', bin, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { cpus: env.proxyCpus });
    await startOrExplain(child, async () => (await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200, 'nginx');
    const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
    return {
      url: `http://127.0.0.1:${port}/v1/chat/completions`,
      headers: { authorization: 'Bearer sk-bench' },
      ...bodies(env),
      pid: child.pid,
      pinnedTo: pinLabel(env.proxyCpus),
      version: (v.stderr || v.stdout).trim().replace(/^nginx version:\s*/, ''),
      stop: () => stopChild(child),
    };
  },
};

// ---------------------------------------------------------------------------------------------------------
// 3. bare http-proxy-3 (native http path) and its fetch path

function bareProxy(fetchPath: boolean): Contender {
  return {
    id: fetchPath ? 'bare-fetch' : 'bare',
    num: fetchPath ? '3f' : '3',
    label: fetchPath ? 'bare http-proxy-3, fetch path (undici)' : 'bare http-proxy-3',
    what: fetchPath
      ? 'bench/bare-proxy.ts --fetch: the same ten lines on http-proxy-3\'s fetch code path (Node\'s built-in undici, keep-alive)'
      : 'bench/bare-proxy.ts: http-proxy-3 createProxyServer + http.Agent keep-alive, no policy (the floor of our stack)',
    role: fetchPath ? 'bare-fetch' : 'bare',
    quick: !fetchPath,
    async start(env) {
      let port: number | undefined;
      const args = [...(env.nodeFlags ?? []), path.join(env.root, 'bench/bare-proxy.ts'), `http://127.0.0.1:${env.upstreamPort}`, '0'];
      if (fetchPath) args.push('--fetch');
      const child = spawnChild(this.id, env.node, args, {
        cpus: env.proxyCpus,
        onLine: (l) => (port ??= listeningPort(l)),
      });
      await startOrExplain(child, async () => port !== undefined && (await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200, this.label);
      return {
        url: `http://127.0.0.1:${port}/v1/chat/completions`,
        headers: { authorization: 'Bearer sk-bench' },
        ...bodies(env),
        pid: child.pid,
        pinnedTo: pinLabel(env.proxyCpus),
        version: `http-proxy-3 ${pkgVersion(env.root, 'http-proxy-3')}`,
        stop: () => stopChild(child),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// 4. Portkey AI gateway (pass-through, and with a built-in guardrail)

function pkgVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The phrases the Portkey guardrail row checks with default.contains (a subset: headers are size-limited). */
const PORTKEY_GUARD_PHRASES = 200;

function portkey(guard: boolean): Contender {
  return {
    id: guard ? 'portkey-guard' : 'portkey',
    num: guard ? '4g' : '4',
    label: guard ? `Portkey gateway + contains guardrail (${PORTKEY_GUARD_PHRASES} phrases)` : 'Portkey gateway pass-through',
    what: guard
      ? `the same, with x-portkey-config input_guardrails [default.contains, operator "none", ${PORTKEY_GUARD_PHRASES} of the deny phrases, deny: true]`
      : '@portkey-ai/gateway build/start-server.js --headless, provider openai with x-portkey-custom-host pointing at the fake upstream',
    role: guard ? 'portkey-guard' : 'portkey',
    quick: !guard,
    async start(env) {
      const entry = path.join(env.root, 'node_modules/@portkey-ai/gateway/build/start-server.js');
      if (!existsSync(entry)) throw new Unavailable('@portkey-ai/gateway is not installed (npm ci)');
      const port = await freePort();
      const child = spawnChild(this.id, env.node, [...(env.nodeFlags ?? []), entry, `--port=${port}`, '--headless'], {
        cpus: env.proxyCpus,
        cwd: env.tmp,
      });
      await startOrExplain(child, async () => (await httpStatus(`http://127.0.0.1:${port}/`)) === 200, 'Portkey gateway');
      const customHost = `http://127.0.0.1:${env.upstreamPort}/v1`;
      const headers: Record<string, string> = { authorization: 'Bearer sk-bench' };
      if (guard) {
        const words = generatePhrases(PORTKEY_GUARD_PHRASES);
        headers['x-portkey-config'] = JSON.stringify({
          provider: 'openai',
          custom_host: customHost,
          input_guardrails: [{ 'default.contains': { operator: 'none', words }, deny: true }],
        });
      } else {
        headers['x-portkey-provider'] = 'openai';
        headers['x-portkey-custom-host'] = customHost;
      }
      return {
        url: `http://127.0.0.1:${port}/v1/chat/completions`,
        headers,
        ...bodies(env),
        pid: child.pid,
        pinnedTo: pinLabel(env.proxyCpus),
        version: `@portkey-ai/gateway ${pkgVersion(env.root, '@portkey-ai/gateway')}`,
        stop: () => stopChild(child),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// 5–7. Policy Gateway

/** Words for generated deny phrases; none of the three-word combinations occurs in PROMPT. */
const W1 = ['offshore', 'crypto', 'lottery', 'casino', 'payday', 'pyramid', 'miracle', 'unlicensed', 'counterfeit', 'illegal',
  'anonymous', 'secret', 'hidden', 'instant', 'guaranteed', 'unlimited', 'darknet', 'stolen', 'fake', 'bulk', 'wholesale', 'rigged',
  'insider', 'forged', 'untraceable'];
const W2 = ['bitcoin', 'betting', 'jackpot', 'loan', 'scheme', 'cure', 'pharmacy', 'handbag', 'passport', 'weapon', 'credential',
  'voucher', 'password', 'ticket', 'license', 'diploma', 'watch', 'coupon', 'account', 'token'];
const W3 = ['generator', 'exploit', 'dealer', 'broker', 'market', 'hack', 'mixer', 'kit', 'bundle', 'tutorial', 'service', 'supplier',
  'scanner', 'leak', 'dump', 'trick', 'method', 'bypass', 'cracker', 'farm'];

/** `n` distinct deterministic phrases (up to 10,000), none occurring in PROMPT. */
export function generatePhrases(n: number): string[] {
  const out: string[] = [];
  const prompt = PROMPT.toLowerCase();
  for (let i = 0; out.length < n && i < W1.length * W2.length * W3.length; i++) {
    // stride through the space so that prefixes vary (a matcher cannot win by sharing one long prefix)
    const k = (i * 7919) % (W1.length * W2.length * W3.length);
    const p = `${W1[k % W1.length]} ${W2[Math.floor(k / W1.length) % W2.length]} ${W3[Math.floor(k / (W1.length * W2.length))]}`;
    if (!prompt.includes(p)) out.push(p);
  }
  return out;
}

/** Environment for the gateway: no inherited gateway/Redis settings (the flags say everything). */
function gatewayEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('POLICY_GATEWAY_') || k === 'REDIS_URL' || k === 'LOG_LEVEL') continue;
    e[k] = v;
  }
  return e;
}

/**
 * Prepare the full-chain rules directory: bench/rules-full/*.policy copied, phrases.txt with 10,000 phrases,
 * and a policy key in bench.keys. Returns the directory and the key.
 */
async function prepareFullRules(env: BenchEnv): Promise<{ dir: string; key: string }> {
  const dir = path.join(env.tmp, 'rules-full');
  mkdirSync(dir, { recursive: true });
  const src = path.join(env.root, 'bench/rules-full');
  for (const f of readdirSync(src)) if (f.endsWith('.policy')) copyFileSync(path.join(src, f), path.join(dir, f));
  writeFileSync(path.join(dir, 'phrases.txt'), generatePhrases(10_000).join('\n') + '\n');
  const key = createKey(env, path.join(dir, 'bench.keys'));
  return { dir, key };
}

/**
 * Create a policy key with the gateway's own CLI (`policy-gateway keys create`, plugins/auth/README.md).
 * Throws Unavailable with the CLI's message when it cannot.
 */
export function createKey(env: Pick<BenchEnv, 'node' | 'root'>, file: string, what: readonly string[] = ['--label', 'bench', '--policy', 'bench']): string {
  const r = spawnSync(
    env.node,
    [path.join(env.root, 'src/cli/main.ts'), 'keys', 'create', ...what, '--file', file],
    { cwd: env.root, encoding: 'utf8', env: gatewayEnv(), timeout: 30_000 },
  );
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  // the key (pgk_<12-char id>_<secret>, plugins/auth/keys-file.ts) is printed once on stdout
  const m = /\bpgk_[A-Za-z0-9]{12}_[A-Za-z0-9]{32,128}\b/.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) {
    throw new Unavailable(`could not create a policy key with \`policy-gateway keys create\` (exit ${r.status}): ${lastLines(out, 3)}`);
  }
  return m[0];
}

interface GatewayOpts {
  rules: 'pass' | 'full';
  redis?: boolean;
  workers?: number;
  /** The endpoint measured: chat completions (default) or the Responses API. */
  api?: 'chat' | 'responses';
  /** Run the console (--console-keys) with one client reading the live decision stream for the whole measurement. */
  console?: boolean;
}

function gateway(id: string, num: string, label: string, what: string, role: Contender['role'], o: GatewayOpts): Contender {
  return {
    id,
    num,
    label,
    what,
    role,
    quick: true,
    async start(env) {
      const main = path.join(env.root, 'src/cli/main.ts');
      if (!existsSync(main)) throw new Unavailable('src/cli/main.ts does not exist yet');
      let rulesDir = path.join(env.root, 'bench/rules-pass');
      let key = '';
      // an explicit port: at --log-level warn the gateway does not print its "listening" line
      const port = await freePort();
      const args = [...(env.nodeFlags ?? []), main, 'serve', '--host', '127.0.0.1', '--port', String(port)];
      if (o.rules === 'full') {
        const prepared = await prepareFullRules(env);
        rulesDir = prepared.dir;
        key = prepared.key;
        args.push('--audit', path.join(env.tmp, `audit-${id}.log`));
      } else {
        args.push('--audit', 'off');
      }
      args.push('--rules', rulesDir, '--upstream', `http://127.0.0.1:${env.upstreamPort}/v1`, '--log-level', 'warn', '--no-watch');
      if (o.redis) args.push('--redis-url', env.redisUrl);
      if (o.workers && o.workers > 1) args.push('--workers', String(o.workers));
      let consoleOrigin = '';
      let adminKey = '';
      if (o.console) {
        const keys = path.join(env.tmp, `console-${id}.keys`);
        adminKey = createKey(env, keys, ['--label', 'bench-admin', '--policy', '*', '--grant', 'admin']);
        const consolePort = await freePort();
        consoleOrigin = `http://127.0.0.1:${consolePort}`;
        args.push('--console-keys', keys, '--console-listen', `127.0.0.1:${consolePort}`);
      }
      const cpus = o.workers && o.workers > 1 ? env.multiCpus : env.proxyCpus;
      const child = spawnChild(id, env.node, args, { cpus, cwd: env.root, env: gatewayEnv() });
      await startOrExplain(
        child,
        async () => (await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200,
        'policy-gateway serve',
        30_000,
      );
      let client: Child | undefined;
      if (o.console) {
        // Unpinned, like the load generator: the work measured is the gateway's fan-out, not this reader's.
        client = spawnChild(`${id}-client`, env.node, [path.join(env.root, 'bench/console-client.ts'), consoleOrigin, adminKey], { cwd: env.root });
        const why = await waitReady(client, async () => client!.output().includes('console client connected'), 10_000);
        if (why) { await stopChild(client, 1000); await stopChild(child, 5000); throw new Unavailable(`console client ${why}: ${lastLines(client.output())}`); }
      }
      const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : { authorization: 'Bearer sk-bench' };
      const api = o.api ?? 'chat';
      return {
        url: `http://127.0.0.1:${port}/policy/${api === 'responses' ? 'responses' : 'chat/completions'}`,
        headers,
        ...bodies(env, {}, api),
        api,
        pid: child.pid,
        pinnedTo: pinLabel(cpus),
        stop: async () => {
          if (client) await stopChild(client, 2000);
          await stopChild(child, 35_000);
        },
      };
    },
  };
}

/** Every contender, in table order. */
export const CONTENDERS: readonly Contender[] = [
  direct,
  directResponses,
  nginx,
  bareProxy(false),
  bareProxy(true),
  portkey(false),
  portkey(true),
  gateway('gw-pass', '5', 'Policy Gateway pass-through', 'policy-gateway serve, a policy with no blocks (`policy "bench" { default }`), audit off', 'gw-pass', { rules: 'pass' }),
  gateway(
    'gw-full',
    '6',
    'Policy Gateway full chain',
    'auth, quota (memory), topics (10,000 deny phrases), builtin moderation, redact response all, audit to a file',
    'gw-full',
    { rules: 'full' },
  ),
  gateway('gw-console', '6c', 'Policy Gateway full chain, console client connected',
    'config 6 with --console-keys and one client reading the live decision stream (/console/api/stream) throughout',
    'gw-console', { rules: 'full', console: true }),
  gateway('gw-pass-responses', '5r', 'Policy Gateway pass-through, /v1/responses', 'config 5 on the Responses API: the same request as instructions + input to /policy/responses',
    'gw-pass-responses', { rules: 'pass', api: 'responses' }),
  gateway('gw-full-responses', '6r', 'Policy Gateway full chain, /v1/responses',
    'config 6 on the Responses API (the same rules: every plugin reads the Responses input; the redactor rewrites its output events)',
    'gw-full-responses', { rules: 'full', api: 'responses' }),
  gateway('gw-redis', '7a', 'Policy Gateway full chain, Redis quotas', 'the full chain with --redis-url redis://127.0.0.1:6379', 'gw-redis', {
    rules: 'full',
    redis: true,
  }),
  gateway(
    'gw-workers2',
    '7b',
    'Policy Gateway full chain, Redis, --workers 2',
    'the full chain with Redis quotas and --workers 2 (node:cluster; both cores, not pinned)',
    'gw-workers',
    { rules: 'full', redis: true, workers: 2 },
  ),
];
