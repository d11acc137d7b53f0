// The HTTP edge: routes, body reading and validation, the plugin chain, proxying through http-proxy-3
// (selfHandleResponse) and the JSON/SSE response transforms. The only module that touches req/res and the proxy.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import net, { type AddressInfo, type Socket } from 'node:net';
import httpProxy from 'http-proxy-3';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { E, GatewayError, toGatewayError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { parseChatRequest } from './request.ts';
import { RequestCtx, policyBlock } from './context.ts';
import { ChainRunner } from './chain/run-chain.ts';
import { SseDecoder, SSE_DONE, sseData, type SseEvent } from './chain/sse.ts';
import { DEFAULT_MAX_JSON_DEPTH, jsonNestsDeeper, jsonTextNestsDeeper } from './json-depth.ts';
import { createDecoder, decodeBody, DecodeError, parseContentEncoding, type Coding } from './content-encoding.ts';
import type { UpstreamRouter, Upstream } from './upstream/routes.ts';
import type { CompiledPolicy, CompiledPolicySet } from './policy/types.ts';
import type { GatewayServices } from './sdk/context.ts';
import type { Outcome } from './sdk/plugin.ts';
import type { ChatCompletion, ChatCompletionChunk } from './sdk/types.ts';

/** Where the serving rule set comes from (the hot-reloading PolicyStore in production). */
export interface PolicySource {
  readonly current: CompiledPolicySet | undefined;
}

/** Record written for every request that ends, whatever happened (the auditor and access log build on it). */
export interface RequestEnd {
  readonly ctx: RequestCtx | undefined;
  readonly reqId: string;
  readonly route: string;
  readonly status: number;
  readonly error: GatewayError | undefined;
  readonly durationMs: number;
  /** Revision of the rule set serving when the request ended, if any is loaded. */
  readonly revision: string | undefined;
}

export interface GatewayOptions {
  readonly policies: PolicySource;
  readonly router: UpstreamRouter;
  readonly metrics: Metrics;
  readonly services: GatewayServices;
  readonly log: Logger;
  readonly bodyLimit: number;
  /** Deepest nesting of arrays and objects accepted in a request body and in upstream JSON (default 64). */
  readonly maxJsonDepth?: number;
  /** Time a client has to send a request's headers and body; then 408 (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** A connection with no bytes moving either way for this long is closed (default 0: never). */
  readonly idleTimeoutMs?: number;
  /** Open client connections on the main listener; beyond it new ones get a fast 503 (default: unlimited). */
  readonly maxConnections?: number;
  /** Connections accepted past maxConnections that may only use /healthz, /readyz and /metrics (default 32). */
  readonly opsReserve?: number;
  /** Largest upstream answer held at once: a JSON answer or error body, one SSE event, decoded (default 64 MiB). */
  readonly upstreamBodyLimit?: number;
  readonly upstreamTimeoutMs: number;
  readonly pluginTimeoutMs: number;
  /**
   * How http-proxy-3 reaches the upstream: `undici` (default) uses its fetch code path, the call dispatched on an
   * undici Pool (`UndiciCall`: measured ~30% less CPU per request), `http` its native node:http path with a
   * keep-alive Agent.
   */
  readonly upstreamClient?: 'undici' | 'http';
  readonly defaultPolicy: string | undefined;
  readonly now?: () => number;
  /** /metrics text (cluster workers ask the primary for the aggregate). */
  readonly metricsText?: () => Promise<string>;
  /** Models to list when an upstream's /models cannot be read (the demo's, or configured exact names). */
  readonly fallbackModels?: readonly string[];
  /** Projects that keep their own value of the `project` metric label; any other becomes `other` (bounded labels). */
  readonly metricProjects?: ReadonlySet<string>;
  /** Called once per finished request that did not reach a policy chain (the auditor records those too). */
  readonly onUnchainedEnd?: (end: RequestEnd) => void;
}

type Route = 'policy' | 'v1';

/**
 * Per-request bookkeeping the proxy event handlers need, hung on the IncomingMessage. It is also the upstream call's
 * abort source: undici accepts any object with `on`/`once`/`removeListener` as `signal`, so no AbortController (and
 * its EventTarget machinery) is created per request; `RequestCtx.signal` makes one only for plugins that ask.
 */
class Flight {
  ctx: RequestCtx;
  policy: CompiledPolicy;
  upstream: Upstream;
  stream: boolean;
  /** Gateway processing time after the upstream answered (ms). */
  postMs = 0;
  ended = false;
  error: GatewayError | undefined = undefined;
  synthesized = false;
  upstreamCalled = false;
  proxyReq: http.ClientRequest | undefined = undefined;
  /** undici client path: what goes upstream, and the upstream body once the head arrived. */
  upstreamHeaders: Record<string, string> | undefined = undefined;
  payload: Buffer | undefined = undefined;
  upstreamBody: Readable | UndiciCall | undefined = undefined;
  /** undici client path: the upstream call (aborted through it when the client leaves). */
  call: UndiciCall | undefined = undefined;
  /** The client's body when it may go upstream byte for byte (no policy_* fields, not streamed), else undefined. */
  rawBody: Buffer | undefined;
  /** The response, and the links of the gateway's list of open flights (cut when a graceful stop runs out of time). */
  res: http.ServerResponse | undefined = undefined;
  prev: Flight | undefined = undefined;
  next: Flight | undefined = undefined;

  constructor(ctx: RequestCtx, policy: CompiledPolicy, stream: boolean, rawBody: Buffer | undefined) {
    this.ctx = ctx;
    this.policy = policy;
    this.upstream = undefined as unknown as Upstream;
    this.stream = stream;
    this.rawBody = rawBody;
  }

  /** The client went away: abort the request's signal (if a plugin made one) and the upstream call. */
  abort(reason: Error): void {
    this.ctx.abort(reason);
    this.call?.abort(reason);
  }
}

type Listener = ((arg: never) => void) | undefined;

/**
 * One upstream request on undici's dispatch API, with the little of a Readable the response handlers use (`on`
 * 'data'/'end'/'error' with one listener each, `pause`/`resume`/`destroy`, `statusCode`/`headers`). Compared with
 * `pool.request()`, there is no Readable, AsyncResource or promise per request — and no garbage that lives long
 * enough to be promoted (measured: request() made scavenges copy ~20% of the young generation under load).
 * Chunks that arrive before a 'data' listener is attached are kept and replayed on attach; an 'end' or 'error'
 * that happened before its listener is attached is delivered on attach.
 */
class UndiciCall implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: http.IncomingHttpHeaders = NO_HEADERS;
  destroyed = false;
  #controller: Dispatcher.DispatchController | undefined = undefined;
  #abortReason: Error | undefined = undefined;
  #head: { resolve: (c: UndiciCall) => void; reject: (e: Error) => void } | undefined;
  #buffered: Buffer[] | undefined = undefined;
  #ended = false;
  #error: Error | undefined = undefined;
  #discard = false;
  #onData: ((c: Buffer) => void) | undefined = undefined;
  #onEnd: (() => void) | undefined = undefined;
  #onError: ((e: Error) => void) | undefined = undefined;
  readonly head: Promise<UndiciCall>;

  constructor() {
    this.head = new Promise((resolve, reject) => { this.#head = { resolve, reject }; });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: http.IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    const h = this.#head!;
    this.#head = undefined;
    h.resolve(this);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#onData !== undefined) this.#onData(chunk);
    else if (!this.#discard) (this.#buffered ??= []).push(chunk);
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#onEnd?.();
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.#head) {
      const h = this.#head;
      this.#head = undefined;
      h.reject(err);
      return;
    }
    this.#error = err;
    this.#onError?.(err);
  }

  on(event: 'data' | 'end' | 'error', fn: Listener): this {
    if (event === 'data') {
      this.#onData = fn as (c: Buffer) => void;
      const b = this.#buffered;
      this.#buffered = undefined;
      if (b) for (const c of b) this.#onData(c);
    } else if (event === 'end') {
      this.#onEnd = fn as () => void;
      if (this.#ended) this.#onEnd();
    } else {
      this.#onError = fn as (e: Error) => void;
      if (this.#error) this.#onError(this.#error);
    }
    return this;
  }

  /** Without a 'data' listener: drain and drop the body (the connection stays reusable). */
  resume(): this {
    if (this.#onData === undefined) { this.#discard = true; this.#buffered = undefined; }
    this.#controller?.resume();
    return this;
  }

  pause(): this {
    this.#controller?.pause();
    return this;
  }

  abort(reason: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.#ended || this.#error) return; // already over: nothing to abort
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  destroy(): this {
    this.abort(new Error('upstream response discarded'));
    return this;
  }
}

const FLIGHT = Symbol('flight');
/** Connections accepted into the ops reserve: while the gateway is over --max-connections they may only use ops routes. */
const OPS_ONLY = new WeakSet<Socket>();
const OVERLOADED_BODY = JSON.stringify(new GatewayError(E.GW_ERR_OVERLOADED).toJSON());
/** The whole answer to a connection past the reserve, written before any request is read. */
const OVERLOADED_RESPONSE = Buffer.from(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(OVERLOADED_BODY)}\r\n`
  + `retry-after: 1\r\nconnection: close\r\n\r\n${OVERLOADED_BODY}`);
const isOpsRoute = (kind: string): boolean => kind === 'healthz' || kind === 'readyz' || kind === 'metrics';
const noop = (): void => {};
/** Sockets whose parser error was answered (llhttp keeps failing on every later chunk: answer once). */
const HANDLED = new WeakSet<Socket>();
type Req = http.IncomingMessage & { [FLIGHT]?: Flight };

const JSON_TYPE = 'application/json';
const NO_HEADERS: http.IncomingHttpHeaders = Object.freeze({}) as http.IncomingHttpHeaders;
const NO_ENTRIES = Object.freeze({ entries: () => [] as [string, string][] });
const REQ_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * What a parser error says to the client, by llhttp error code: fixed texts, never the bytes that were refused.
 * Anything else: "the request could not be parsed".
 */
const PARSE_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  HPE_INVALID_METHOD: 'unknown method',
  HPE_INVALID_URL: 'invalid request target',
  HPE_INVALID_CONSTANT: 'invalid request line',
  HPE_INVALID_VERSION: 'invalid HTTP version or request line',
  HPE_INVALID_HEADER_TOKEN: 'invalid character in a header name or value (control characters, NUL, obs-fold line continuations)',
  HPE_LF_EXPECTED: 'a line ending without CRLF (bare CR) in the request head',
  HPE_CR_EXPECTED: 'a line ending without CRLF in the request head',
  HPE_UNEXPECTED_SPACE: 'unexpected whitespace in the request head',
  HPE_INVALID_CONTENT_LENGTH: 'invalid Content-Length',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'conflicting or repeated Content-Length headers',
  HPE_INVALID_TRANSFER_ENCODING: 'invalid Transfer-Encoding, or Transfer-Encoding together with Content-Length',
  HPE_INVALID_CHUNK_SIZE: 'invalid chunk size in a chunked body',
  HPE_STRICT: 'the request head breaks HTTP/1.1 framing rules',
  HPE_INVALID_EOF_STATE: 'the connection ended in the middle of the request',
  HPE_CLOSED_CONNECTION: 'data after a request that closed the connection',
});

/** Lingering close after an early answer (413): how long, and how much of the rest of an upload, is read and dropped. */
const LINGER_MS = 5000;
const LINGER_BYTES = 64 * 1024 * 1024;
/** Request ids: a random per-process prefix plus a counter — unique across replicas, no entropy drawn per request. */
const REQ_ID_PREFIX = `${randomBytes(6).toString('hex')}-`;
let reqSeq = 0;

/**
 * Metric child keys built once and reused: a reused string keeps its hash, so the children Map lookup does no
 * concatenation or hashing per request.
 */
const ROUTE_KEYS: Record<Route, { stream: readonly [string, string]; status: string[] }> = {
  policy: { stream: ['policy\0false', 'policy\0true'], status: [] },
  v1: { stream: ['v1\0false', 'v1\0true'], status: [] },
};

type PolicyInfo = { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
const POLICY_INFO = new WeakMap<CompiledPolicy, PolicyInfo>();

/** `ctx.policy` for a policy and rule-set revision: one frozen object per policy, not one per request. */
function policyInfo(p: CompiledPolicy, revision: string): PolicyInfo {
  let info = POLICY_INFO.get(p);
  if (info === undefined || info.revision !== revision) {
    info = Object.freeze({ id: p.id, file: p.file, line: p.line, revision });
    POLICY_INFO.set(p, info);
  }
  return info;
}

function routeOf(path: string): { kind: 'chat'; route: Route } | { kind: 'models' | 'metrics' | 'healthz' | 'readyz' } | undefined {
  switch (path) {
    case '/policy/chat/completions': return { kind: 'chat', route: 'policy' };
    case '/v1/chat/completions': return { kind: 'chat', route: 'v1' };
    case '/v1/models': case '/policy/models': return { kind: 'models' };
    case '/metrics': return { kind: 'metrics' };
    case '/healthz': return { kind: 'healthz' };
    case '/readyz': return { kind: 'readyz' };
    default: return undefined;
  }
}

/** The gateway: an http.Server plus lifecycle. Create with `createGateway`, then `listen`. */
export class Gateway {
  readonly server: http.Server;
  readonly #o: GatewayOptions;
  readonly #runner: ChainRunner;
  readonly #proxy: httpProxy.ProxyServer;
  readonly #now: () => number;
  readonly #undici: boolean;
  readonly #maxDepth: number;
  readonly #upstreamLimit: number;
  #inflight = 0;
  /** Chained requests not yet complete: an intrusive list (no allocation per request), newest first. */
  #flights: Flight | undefined = undefined;
  /** Accepts client connections and hands them to `server` (counting them against maxConnections first). */
  readonly #acceptor: net.Server;
  /** The --ops-listen server, when started. */
  #ops: http.Server | undefined;
  #open = 0;
  readonly #maxConn: number;
  readonly #reserve: number;
  #overloadLoggedAt = 0;
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;
  #modelsCache: { at: number; body: string } | undefined;
  /** Per upstream: its metric child keys for stream false/true (see ROUTE_KEYS). */
  readonly #upstreamKeys: Map<Upstream, readonly [string, string]>;
  #ready: { at: number; ok: boolean; reason: string } | undefined;

  constructor(o: GatewayOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#maxDepth = o.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
    this.#upstreamLimit = o.upstreamBodyLimit ?? 64 * 1024 * 1024;
    this.#runner = new ChainRunner(o.metrics, o.pluginTimeoutMs);
    this.#upstreamKeys = new Map(o.router.upstreams.map((u) => [u, [`${u.name}\0false`, `${u.name}\0true`] as const]));
    this.#undici = (o.upstreamClient ?? 'undici') === 'undici';
    this.#proxy = httpProxy.createProxyServer({
      // prependPath false: the path comes from the upstream's chatUrl in #undiciFetch, so http-proxy-3 need not parse it.
      selfHandleResponse: true, ignorePath: true, changeOrigin: true, xfwd: false, prependPath: !this.#undici,
      ...(this.#undici ? {
        fetch: this.#undiciFetch as unknown as typeof fetch,
        fetchOptions: {
          // A non-empty header source makes http-proxy-3 skip copying request headers into a WHATWG Headers object:
          // the undici request uses the gateway's own upstream header set.
          requestOptions: { headers: { 'x-policy-gateway': '1' } },
          onBeforeRequest: async (init: RequestInit, req: Req) => { (init as { flight?: Flight }).flight = req[FLIGHT]; },
          onAfterResponse: async (response: Response, req: Req, res: http.ServerResponse) => this.#onUndiciResponse(response, req, res),
        },
      } : {}),
    });
    this.#proxy.on('proxyReq', (proxyReq: http.ClientRequest, req: Req) => this.#onProxyReq(proxyReq, req));
    this.#proxy.on('proxyRes', (proxyRes: http.IncomingMessage, req: Req, res: http.ServerResponse) => {
      if (!this.#undici) this.#onProxyRes(proxyRes, req, res);
    });
    this.#proxy.on('error', (err: Error, req: Req, res: http.ServerResponse | import('node:net').Socket) => this.#onProxyError(err, req, res as http.ServerResponse));
    this.#proxy.on('econnreset', () => { /* client went away; res 'close' handles completion */ });
    // requestTimeout: the whole request (headers and body) must arrive in time, else 408 (#onClientError); Node checks
    // it every connectionsCheckingInterval. timeout: a socket with no bytes moving either way is closed (a client that
    // stops reading its answer). requireHostHeader: false — a missing Host is answered by #handle, OpenAI-shaped and
    // audited, not by Node's bare 400.
    const requestTimeout = o.requestTimeoutMs ?? 60_000;
    const headersTimeout = Math.min(60_000, requestTimeout);
    this.server = http.createServer({
      keepAliveTimeout: 65_000, requestTimeout, headersTimeout, requireHostHeader: false,
      connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(headersTimeout / 4))),
    }, (req, res) => this.#handle(req as Req, res));
    if (o.idleTimeoutMs) this.server.timeout = o.idleTimeoutMs;
    this.#maxConn = o.maxConnections ?? Infinity;
    this.#reserve = o.opsReserve ?? 32;
    this.#acceptor = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(err, socket));
    // Any other expectation: an OpenAI-shaped, audited 417 instead of Node's bare one.
    this.server.on('checkExpectation', (req: Req, res: http.ServerResponse) => {
      this.#unchained(req, res, REQ_ID_PREFIX + (++reqSeq).toString(36), 'unknown', performance.now(), new GatewayError(E.GW_ERR_EXPECTATION_FAILED), { connection: 'close' });
    });
    // Expect: 100-continue: a body declared over the limit is refused before the client sends it; others get 100.
    this.server.on('checkContinue', (req: Req, res: http.ServerResponse) => {
      if (!(Number(req.headers['content-length']) > this.#o.bodyLimit)) res.writeContinue();
      this.#handle(req, res);
    });
  }

  /** Starts listening; resolves to the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#acceptor.once('error', reject);
      this.#acceptor.listen(port, host, () => {
        this.#acceptor.off('error', reject);
        // The HTTP server never listens itself (the acceptor feeds it): 'listening' starts its timeout checks.
        this.server.emit('listening');
        resolve((this.#acceptor.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Also serves /healthz, /readyz and /metrics — and nothing else — on a second address, for probes and scrapers that
   * must not share the client connection limit. Resolves to the bound port.
   */
  listenOps(port: number, host: string): Promise<number> {
    const ops = http.createServer({ keepAliveTimeout: 5000, requestTimeout: 10_000, headersTimeout: 10_000, requireHostHeader: false },
      (req, res) => this.#handle(req as Req, res, true));
    ops.maxConnections = Math.max(16, this.#reserve);
    ops.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(err, socket));
    this.#ops = ops;
    return new Promise((resolve, reject) => {
      ops.once('error', reject);
      ops.listen(port, host, () => {
        ops.off('error', reject);
        resolve((ops.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Every client connection: counted, then handed to the HTTP server. Past maxConnections, the next `opsReserve`
   * connections are still read, but only ops routes answer on them (#handle); past that, a canned 503 is written and
   * the connection closed before any request is read — a fast answer that costs no parser and holds no descriptor.
   */
  #onConnection(socket: Socket): void {
    const open = ++this.#open;
    socket.once('close', this.#onConnectionClose);
    this.#o.metrics.openConnections.inc();
    if (open <= this.#maxConn) { this.server.emit('connection', socket); return; }
    this.#noteOverload(open);
    if (open <= this.#maxConn + this.#reserve) {
      OPS_ONLY.add(socket);
      this.server.emit('connection', socket);
      return;
    }
    this.#o.metrics.connectionsRejected.inc();
    socket.on('error', noop);
    socket.end(OVERLOADED_RESPONSE);
    socket.resume(); // read and drop whatever the client sends, so closing does not reset the answer away
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  readonly #onConnectionClose = (): void => {
    this.#open--;
    this.#o.metrics.openConnections.dec();
  };

  /** Logs that the connection limit is reached, at most every 10 s. */
  #noteOverload(open: number): void {
    const now = this.#now();
    if (now - this.#overloadLoggedAt < 10_000) return;
    this.#overloadLoggedAt = now;
    this.#o.log.warn({ open, maxConnections: this.#maxConn, opsReserve: this.#reserve }, 'connection limit reached: new connections get 503 (ops routes still answer within the reserve)');
  }

  /** Requests currently being answered. */
  get inflight(): number {
    return this.#inflight;
  }

  /**
   * Graceful stop: refuse new connections, answer new requests on open connections with 503, let in-flight
   * requests (streams included) finish up to `graceMs`, then close everything. Requests still running when the grace
   * period ends are cut: a stream ends with an error event, a request still waiting for its answer gets a 503
   * (GW_ERR_SHUTDOWN_CUT); `cut` counts them. Resolves when done.
   */
  async shutdown(graceMs: number): Promise<{ drained: boolean; cut: number }> {
    this.#shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.#acceptor.close(() => resolve()));
    this.server.close(); // never listened itself: this only stops its timeout checks and closes idle connections
    this.server.closeIdleConnections();
    let drained = true;
    if (this.#inflight > 0) {
      drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), graceMs);
        this.#drainWaiters.push(() => { clearTimeout(timer); resolve(true); });
      });
    }
    let cut = 0;
    if (!drained) {
      cut = this.#cutFlights();
      // Let the error answers reach the clients before the sockets go (bounded: 1 s).
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          this.#drainWaiters.push(() => { clearTimeout(timer); resolve(); });
        });
      }
    }
    this.server.closeAllConnections();
    await closed;
    if (this.#ops) {
      const ops = this.#ops;
      await new Promise<void>((resolve) => { ops.close(() => resolve()); ops.closeAllConnections(); });
    }
    this.#proxy.close?.();
    return { drained, cut };
  }

  /** Ends every open chained request with GW_ERR_SHUTDOWN_CUT (its upstream call aborted); returns how many. */
  #cutFlights(): number {
    let n = 0;
    for (let f = this.#flights; f !== undefined; f = f.next) {
      if (f.ended || f.res === undefined) continue;
      n++;
      this.#fail(f.res, f, new GatewayError(E.GW_ERR_SHUTDOWN_CUT));
    }
    return n;
  }

  // ---- request entry -------------------------------------------------------------------------

  #handle(req: Req, res: http.ServerResponse, opsOnly = false): void {
    const start = performance.now();
    const startedAt = this.#now();
    const inId = req.headers['x-request-id'];
    const reqId = typeof inId === 'string' && REQ_ID_RE.test(inId) ? inId : REQ_ID_PREFIX + (++reqSeq).toString(36);
    // X-Request-Id goes into each answer's writeHead (cheaper than setHeader + merge); the GET routes below set it here.
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const r = routeOf(path);
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      return this.#unchained(req, res, reqId, r === undefined ? 'unknown' : r.kind === 'chat' ? r.route : r.kind, start, new GatewayError(E.GW_ERR_BAD_HTTP, ['an HTTP/1.1 request needs a Host header']), { connection: 'close' });
    }
    if (!r) return this.#unchained(req, res, reqId, 'unknown', start, new GatewayError(E.GW_ERR_ROUTE_NOT_FOUND, [req.method ?? 'GET', path]));
    if (this.#open > this.#maxConn && !isOpsRoute(r.kind) && OPS_ONLY.has(req.socket)) {
      return this.#unchained(req, res, reqId, r.kind === 'chat' ? r.route : r.kind, start, new GatewayError(E.GW_ERR_OVERLOADED), { connection: 'close', 'retry-after': '1' });
    }
    if (opsOnly && !isOpsRoute(r.kind)) {
      return this.#unchained(req, res, reqId, r.kind === 'chat' ? r.route : r.kind, start, new GatewayError(E.GW_ERR_ROUTE_NOT_FOUND, [req.method ?? 'GET', path]));
    }
    if (r.kind === 'chat') {
      if (req.method !== 'POST') return this.#unchained(req, res, reqId, r.route, start, new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [req.method ?? '', path]), { allow: 'POST' });
      this.#chat(req, res, r.route, reqId, start, startedAt);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.#unchained(req, res, reqId, r.kind, start, new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [req.method ?? '', path]), { allow: 'GET' });
    }
    req.resume();
    res.setHeader('x-request-id', reqId);
    switch (r.kind) {
      case 'healthz': return this.#sendJson(res, this.#shuttingDown ? 503 : 200, this.#shuttingDown ? '{"status":"shutting_down"}' : '{"status":"ok"}');
      case 'readyz': void this.#readyz(res); return;
      case 'metrics': void this.#metricsRoute(res); return;
      case 'models': void this.#models(res, reqId); return;
    }
  }

  /**
   * Node's HTTP parser refused a request (or its request timeout fired): answer on the raw socket with an OpenAI-shaped
   * 400/408/431 and `Connection: close`, record it once (metrics, log, audit), and close. Nothing was forwarded: the
   * request never reached a route. A socket whose response already started is only closed.
   */
  #onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (HANDLED.has(socket)) return; // llhttp reports again for every later chunk on a failed parser
    HANDLED.add(socket);
    const code = err.code ?? '';
    const pending = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || pending?.headersSent) { socket.destroy(); return; }
    const ge = code === 'HPE_HEADER_OVERFLOW' ? new GatewayError(E.GW_ERR_HEADERS_TOO_LARGE, [http.maxHeaderSize])
      : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new GatewayError(E.GW_ERR_REQUEST_TIMEOUT, [`${this.server.requestTimeout / 1000} s`])
        : new GatewayError(E.GW_ERR_BAD_HTTP, [PARSE_ERRORS[code] ?? 'the request could not be parsed']);
    const reqId = REQ_ID_PREFIX + (++reqSeq).toString(36);
    const body = JSON.stringify(ge.toJSON());
    socket.end(`HTTP/1.1 ${ge.status} ${http.STATUS_CODES[ge.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
      + `x-request-id: ${reqId}\r\nconnection: close\r\n\r\n${body}`);
    // Whatever the client still sends is read (and dropped by the failed parser) for a moment, so closing does not reset
    // the answer away; then the socket goes.
    setTimeout(() => socket.destroy(), 1000).unref();
    const url = pending?.req?.url;
    const r = url === undefined ? undefined : routeOf(url.split('?', 1)[0]!);
    const route = r === undefined ? 'unknown' : r.kind === 'chat' ? r.route : r.kind;
    const durationMs = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? this.server.requestTimeout : 0;
    this.#o.metrics.requests.byKey(`${route}\0${ge.status}`).inc();
    this.#o.log.info({ reqId, route, status: ge.status, code: ge.code, parserCode: code }, 'request rejected');
    this.#o.onUnchainedEnd?.({ ctx: undefined, reqId, route, status: ge.status, error: ge, durationMs, revision: this.#o.policies.current?.revision });
  }

  #sendJson(res: http.ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
    if (res.headersSent) { res.end(); return; }
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  /**
   * Answers an error for a request that never reached a policy chain, and records it. `linger`: the client may still
   * be sending its body — see #sendLingering.
   */
  #unchained(req: Req, res: http.ServerResponse, reqId: string, route: string, start: number, err: GatewayError, extra?: Record<string, string>, ctx?: RequestCtx, linger = false): void {
    if (!req.readableEnded) req.resume();
    this.#inflight++;
    res.once('close', () => {
      const durationMs = performance.now() - start;
      this.#o.metrics.requests.byKey(`${route}\0${err.status}`).inc();
      this.#o.log.info({ reqId, route, status: err.status, code: err.code, durationMs: Math.round(durationMs * 1000) / 1000 }, 'request rejected');
      this.#o.onUnchainedEnd?.({ ctx, reqId, route, status: err.status, error: err, durationMs, revision: this.#o.policies.current?.revision });
      this.#done();
    });
    if (linger && !req.readableEnded) this.#sendLingering(req, res, err, reqId);
    else this.#sendError(res, err, reqId, extra);
  }

  /**
   * Sends a whole error answer with `Connection: close` at once, but ends the response — after which Node closes the
   * socket — only when the client's upload is over. Closing a socket that still has unread input makes the kernel
   * send a reset, which can destroy the answer in the client's buffers before it is read (a 4 MB upload against a
   * 64 KB limit: every Node fetch saw "connection reset"). So the rest of the body is read and dropped — nginx's
   * lingering close — for at most LINGER_MS and LINGER_BYTES, then the socket is closed regardless.
   */
  #sendLingering(req: Req, res: http.ServerResponse, err: GatewayError, reqId: string): void {
    const body = JSON.stringify(err.toJSON());
    res.writeHead(err.status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': reqId, connection: 'close' });
    res.write(body);
    let drained = 0;
    const end = (cut: boolean) => {
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
      if (cut) req.socket?.destroy();
    };
    const timer = setTimeout(end, LINGER_MS, true);
    req.on('data', (c: Buffer) => { drained += c.length; if (drained > LINGER_BYTES) end(true); });
    req.once('end', () => end(false));
    res.once('close', () => clearTimeout(timer));
  }

  #sendError(res: http.ServerResponse, err: GatewayError, reqId: string, extra?: Record<string, string>): void {
    const body = JSON.stringify(err.toJSON());
    if (res.headersSent) {
      if (!res.writableEnded) res.end(sseData(body));
      return;
    }
    const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': reqId };
    if (err.headers) Object.assign(headers, err.headers);
    if (extra) Object.assign(headers, extra);
    if (this.#shuttingDown) headers.connection = 'close';
    res.writeHead(err.status, headers);
    res.end(body);
  }

  #done(): void {
    if (--this.#inflight === 0 && this.#drainWaiters.length) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  // ---- chat completions ----------------------------------------------------------------------

  #chat(req: Req, res: http.ServerResponse, route: Route, reqId: string, start: number, startedAt: number): void {
    if (this.#shuttingDown) return this.#unchained(req, res, reqId, route, start, new GatewayError(E.GW_ERR_SHUTTING_DOWN));
    const ct = req.headers['content-type'];
    if (!ct || !(ct === JSON_TYPE || ct.startsWith(JSON_TYPE) || /^application\/[\w.+-]*json\b/i.test(ct))) {
      return this.#unchained(req, res, reqId, route, start, new GatewayError(E.GW_ERR_UNSUPPORTED_MEDIA_TYPE));
    }
    let coding: Coding | undefined;
    const ce = req.headers['content-encoding'];
    if (ce !== undefined) {
      const c = parseContentEncoding(ce);
      if (typeof c === 'object') return this.#unchained(req, res, reqId, route, start, new GatewayError(E.GW_ERR_UNSUPPORTED_ENCODING, [c.unsupported]));
      coding = c;
    }
    const limit = this.#o.bodyLimit;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return this.#tooLarge(req, res, reqId, route, start);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) { over = true; chunks.length = 0; this.#tooLarge(req, res, reqId, route, start); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (coding === undefined) { this.#afterBody(req, res, route, reqId, start, startedAt, body); return; }
      // Compressed: decoded on the thread pool, never to more than the body limit (a bomb stops there).
      decodeBody(body, coding, limit).then(
        (plain) => { if (!res.closed) this.#afterBody(req, res, route, reqId, start, startedAt, plain); },
        (e: unknown) => {
          if (res.closed) return;
          const err = e instanceof DecodeError && e.reason === 'too_large'
            ? new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [limit])
            : new GatewayError(E.GW_ERR_BAD_ENCODING, [coding], { cause: e });
          this.#unchained(req, res, reqId, route, start, err);
        },
      );
    });
    req.on('error', () => { /* client aborted while sending; res 'close' cleans up */ });
  }

  #tooLarge(req: Req, res: http.ServerResponse, reqId: string, route: string, start: number): void {
    this.#unchained(req, res, reqId, route, start, new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [this.#o.bodyLimit]), { connection: 'close' }, undefined, true);
  }

  #resolvePolicy(route: Route, policyId: string | null, from: 'body' | 'header' | null, set: CompiledPolicySet | undefined): CompiledPolicy {
    if (!set) throw new GatewayError(E.GW_ERR_SHUTTING_DOWN);
    let id = policyId;
    if (route === 'policy') {
      if (from !== 'body') throw new GatewayError(E.GW_ERR_POLICY_ID_MISSING, [''], { param: 'policy_id' });
    } else {
      id ??= this.#o.defaultPolicy ?? set.defaultPolicyId;
      if (id === null || id === undefined) throw new GatewayError(E.GW_ERR_POLICY_ID_MISSING, [', send the X-Policy-Id header, or mark a policy `default`'], { param: 'policy_id' });
    }
    const p = set.policies.get(id!);
    if (!p) throw new GatewayError(E.GW_ERR_POLICY_NOT_FOUND, [id!], { param: 'policy_id' });
    return p;
  }

  #afterBody(req: Req, res: http.ServerResponse, route: Route, reqId: string, start: number, startedAt: number, body: Buffer): void {
    let ctx: RequestCtx;
    let policy: CompiledPolicy;
    let revision = '';
    try {
      const parsed = parseChatRequest(body, req.headers, this.#maxDepth);
      const set = this.#o.policies.current;
      policy = this.#resolvePolicy(route, parsed.policyId, parsed.policyIdFrom, set);
      revision = set!.revision;
      const request = parsed.request;
      const stream = request.stream === true;
      const clientWantsUsage = stream && request.stream_options?.include_usage === true;
      if (stream) request.stream_options = { ...request.stream_options, include_usage: true };
      ctx = new RequestCtx({
        id: reqId, rootLog: this.#o.log, now: this.#now, services: this.#o.services, route,
        policy: policyInfo(policy, revision),
        meta: { policyId: policy.id, user: parsed.user, project: parsed.project, target: parsed.target },
        headers: req.headers, request, clientWantsUsage,
        timings: { startedAt, start, upstreamStart: 0, upstreamFirstByte: 0, upstreamEnd: 0, end: 0 },
      });
      req[FLIGHT] = new Flight(ctx, policy, stream, parsed.stripped || stream ? undefined : body);
    } catch (e) {
      return this.#unchained(req, res, reqId, route, start, toGatewayError(e));
    }
    const flight = req[FLIGHT]!;
    flight.res = res;
    const head = this.#flights;
    if (head !== undefined) { flight.next = head; head.prev = flight; }
    this.#flights = flight;
    this.#inflight++;
    this.#o.metrics.inflight.byKey(route).inc();
    res.once('close', () => this.#complete(flight, res));
    const action = this.#runner.runRequest(policy.chain, ctx);
    if (action instanceof Promise) {
      action.then((a) => this.#afterRequestHooks(req, res, flight, a), (e: unknown) => this.#fail(res, flight, toGatewayError(e)));
    } else {
      this.#afterRequestHooks(req, res, flight, action);
    }
  }

  #afterRequestHooks(req: Req, res: http.ServerResponse, f: Flight, action: Awaited<ReturnType<ChainRunner['runRequest']>>): void {
    try {
      this.#forward(req, res, f, action);
    } catch (e) {
      // NOTE: nothing here is expected to throw (bodies are depth-checked before parsing); if something does, this one
      // request fails with a 500 and the process keeps serving.
      this.#fail(res, f, toGatewayError(e));
    }
  }

  #forward(req: Req, res: http.ServerResponse, f: Flight, action: Awaited<ReturnType<ChainRunner['runRequest']>>): void {
    if (res.destroyed) return;
    if (action) {
      if (action.kind === 'reject') return this.#fail(res, f, action.error);
      f.synthesized = true;
      return this.#synthesize(res, f, action.content);
    }
    const ctx = f.ctx;
    const upstream = this.#o.router.route(ctx.request.model);
    if (!upstream) return this.#fail(res, f, new GatewayError(E.GW_ERR_MODEL_NOT_FOUND, [ctx.request.model], { param: 'model' }));
    f.upstream = upstream;
    // The upstream gets exactly what the policy saw: the request as parsed, re-serialised. The client's own bytes go
    // through only when no request hook looked inside them or changed them (and there were no policy_* fields or
    // stream_options to add): otherwise a body that parses differently elsewhere (duplicate keys, which JSON.parse
    // resolves last-wins and other parsers first-wins) could show the policy one prompt and the model another.
    const use = f.policy.chain.requestUse;
    const payload = f.rawBody !== undefined && (use === 'untouched' || (use === 'marked' && !ctx.requestChanged))
      ? f.rawBody : Buffer.from(JSON.stringify(ctx.request));
    // The upstream sees only what it needs: never the client's policy key, metadata headers or encodings we can't transform.
    // (undici adds host and content-length itself; node:http gets them here.)
    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      accept: f.stream ? 'text/event-stream' : JSON_TYPE,
      'accept-encoding': 'identity',
      'x-request-id': ctx.id,
    };
    if (upstream.authorization) headers.authorization = upstream.authorization;
    const ua = req.headers['user-agent'];
    if (ua) headers['user-agent'] = ua;
    f.payload = payload;
    f.upstreamCalled = true;
    ctx.timings.upstreamStart = performance.now();
    if (this.#undici) {
      // http-proxy-3 copies req.headers for its own outgoing options, unused on this path: give it nothing to copy.
      f.upstreamHeaders = headers;
      req.headers = NO_HEADERS;
      this.#proxy.web(req, res, { target: upstream.chatUrl, buffer: payload as unknown as Readable });
      return;
    }
    headers.host = upstream.host;
    headers['content-length'] = String(payload.length);
    req.headers = headers;
    // http-proxy-3 pipes `buffer` into the upstream request; the body is already one Buffer, so end() it directly.
    const buffer = { pipe: (dest: http.ClientRequest) => { dest.end(payload); return dest; } } as unknown as Readable;
    this.#proxy.web(req, res, { target: upstream.chatUrl, agent: upstream.agent, buffer });
  }

  /** The `fetch` http-proxy-3 calls on its fetch path: one undici dispatch with the gateway's headers and body. */
  readonly #undiciFetch = async (_url: string, init: { flight?: Flight }): Promise<unknown> => {
    const f = init.flight!;
    const u = f.upstream;
    const call = new UndiciCall();
    f.call = call;
    u.pool.dispatch({ path: u.chatPath, method: 'POST', headers: f.upstreamHeaders!, body: f.payload! }, call);
    await call.head;
    // http-proxy-3 builds a fake proxyRes from `headers.entries()` that selfHandleResponse never reads: hand it none.
    return { status: call.statusCode, statusText: '', headers: NO_ENTRIES, body: call };
  };

  /** undici path: takes the upstream body away from http-proxy-3 (which would drain it) and handles the answer. */
  #onUndiciResponse(response: Response, req: Req, res: http.ServerResponse): void {
    const r = response as unknown as { body: UndiciCall | null };
    const call = r.body;
    r.body = null;
    const f = req[FLIGHT];
    if (!f || !call) return;
    f.upstreamBody = call;
    this.#onProxyRes(call as unknown as http.IncomingMessage, req, res);
  }

  #onProxyReq(proxyReq: http.ClientRequest, req: Req): void {
    const f = req[FLIGHT];
    if (!f) return;
    f.proxyReq = proxyReq;
    proxyReq.setTimeout(this.#o.upstreamTimeoutMs, () => {
      proxyReq.destroy(new GatewayError(E.GW_ERR_UPSTREAM_TIMEOUT));
    });
  }

  #onProxyError(err: Error, req: Req, res: http.ServerResponse): void {
    const f = req[FLIGHT];
    if (!f || f.ended) return;
    let ge: GatewayError;
    let kind: string;
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_ABORTED' || err.name === 'AbortError' || f.ctx.aborted) return; // the client went away
    if (err instanceof GatewayError) { ge = err; kind = err.code === 'GW_ERR_UPSTREAM_TIMEOUT' ? 'timeout' : 'bad_response'; } else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      ge = new GatewayError(E.GW_ERR_UPSTREAM_TIMEOUT, [], { cause: err });
      kind = 'timeout';
    } else if (f.ctx.timings.upstreamFirstByte > 0) {
      // The answer's head arrived, then the connection broke (a reset mid-body or mid-stream).
      ge = new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: err });
      kind = 'interrupted';
    } else {
      ge = new GatewayError(E.GW_ERR_UPSTREAM_UNREACHABLE, [], { cause: err });
      kind = 'unreachable';
    }
    if (res.destroyed || res.writableEnded) return;
    this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind });
    f.ctx.log.warn({ upstream: f.upstream.name, code: ge.code, err: err.message }, 'upstream failed');
    this.#fail(res, f, ge);
  }

  #onProxyRes(proxyRes: http.IncomingMessage, req: Req, res: http.ServerResponse): void {
    const f = req[FLIGHT];
    if (!f) { proxyRes.resume(); return; }
    const ctx = f.ctx;
    ctx.timings.upstreamFirstByte = performance.now();
    const status = proxyRes.statusCode ?? 502;
    ctx.upstreamStatus = status;
    const ct = String(proxyRes.headers['content-type'] ?? '');
    proxyRes.on('error', (err) => this.#onProxyError(err, req, res));
    if (status >= 500) {
      proxyRes.resume();
      this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'status_5xx' });
      return this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`upstream status ${status}`) }));
    }
    const ce = proxyRes.headers['content-encoding'];
    if (ce !== undefined) {
      // Compressed although the gateway asked for identity: decode it (its output is bounded below like any answer),
      // or fail when the coding is unknown — never pass binary on as if it were JSON or SSE.
      const coding = parseContentEncoding(String(ce));
      if (typeof coding === 'object') {
        proxyRes.resume();
        this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        return this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`content-encoding ${coding.unsupported}`) }));
      }
      if (coding !== undefined) proxyRes = this.#decodeUpstream(proxyRes, coding, f, res);
    }
    if (status >= 300 || (!ct.startsWith('text/event-stream') && !ct.includes('json'))) {
      return this.#passUpstreamError(proxyRes, res, f, status, ct);
    }
    if (ct.startsWith('text/event-stream')) return this.#stream(proxyRes, res, f);
    const chunks: Buffer[] = [];
    let size = 0;
    proxyRes.on('data', (c: Buffer) => {
      if (size < 0) return;
      size += c.length;
      if (size > this.#upstreamLimit) { size = -1; chunks.length = 0; this.#tooLargeUpstream(res, f); return; }
      chunks.push(c);
    });
    proxyRes.on('end', () => {
      if (size < 0) return;
      const t = performance.now();
      ctx.timings.upstreamEnd = t;
      let body: ChatCompletion;
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        if (jsonNestsDeeper(raw, this.#maxDepth)) throw new Error(`JSON nested deeper than ${this.#maxDepth} levels`);
        body = JSON.parse(raw.toString('utf8'));
        if (body === null || typeof body !== 'object' || !Array.isArray(body.choices)) throw new Error('not a chat completion');
      } catch (e) {
        this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        return this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: e }));
      }
      if (body.usage) ctx.usage = body.usage;
      const chain = f.policy.chain;
      if (chain.onResponse.length > 0) {
        try {
          this.#runner.runResponse(chain, body, ctx);
        } catch (e) {
          return this.#fail(res, f, toGatewayError(e));
        }
      }
      let out: Buffer;
      const rw = chain.responseRewrites;
      try {
        if (chain.onResponse.length === 0 || rw === 'never' || (rw === 'marked' && !ctx.responseChanged)) {
          // Nothing changed the answer: splice the policy block into the upstream's bytes instead of re-serialising.
          let end = raw.length - 1;
          while (end > 0 && raw[end] !== 0x7d) end--;
          out = Buffer.concat([raw.subarray(0, end), Buffer.from(`,"policy":${JSON.stringify(policyBlock(ctx))}}`)]);
        } else {
          body.policy = policyBlock(ctx);
          out = Buffer.from(JSON.stringify(body));
        }
      } catch (e) {
        return this.#fail(res, f, toGatewayError(e));
      }
      if (res.destroyed) return;
      res.writeHead(200, this.#headers(ctx, { 'content-type': JSON_TYPE, 'content-length': out.length }));
      res.end(out);
      f.postMs += performance.now() - t;
    });
  }

  /** An upstream answer (decoded) past --upstream-body-limit: 502, the upstream call dropped. */
  #tooLargeUpstream(res: http.ServerResponse, f: Flight): void {
    this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
    this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`upstream answer larger than ${this.#upstreamLimit} bytes (--upstream-body-limit)`) }));
  }

  /**
   * Pipes a compressed upstream body through a decoder, with backpressure both ways; returns the decoder, which the
   * answer handlers read like the upstream body. Corrupt data fails the request (502, or an error event mid-stream).
   */
  #decodeUpstream(proxyRes: http.IncomingMessage, coding: Coding, f: Flight, res: http.ServerResponse): http.IncomingMessage {
    const dec = createDecoder(coding);
    proxyRes.on('data', (c: Buffer) => { if (!dec.destroyed && !dec.write(c)) proxyRes.pause(); });
    dec.on('drain', () => proxyRes.resume());
    proxyRes.on('end', () => { if (!dec.destroyed) dec.end(); });
    dec.on('error', (e: Error) => {
      if (f.ended || res.writableEnded) return;
      this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
      this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: e }));
    });
    return dec as unknown as http.IncomingMessage;
  }

  /** Upstream 3xx/4xx or a non-JSON 2xx: pass the upstream's own error through (it is already OpenAI-shaped). */
  #passUpstreamError(proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight, status: number, ct: string): void {
    const chunks: Buffer[] = [];
    let size = 0;
    proxyRes.on('data', (c: Buffer) => {
      if (size < 0) return;
      size += c.length;
      if (size > this.#upstreamLimit) { size = -1; chunks.length = 0; this.#tooLargeUpstream(res, f); return; }
      chunks.push(c);
    });
    proxyRes.on('end', () => {
      if (size < 0) return;
      f.ctx.timings.upstreamEnd = performance.now();
      if (status < 300) {
        this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        return this.#fail(res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`content-type ${ct}`) }));
      }
      const body = Buffer.concat(chunks);
      if (res.destroyed) return;
      const headers: Record<string, string | number> = { 'content-type': ct || JSON_TYPE, 'content-length': body.length };
      const ra = proxyRes.headers['retry-after'];
      if (typeof ra === 'string') headers['retry-after'] = ra;
      f.error = new GatewayError({ ...E.GW_ERR_UPSTREAM_REJECTED, status }, [status]);
      res.writeHead(status, this.#headers(f.ctx, headers));
      res.end(body);
    });
  }

  /** Response headers every policy answer carries. */
  #headers(ctx: RequestCtx, base: Record<string, string | number>): Record<string, string | number> {
    base['x-request-id'] = ctx.id;
    base['x-policy-decision'] = ctx.verdict.decision;
    base['x-policy-effective-decision'] = ctx.verdict.effectiveDecision;
    base['x-policy-reason-code'] = ctx.verdict.reasonCode;
    for (const k in ctx.responseHeaders) base[k] = ctx.responseHeaders[k]!;
    return base;
  }

  #stream(proxyRes: http.IncomingMessage, res: http.ServerResponse, f: Flight): void {
    const ctx = f.ctx;
    const chain = f.policy.chain;
    res.writeHead(200, this.#headers(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' }));
    res.flushHeaders();
    let meta: { id: string; created: number; model: string } | undefined;
    let finished = false;
    // Which choices started and which sent a finish_reason (bit i: choice i; choices past 31 in a Set, made if ever
    // needed): a stream that ends without [DONE] is complete only if every started choice finished.
    let started = 0;
    let done = 0;
    let startedHi: Set<number> | undefined;
    let doneHi: Set<number> | undefined;
    // Output of one network chunk is batched into one write (one HTTP chunk, one syscall).
    let out = '';
    const finish = () => {
      if (finished) return;
      finished = true;
      ctx.timings.upstreamEnd = performance.now();
      for (const extra of this.#runner.runStreamEnd(chain, ctx)) out += sseData(JSON.stringify(extra));
      const m = meta ?? { id: `chatcmpl-${ctx.id}`, created: Math.floor(ctx.timings.startedAt / 1000), model: ctx.request.model };
      out += sseData(JSON.stringify({ id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model, choices: [], policy: policyBlock(ctx) }));
      out += SSE_DONE;
    };
    const onEvent = (ev: SseEvent) => {
      if (finished) return;
      const data = ev.data;
      if (data === null) { out += `${ev.raw}\n\n`; return; }
      if (data === '[DONE]') { finish(); return; }
      if (jsonTextNestsDeeper(data, this.#maxDepth)) {
        // Re-serialising it (after redaction) would recurse past any sane bound: the stream is broken, not passed on.
        this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE chunk nested deeper than ${this.#maxDepth} levels`) });
      }
      let chunk: ChatCompletionChunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        out += `${ev.raw}\n\n`;
        return;
      }
      if (chunk === null || typeof chunk !== 'object' || !Array.isArray(chunk.choices)) { out += `${ev.raw}\n\n`; return; }
      if (meta === undefined) meta = { id: chunk.id, created: chunk.created, model: chunk.model };
      const choices = chunk.choices;
      for (let i = 0; i < choices.length; i++) {
        const c = choices[i];
        if (c === null || typeof c !== 'object') continue;
        const idx = typeof c.index === 'number' && c.index >= 0 ? c.index : i;
        const fin = c.finish_reason != null;
        if (idx < 31) {
          started |= 1 << idx;
          if (fin) done |= 1 << idx;
        } else {
          (startedHi ??= new Set()).add(idx);
          if (fin) (doneHi ??= new Set()).add(idx);
        }
      }
      let modified = false;
      if (chunk.usage) {
        ctx.usage = chunk.usage;
        if (!ctx.clientWantsUsage) {
          if (chunk.choices.length === 0) return;
          delete chunk.usage;
          modified = true;
        }
      }
      const r = chain.onChunk.length ? this.#runner.runChunk(chain, chunk, ctx) : 'pass';
      if (r === 'drop') return;
      out += r === 'modified' || modified ? sseData(JSON.stringify(chunk)) : `${ev.raw}\n\n`;
    };
    const flush = () => {
      if (res.destroyed || res.writableEnded) { out = ''; return; }
      if (finished) { res.end(out); out = ''; return; }
      if (out) { res.write(out); out = ''; }
    };
    const failMidStream = (e: unknown) => {
      finished = true;
      f.error = toGatewayError(e);
      out += sseData(JSON.stringify(f.error.toJSON()));
      if (!res.writableEnded) { res.end(out); out = ''; }
      proxyRes.destroy();
      f.call?.destroy(); // proxyRes may be a decoder in front of the upstream body: drop the upstream call itself too
      if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
    };
    const decoder = new SseDecoder(onEvent);
    proxyRes.on('data', (c: Buffer) => {
      if (finished || res.destroyed) return;
      const t = performance.now();
      try {
        decoder.push(c);
        if (decoder.pending > this.#upstreamLimit) {
          // One event that never ends (no blank line): bounded like any answer the gateway holds.
          this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
          throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE event longer than ${this.#upstreamLimit} characters (--upstream-body-limit)`) });
        }
        flush();
      } catch (e) {
        failMidStream(e);
      }
      f.postMs += performance.now() - t;
      if (!finished && res.writableNeedDrain) {
        proxyRes.pause();
        res.once('drain', () => proxyRes.resume());
      }
    });
    proxyRes.on('end', () => {
      if (finished || res.destroyed) return;
      const t = performance.now();
      try {
        decoder.end();
        if (!finished && (done === 0 && doneHi === undefined || (started & ~done) !== 0 || (startedHi?.size ?? 0) > (doneHi?.size ?? 0))) {
          // The body ended without [DONE] while a choice had not finished (or none ever did): an upstream failure like
          // a reset, not an answer. Held-back text (the redactor's window) is never released: no runStreamEnd.
          this.#o.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'interrupted' });
          ctx.timings.upstreamEnd = performance.now();
          failMidStream(new GatewayError(E.GW_ERR_UPSTREAM_INTERRUPTED, [], { cause: new Error('SSE stream ended without [DONE] before every choice finished') }));
        } else {
          finish();
          flush();
        }
      } catch (e) {
        failMidStream(e);
      }
      f.postMs += performance.now() - t;
    });
  }

  /** Answers locally (refusal, escalation holding message) without calling upstream. */
  #synthesize(res: http.ServerResponse, f: Flight, content: string): void {
    const ctx = f.ctx;
    const id = `chatcmpl-${ctx.id}`;
    const created = Math.floor(ctx.timings.startedAt / 1000);
    const model = ctx.request.model;
    const policy = policyBlock(ctx);
    if (f.stream) {
      res.writeHead(200, this.#headers(ctx, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }));
      const base = { id, object: 'chat.completion.chunk', created, model };
      let out = sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }));
      out += sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] }));
      out += sseData(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
      if (ctx.clientWantsUsage) out += sseData(JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }));
      out += sseData(JSON.stringify({ ...base, choices: [], policy }));
      res.end(out + SSE_DONE);
      return;
    }
    const body = JSON.stringify({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      policy,
    });
    res.writeHead(200, this.#headers(ctx, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) }));
    res.end(body);
  }

  /** Ends a chained request with an error (before or during the answer). */
  #fail(res: http.ServerResponse, f: Flight, err: GatewayError): void {
    if (f.error === undefined) f.error = err;
    if (err.status >= 500 && err.expose === false) {
      const cause = err.cause instanceof Error ? { message: err.cause.message, stack: err.cause.stack } : undefined;
      f.ctx.log.error({ code: err.code, cause }, 'request failed');
    }
    if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
    if (f.upstreamBody && !f.upstreamBody.destroyed) f.upstreamBody.destroy();
    f.call?.destroy();
    if (res.destroyed || res.writableEnded) return;
    const extra: Record<string, string> = {};
    for (const k in f.ctx.responseHeaders) extra[k] = f.ctx.responseHeaders[k]!;
    // The first error wins: destroying the upstream call above can report its own error (synchronously, through
    // #onProxyError) — a consequence of this failure, not its cause.
    this.#sendError(res, f.error, f.ctx.id, extra);
  }

  /** Runs exactly once per chained request when the response is done or the client went away. */
  #complete(f: Flight, res: http.ServerResponse): void {
    if (f.ended) return;
    f.ended = true;
    if (f.prev !== undefined) f.prev.next = f.next; else this.#flights = f.next;
    if (f.next !== undefined) f.next.prev = f.prev;
    f.prev = f.next = undefined;
    const ctx = f.ctx;
    const end = performance.now();
    ctx.timings.end = end;
    const aborted = !res.writableFinished;
    if (aborted) {
      f.abort(new Error('client closed the connection'));
      if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
    }
    const status = aborted && !res.headersSent ? 0 : res.statusCode;
    const t = ctx.timings;
    const m = this.#o.metrics;
    const route = ctx.route;
    const s = f.stream ? 1 : 0;
    const total = (end - t.start) / 1000;
    const keys = ROUTE_KEYS[route];
    m.requests.byKey(keys.status[status] ??= `${route}\0${status}`).inc();
    m.requestSeconds.byKey(keys.stream[s]).observe(total);
    const pre = f.upstreamCalled && t.upstreamStart ? t.upstreamStart - t.start : end - t.start;
    m.overheadSeconds.byKey(keys.stream[s]).observe((pre + (f.upstreamCalled ? f.postMs : 0)) / 1000);
    if (f.upstreamCalled && t.upstreamFirstByte) {
      const uk = this.#upstreamKeys.get(f.upstream) ?? [`${f.upstream.name}\0false`, `${f.upstream.name}\0true`];
      m.upstreamTtfbSeconds.byKey(uk[s]!).observe((t.upstreamFirstByte - t.upstreamStart) / 1000);
      if (t.upstreamEnd) m.upstreamSeconds.byKey(uk[s]!).observe((t.upstreamEnd - t.upstreamStart) / 1000);
    }
    m.inflight.byKey(route).dec();
    const v = ctx.verdict;
    const pid = ctx.meta.policyId;
    const decided = f.error === undefined || f.synthesized;
    if (decided) {
      m.decisions.byKey(`${pid}\0${v.decision}\0${v.effectiveDecision}\0${v.reasonCode}\0${v.rolloutMode}`).inc();
    }
    if (ctx.usage) {
      const p = ctx.meta.project;
      const project = p === null ? 'none' : this.#o.metricProjects?.has(p) ? p : 'other';
      m.tokens.byKey(`${pid}\0${project}\0prompt`).inc(ctx.usage.prompt_tokens || 0);
      m.tokens.byKey(`${pid}\0${project}\0completion`).inc(ctx.usage.completion_tokens || 0);
    }
    const log = this.#o.log;
    if (log.isLevelEnabled('info')) {
      log.info({
        reqId: ctx.id, route, policy_id: pid, status, decision: decided ? v.decision : 'reject', effective_decision: decided ? v.effectiveDecision : 'reject',
        code: f.error?.code, aborted, stream: f.stream, durationMs: Math.round((end - t.start) * 1000) / 1000,
      }, aborted ? 'request aborted' : 'request completed');
    }
    const outcome: Outcome = { status, error: f.error, upstreamCalled: f.upstreamCalled, aborted, synthesized: f.synthesized };
    const chain = f.policy.chain;
    if (chain.onComplete.length === 0) { this.#done(); return; }
    this.#runner.runComplete(chain, outcome, ctx).finally(() => this.#done());
  }

  // ---- operational routes --------------------------------------------------------------------

  async #metricsRoute(res: http.ServerResponse): Promise<void> {
    try {
      const text = this.#o.metricsText ? await this.#o.metricsText() : await this.#o.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.#o.metrics.registry.contentType });
      res.end(text);
    } catch (e) {
      this.#o.log.error({ err: e }, 'metrics failed');
      this.#sendError(res, toGatewayError(e), String(res.getHeader('x-request-id') ?? ''));
    }
  }

  async #probeUpstream(u: Upstream): Promise<Response> {
    const headers: Record<string, string> = {};
    if (u.authorization) headers.authorization = u.authorization;
    return fetch(`${u.baseUrl}/models`, { headers, signal: AbortSignal.timeout(2000) });
  }

  async #readyz(res: http.ServerResponse): Promise<void> {
    const now = this.#now();
    if (!this.#ready || now - this.#ready.at > 5000) {
      let ok = true;
      let reason = 'ready';
      if (this.#shuttingDown) { ok = false; reason = 'shutting down'; } else if (!this.#o.policies.current) { ok = false; reason = 'no policies loaded'; } else {
        for (const u of this.#o.router.upstreams) {
          try { await (await this.#probeUpstream(u)).arrayBuffer(); } catch { ok = false; reason = `upstream "${u.name}" unreachable`; break; }
        }
      }
      this.#ready = { at: now, ok, reason };
    }
    const r = this.#ready;
    this.#sendJson(res, r.ok ? 200 : 503, JSON.stringify({ status: r.ok ? 'ready' : 'not_ready', reason: r.reason, policies: this.#o.policies.current?.policies.size ?? 0, revision: this.#o.policies.current?.revision ?? null }));
  }

  async #models(res: http.ServerResponse, _reqId: string): Promise<void> {
    const now = this.#now();
    if (!this.#modelsCache || now - this.#modelsCache.at > 30_000) {
      const seen = new Map<string, unknown>();
      for (const u of this.#o.router.upstreams) {
        try {
          const r = await this.#probeUpstream(u);
          const j = (await r.json()) as { data?: { id?: unknown }[] };
          for (const m of j.data ?? []) if (typeof m?.id === 'string' && u.matches(m.id) && !seen.has(m.id)) seen.set(m.id, m);
        } catch { /* unreachable upstream: fall back to configured names below */ }
      }
      for (const id of this.#o.fallbackModels ?? []) if (!seen.has(id)) seen.set(id, { id, object: 'model', created: 0, owned_by: 'policy-gateway' });
      this.#modelsCache = { at: now, body: JSON.stringify({ object: 'list', data: [...seen.values()] }) };
    }
    this.#sendJson(res, 200, this.#modelsCache.body);
  }
}
