// The HTTP edge's front door: the Gateway owns the listeners (a connection gate feeding an http.Server, the optional
// ops listener), routes each request to an OpenAI endpoint's route or an ops route, and stops gracefully.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { E, GatewayError } from '../errors.ts';
import { handleApiRequest } from './api-request.ts';
import { answerClientError } from './client-error.ts';
import { ConnectionGate } from './connections.ts';
import { Edge, type GatewayOptions } from './edge.ts';
import type { Req } from './flight.ts';
import { OpsRoutes } from './ops-routes.ts';
import { endUnchained, failFlight } from './request-end.ts';
import { isOpsRoute, routeName, routeOf } from './routes.ts';
import { UpstreamProxy } from './upstream.ts';

export type { GatewayOptions, PolicySource, RequestEnd } from './edge.ts';

const REQ_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The gateway: an http.Server plus lifecycle. Create with `new Gateway(options)`, then `listen`. */
export class Gateway {
  readonly server: http.Server;
  readonly #edge: Edge;
  readonly #proxy: UpstreamProxy;
  readonly #ops: OpsRoutes;
  readonly #gate: ConnectionGate;
  readonly #requestTimeoutMs: number;
  /** The --ops-listen server, when started. */
  #opsServer: http.Server | undefined;

  constructor(o: GatewayOptions) {
    const edge = (this.#edge = new Edge(o));
    this.#proxy = new UpstreamProxy(edge);
    this.#ops = new OpsRoutes(edge);
    // requestTimeout: the whole request (headers and body) must arrive in time, else 408 (answerClientError); Node
    // checks it every connectionsCheckingInterval. timeout: a socket with no bytes moving either way is closed (a
    // client that stops reading its answer). requireHostHeader: false — a missing Host is answered by #handle,
    // OpenAI-shaped and audited, not by Node's bare 400.
    const requestTimeout = (this.#requestTimeoutMs = o.requestTimeoutMs ?? 60_000);
    const headersTimeout = Math.min(60_000, requestTimeout);
    this.server = http.createServer({
      keepAliveTimeout: 65_000, requestTimeout, headersTimeout, requireHostHeader: false,
      connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(headersTimeout / 4))),
    }, (req, res) => this.#handle(req as Req, res));
    if (o.idleTimeoutMs) this.server.timeout = o.idleTimeoutMs;
    this.#gate = new ConnectionGate(edge, this.server);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(edge, err, socket, this.#requestTimeoutMs));
    // Any other expectation: an OpenAI-shaped, audited 417 instead of Node's bare one.
    this.server.on('checkExpectation', (req: Req, res: http.ServerResponse) => {
      endUnchained(edge, req, res, edge.nextRequestId(), 'unknown', performance.now(), new GatewayError(E.GW_ERR_EXPECTATION_FAILED), { connection: 'close' });
    });
    // Expect: 100-continue: a body declared over the limit is refused before the client sends it; others get 100.
    this.server.on('checkContinue', (req: Req, res: http.ServerResponse) => {
      if (!(Number(req.headers['content-length']) > o.bodyLimit)) res.writeContinue();
      this.#handle(req, res);
    });
  }

  /** Starts listening; resolves to the bound port. */
  listen(port: number, host: string): Promise<number> {
    const acceptor = this.#gate.acceptor;
    return new Promise((resolve, reject) => {
      acceptor.once('error', reject);
      acceptor.listen(port, host, () => {
        acceptor.off('error', reject);
        // The HTTP server never listens itself (the gate feeds it): 'listening' starts its timeout checks.
        this.server.emit('listening');
        resolve((acceptor.address() as AddressInfo).port);
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
    ops.maxConnections = Math.max(16, this.#gate.reserve);
    ops.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(this.#edge, err, socket, this.#requestTimeoutMs));
    this.#opsServer = ops;
    return new Promise((resolve, reject) => {
      ops.once('error', reject);
      ops.listen(port, host, () => {
        ops.off('error', reject);
        resolve((ops.address() as AddressInfo).port);
      });
    });
  }

  /** Requests currently being answered. */
  get inflight(): number {
    return this.#edge.inflight;
  }

  /**
   * Graceful stop: refuse new connections, answer new requests on open connections with 503, let in-flight
   * requests (streams included) finish up to `graceMs`, then close everything. Requests still running when the grace
   * period ends are cut: a stream ends with an error event, a request still waiting for its answer gets a 503
   * (GW_ERR_SHUTDOWN_CUT); `cut` counts them. Resolves when done.
   */
  async shutdown(graceMs: number): Promise<{ drained: boolean; cut: number }> {
    const edge = this.#edge;
    edge.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.#gate.acceptor.close(() => resolve()));
    this.server.close(); // never listened itself: this only stops its timeout checks and closes idle connections
    this.server.closeIdleConnections();
    const drained = await edge.drained(graceMs);
    let cut = 0;
    if (!drained) {
      cut = this.#cutFlights();
      // Let the error answers reach the clients before the sockets go (bounded: 1 s).
      await edge.drained(1000);
    }
    this.server.closeAllConnections();
    await closed;
    if (this.#opsServer) {
      const ops = this.#opsServer;
      await new Promise<void>((resolve) => { ops.close(() => resolve()); ops.closeAllConnections(); });
    }
    this.#proxy.close();
    return { drained, cut };
  }

  /** Ends every open chained request with GW_ERR_SHUTDOWN_CUT (its upstream call aborted); returns how many. */
  #cutFlights(): number {
    let n = 0;
    for (let f = this.#edge.flights; f !== undefined; f = f.next) {
      if (f.ended || f.res === undefined) continue;
      n++;
      failFlight(this.#edge, f.res, f, new GatewayError(E.GW_ERR_SHUTDOWN_CUT));
    }
    return n;
  }

  /** Every request: its id, its route, the connection's limits; then an endpoint's route or an ops route answers it. */
  #handle(req: Req, res: http.ServerResponse, opsOnly = false): void {
    const edge = this.#edge;
    const start = performance.now();
    const startedAt = edge.now();
    const inId = req.headers['x-request-id'];
    const reqId = typeof inId === 'string' && REQ_ID_RE.test(inId) ? inId : edge.nextRequestId();
    // X-Request-Id goes into each answer's writeHead (cheaper than setHeader + merge); the GET routes below set it here.
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const r = routeOf(path);
    if (req.headers.host === undefined && req.httpVersionMinor === 1 && req.httpVersionMajor === 1) {
      return endUnchained(edge, req, res, reqId, routeName(r), start, new GatewayError(E.GW_ERR_BAD_HTTP, ['an HTTP/1.1 request needs a Host header']), { connection: 'close' });
    }
    if (!r) return endUnchained(edge, req, res, reqId, 'unknown', start, new GatewayError(E.GW_ERR_ROUTE_NOT_FOUND, [req.method ?? 'GET', path]));
    if (!isOpsRoute(r) && this.#gate.opsOnly(req.socket)) {
      return endUnchained(edge, req, res, reqId, routeName(r), start, new GatewayError(E.GW_ERR_OVERLOADED), { connection: 'close', 'retry-after': '1' });
    }
    if (opsOnly && !isOpsRoute(r)) {
      return endUnchained(edge, req, res, reqId, routeName(r), start, new GatewayError(E.GW_ERR_ROUTE_NOT_FOUND, [req.method ?? 'GET', path]));
    }
    if (r.kind === 'api') {
      if (req.method !== 'POST') return endUnchained(edge, req, res, reqId, routeName(r), start, new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [req.method ?? '', path]), { allow: 'POST' });
      handleApiRequest(edge, this.#proxy, req, res, r.route, r.endpoint, reqId, start, startedAt);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return endUnchained(edge, req, res, reqId, r.kind, start, new GatewayError(E.GW_ERR_METHOD_NOT_ALLOWED, [req.method ?? '', path]), { allow: 'GET' });
    }
    req.resume();
    res.setHeader('x-request-id', reqId);
    this.#ops.answer(r.kind, res);
  }
}
