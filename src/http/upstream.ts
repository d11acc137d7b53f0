// The upstream leg, on http-proxy-3 (the proxy engine): a decided request goes to the upstream serving its model, and
// the answer's head is checked and handed to respond-json / respond-sse. Two clients under http-proxy-3: its fetch code
// path dispatched on an undici Pool (default; UndiciCall) or its native node:http path with a keep-alive Agent.
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import httpProxy from 'http-proxy-3';
import { E, GatewayError } from '../errors.ts';
import { createDecoder, parseContentEncoding, type Coding } from './content-encoding.ts';
import type { Edge } from './edge.ts';
import { FLIGHT, type Flight, type Req } from './flight.ts';
import { failFlight } from './request-end.ts';
import { JSON_TYPE } from './respond-error.ts';
import { passUpstreamError, respondJson } from './respond-json.ts';
import { respondResponseEvents } from './respond-events.ts';
import { respondSse } from './respond-sse.ts';
import { UndiciCall } from './undici-call.ts';

const NO_HEADERS: http.IncomingHttpHeaders = Object.freeze({}) as http.IncomingHttpHeaders;
const NO_ENTRIES = Object.freeze({ entries: () => [] as [string, string][] });

/**
 * The proxy of one gateway. http-proxy-3 runs with `selfHandleResponse`: it sends the request (with the body the
 * gateway built, `buffer`) and reports the upstream's answer through its `proxyRes` event (node:http path) or
 * `onAfterResponse` (fetch path); the gateway then writes the client's answer itself.
 */
export class UpstreamProxy {
  readonly #edge: Edge;
  readonly #proxy: httpProxy.ProxyServer;
  readonly #undici: boolean;

  constructor(edge: Edge) {
    this.#edge = edge;
    this.#undici = (edge.o.upstreamClient ?? 'undici') === 'undici';
    this.#proxy = httpProxy.createProxyServer({
      // prependPath false: the path comes from the upstream's endpoint path in #undiciFetch, so http-proxy-3 need not parse it.
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
    this.#proxy.on('error', (err: Error, req: Req, res: http.ServerResponse | Socket) => this.#onProxyError(err, req, res as http.ServerResponse));
    this.#proxy.on('econnreset', () => { /* client went away; res 'close' handles completion */ });
  }

  /**
   * Sends a decided request to the upstream serving its model (404 GW_ERR_MODEL_NOT_FOUND when none does). The
   * upstream sees only what it needs: the body `payload`, the gateway's own credentials for it, never the client's
   * policy key, metadata headers or encodings the gateway can't transform.
   */
  forward(req: Req, res: http.ServerResponse, f: Flight, payload: Buffer): void {
    const edge = this.#edge;
    const ctx = f.ctx;
    const upstream = edge.o.router.route(ctx.request.model);
    if (!upstream) return failFlight(edge, res, f, new GatewayError(E.GW_ERR_MODEL_NOT_FOUND, [ctx.request.model], { param: 'model' }));
    f.upstream = upstream;
    // undici adds host and content-length itself; node:http gets them below.
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
      this.#proxy.web(req, res, { target: upstream.urls[ctx.endpoint], buffer: payload as unknown as Readable });
      return;
    }
    headers.host = upstream.host;
    headers['content-length'] = String(payload.length);
    req.headers = headers;
    // http-proxy-3 pipes `buffer` into the upstream request; the body is already one Buffer, so end() it directly.
    const buffer = { pipe: (dest: http.ClientRequest) => { dest.end(payload); return dest; } } as unknown as Readable;
    this.#proxy.web(req, res, { target: upstream.urls[ctx.endpoint], agent: upstream.agent, buffer });
  }

  /** Stops the proxy (its agents belong to the upstream router, closed there). */
  close(): void {
    this.#proxy.close?.();
  }

  /** The `fetch` http-proxy-3 calls on its fetch path: one undici dispatch with the gateway's headers and body. */
  readonly #undiciFetch = async (_url: string, init: { flight?: Flight }): Promise<unknown> => {
    const f = init.flight!;
    const u = f.upstream;
    const call = new UndiciCall();
    f.call = call;
    u.pool.dispatch({ path: u.paths[f.ctx.endpoint], method: 'POST', headers: f.upstreamHeaders!, body: f.payload! }, call);
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
    proxyReq.setTimeout(this.#edge.o.upstreamTimeoutMs, () => {
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
    this.#edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind });
    f.ctx.log.warn({ upstream: f.upstream.name, code: ge.code, err: err.message }, 'upstream failed');
    failFlight(this.#edge, res, f, ge);
  }

  /** The upstream answer's head: 5xx and unknown encodings fail, 3xx/4xx pass through, JSON and SSE are answered. */
  #onProxyRes(proxyRes: http.IncomingMessage, req: Req, res: http.ServerResponse): void {
    const edge = this.#edge;
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
      edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'status_5xx' });
      return failFlight(edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`upstream status ${status}`) }));
    }
    const ce = proxyRes.headers['content-encoding'];
    if (ce !== undefined) {
      // Compressed although the gateway asked for identity: decode it (its output is bounded like any answer),
      // or fail when the coding is unknown — never pass binary on as if it were JSON or SSE.
      const coding = parseContentEncoding(String(ce));
      if (typeof coding === 'object') {
        proxyRes.resume();
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        return failFlight(edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`content-encoding ${coding.unsupported}`) }));
      }
      if (coding !== undefined) proxyRes = this.#decodeUpstream(proxyRes, coding, f, res);
    }
    if (status >= 300 || (!ct.startsWith('text/event-stream') && !ct.includes('json'))) {
      return passUpstreamError(edge, proxyRes, res, f, status, ct);
    }
    if (ct.startsWith('text/event-stream')) {
      return ctx.endpoint === 'responses' ? respondResponseEvents(edge, proxyRes, res, f) : respondSse(edge, proxyRes, res, f);
    }
    respondJson(edge, proxyRes, res, f);
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
      this.#edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
      failFlight(this.#edge, res, f, new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: e }));
    });
    return dec as unknown as http.IncomingMessage;
  }
}
