// The console's HTTP side, on its own listener (--console-listen, loopback by default): the page and its assets
// (public, no data), and the JSON/SSE API under /console/api/ behind an admin key. Refusals are OpenAI-shaped errors.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { E, GatewayError, toGatewayError } from '../errors.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { LastReload } from '../policy/store.ts';
import type { AdminKeys, ConsoleUser } from './admin-keys.ts';
import { FILTER_FIELDS, type DecisionFeed, type DecisionFilter, type FilterField } from './feed.ts';
import { ConsoleStats, type StatsSnapshot } from './stats.ts';

/** Where the page, styles and script live (served from memory, read once at start). */
const ASSETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };
/** Every answer: the page runs only its own script and styles, is never framed and never cached with data in it. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
/** Largest playground request body. */
export const PLAYGROUND_BODY_LIMIT = 1 << 20;
const MAX_FILTER_VALUE = 256;

/** What the playground runs (src/console/playground.ts); returns plain JSON or throws GatewayError. */
export type PlaygroundRunner = (input: unknown, set: CompiledPolicySet) => Promise<unknown>;

/** What a ConsoleServer reads. */
export interface ConsoleOptions {
  readonly feed: DecisionFeed;
  readonly keys: AdminKeys;
  readonly log: Logger;
  /** The serving rule set, its source texts and the last reload attempt (the PolicyStore). */
  readonly policies: { readonly current: CompiledPolicySet; readonly sources: ReadonlyMap<string, string>; readonly lastReload: LastReload | undefined };
  readonly playground: PlaygroundRunner;
  /** This process in a --workers N cluster (1-based id and N), or undefined for a single process. */
  readonly worker?: { readonly id: number; readonly of: number };
  /** In a cluster: every worker's counters (src/console/cluster-stats.ts), added up for the per-policy figures. */
  readonly clusterStats?: () => Promise<{ parts: StatsSnapshot[]; workers: number }>;
}

/** The console listener of one gateway process. */
export class ConsoleServer {
  readonly server: http.Server;
  readonly #o: ConsoleOptions;
  readonly #assets = new Map<string, { type: string; body: Buffer }>();
  #seq = 0;

  constructor(o: ConsoleOptions) {
    this.#o = o;
    for (const name of readdirSync(ASSETS_DIR)) {
      const type = TYPES[path.extname(name)];
      if (type) this.#assets.set(name, { type, body: readFileSync(path.join(ASSETS_DIR, name)) });
    }
    this.server = http.createServer({ keepAliveTimeout: 5000, requestTimeout: 30_000, headersTimeout: 10_000, requireHostHeader: false },
      (req, res) => this.#handle(req, res));
    this.server.maxConnections = 64;
    this.server.on('clientError', (_err: Error, socket: Socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'); else socket.destroy(); });
  }

  /** Starts listening; resolves to the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Ends live streams and closes the listener. */
  async close(): Promise<void> {
    this.#o.feed.close();
    await new Promise<void>((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const reqId = `console-${(++this.#seq).toString(36)}`;
    const method = req.method ?? 'GET';
    try {
      let url: URL;
      try { url = new URL(req.url ?? '/', 'http://console.invalid'); } catch { throw new GatewayError(E.GW_ERR_BAD_HTTP, ['the request target is not a valid path']); }
      const p = url.pathname;
      if (p === '/console' || p === '/console/') return this.#asset(res, 'index.html', method);
      if (p.startsWith('/console/assets/')) {
        const name = p.slice('/console/assets/'.length);
        if (this.#assets.has(name) && name !== 'index.html') return this.#asset(res, name, method);
      }
      if (p.startsWith('/console/api/')) return this.#api(req, res, p.slice('/console/api/'.length), url.searchParams, reqId);
      throw new GatewayError(E.GW_ERR_CONSOLE_NOT_FOUND, [method, p.slice(0, 200)]);
    } catch (e) {
      this.#error(req, res, toGatewayError(e), reqId);
    }
  }

  #asset(res: http.ServerResponse, name: string, method: string): void {
    if (method !== 'GET' && method !== 'HEAD') throw new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [method, '/console']);
    const a = this.#assets.get(name)!;
    res.writeHead(200, { 'content-type': a.type, 'content-length': a.body.length, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(method === 'HEAD' ? undefined : a.body);
  }

  #error(req: http.IncomingMessage, res: http.ServerResponse, err: GatewayError, reqId: string): void {
    if (err.status >= 500 && !err.expose) this.#o.log.error({ reqId, err: err.cause ?? err }, 'console request failed');
    if (!req.readableEnded) req.resume();
    if (res.headersSent) { res.end(); return; }
    const body = JSON.stringify(err.toJSON());
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': reqId, ...SECURITY_HEADERS };
    if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="policy-gateway console"';
    res.writeHead(err.status, headers);
    res.end(body);
  }

  #json(res: http.ServerResponse, value: unknown, reqId: string): void {
    const body = JSON.stringify(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-request-id': reqId, ...SECURITY_HEADERS });
    res.end(body);
  }

  #api(req: http.IncomingMessage, res: http.ServerResponse, route: string, q: URLSearchParams, reqId: string): void {
    const user = this.#o.keys.check(req.headers.authorization);
    const method = req.method ?? 'GET';
    const want = route === 'playground' ? 'POST' : 'GET';
    if (!['me', 'decisions', 'stream', 'stats', 'policies', 'playground'].includes(route)) throw new GatewayError(E.GW_ERR_CONSOLE_NOT_FOUND, [method, `/console/api/${route.slice(0, 100)}`]);
    if (method !== want) throw new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [method, `/console/api/${route}`]);
    const feed = this.#o.feed;
    switch (route) {
      case 'me': return this.#json(res, this.#me(user), reqId);
      case 'decisions': {
        const f = parseFilter(q, ['limit']);
        const limit = q.has('limit') ? parseLimit(q.get('limit')!, feed.limits.history) : feed.limits.history;
        return this.#json(res, { object: 'list', data: feed.recent(f, limit), dropped: feed.dropped, worker: this.#o.worker ?? null }, reqId);
      }
      case 'stream': {
        const f = parseFilter(q, []);
        if (feed.full) throw new GatewayError(E.GW_ERR_CONSOLE_BUSY, [feed.limits.clients]);
        req.resume();
        return feed.subscribe(res, f, { 'x-request-id': reqId, ...SECURITY_HEADERS });
      }
      case 'stats': { void this.#stats(res, reqId); return; }
      case 'policies': return this.#json(res, this.#policies(), reqId);
      case 'playground': { void this.#playground(req, res, reqId); return; }
    }
  }

  /**
   * The per-policy figures: this process's counters, or in a cluster every worker's added up (like /metrics); a
   * cluster that does not answer in time gets this worker's own, marked `aggregated: false`.
   */
  async #stats(res: http.ServerResponse, reqId: string): Promise<void> {
    const own = this.#o.feed.stats;
    const worker = this.#o.worker ?? null;
    let body: unknown = { since: new Date(own.startedAt).toISOString(), worker, aggregated: false, policies: own.view() };
    if (this.#o.clusterStats) {
      try {
        const { parts, workers } = await this.#o.clusterStats();
        const sum = new ConsoleStats();
        for (const p of parts) sum.absorb(p);
        const since = Math.min(...parts.map((p) => p.startedAt));
        body = { since: new Date(Number.isFinite(since) ? since : own.startedAt).toISOString(), worker, aggregated: true,
          workers: { answered: parts.length, running: workers }, policies: sum.view() };
      } catch (err) {
        this.#o.log.warn({ err }, 'console: cluster stats unavailable, showing this worker\'s own');
      }
    }
    if (!res.destroyed) this.#json(res, body, reqId);
  }

  #me(user: ConsoleUser): unknown {
    const set = this.#o.policies.current;
    return { label: user.label, key_id: user.id, worker: this.#o.worker ?? null, pid: process.pid, revision: set.revision, policies: set.policies.size };
  }

  #policies(): unknown {
    const { current: set, sources, lastReload } = this.#o.policies;
    const policies = [...set.policies.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((p) => ({
      id: p.id, file: p.file, line: p.line, description: p.description, is_default: p.isDefault, endpoints: p.endpoints,
      plugins: p.plugins.map((x) => x.name), source: sources.get(p.file) ?? null,
    }));
    const lr = lastReload && {
      result: lastReload.result, at: new Date(lastReload.at).toISOString(), rendered: lastReload.rendered,
      diagnostics: lastReload.diagnostics.map((d) => ({ code: d.code, severity: d.severity, message: d.message, file: d.span.file, line: d.span.start.line, col: d.span.start.col })),
    };
    return { revision: set.revision, loaded_at: new Date(set.loadedAt).toISOString(), default_policy: set.defaultPolicyId, files: set.files, last_reload: lr ?? null, policies };
  }

  async #playground(req: http.IncomingMessage, res: http.ServerResponse, reqId: string): Promise<void> {
    try {
      const type = String(req.headers['content-type'] ?? '');
      if (!/^application\/json\b/i.test(type)) throw new GatewayError(E.GW_ERR_UNSUPPORTED_MEDIA_TYPE);
      const text = await readBody(req, PLAYGROUND_BODY_LIMIT);
      let input: unknown;
      try { input = JSON.parse(text); } catch (e) { throw new GatewayError(E.GW_ERR_BAD_JSON, [(e as Error).message]); }
      const result = await this.#o.playground(input, this.#o.policies.current);
      this.#json(res, result, reqId);
    } catch (e) {
      this.#error(req, res, toGatewayError(e), reqId);
    }
  }
}

/** The filter of a query string: FILTER_FIELDS, exact values; anything else but `allowed` is a 400. */
export function parseFilter(q: URLSearchParams, allowed: readonly string[]): DecisionFilter {
  const f: DecisionFilter = {};
  for (const [k, v] of q) {
    if (allowed.includes(k)) continue;
    if (!(FILTER_FIELDS as readonly string[]).includes(k)) {
      throw new GatewayError(E.GW_ERR_CONSOLE_BAD_REQUEST, [`unknown filter "${k.slice(0, 64)}": filter on ${FILTER_FIELDS.join(', ')}`]);
    }
    if (v === '') continue;
    if (v.length > MAX_FILTER_VALUE) throw new GatewayError(E.GW_ERR_CONSOLE_BAD_REQUEST, [`filter "${k}" is longer than ${MAX_FILTER_VALUE} characters`]);
    f[k as FilterField] = v;
  }
  return f;
}

function parseLimit(v: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new GatewayError(E.GW_ERR_CONSOLE_BAD_REQUEST, [`limit must be an integer from 1 to ${max}`]);
  return n;
}

/** Reads a request body of at most `limit` bytes (413 beyond it). */
function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) { reject(new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [limit])); return; }
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) { req.removeAllListeners('data'); req.resume(); reject(new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [limit])); return; }
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
