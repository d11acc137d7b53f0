// The upstream leg: a decided request goes to the upstream serving its model, and the answer's head is checked and
// handed to respond-json / respond-sse. Two clients: undici's dispatch API on a keep-alive Pool (default), or
// http-proxy-3, the proxy engine of `--upstream-client http`, on node:http with a keep-alive Agent.
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

/** A W3C `traceparent` header (version 00 layout; passed on to the upstream as the client sent it). */
const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The upstream client of one gateway. Either way the gateway handles the answer itself: it reads, checks and rewrites
 * JSON and SSE answers (the policy block, redaction), so the client only has to send the body the gateway built and
 * hand back the answer's head and body.
 * - `undici` (default): `pool.dispatch` with an UndiciCall handler — no fetch/Response, stream, promise or
 *   AsyncResource per call (measured: the gateway's pass-through costs less CPU per request than the bare
 *   http-proxy-3 pass-through, bench/README.md).
 * - `http`: http-proxy-3's `web()` with `selfHandleResponse`, the body given as `buffer`, the answer through its
 *   `proxyRes` event and failures through its `error` event.
 */
export class UpstreamProxy {
  readonly #edge: Edge;
  /** http-proxy-3, for `--upstream-client http`; undefined with the undici client. */
  readonly #proxy: httpProxy.ProxyServer | undefined;

  constructor(edge: Edge) {
    this.#edge = edge;
    if ((edge.o.upstreamClient ?? 'undici') === 'undici') return;
    const proxy = (this.#proxy = httpProxy.createProxyServer({ selfHandleResponse: true, ignorePath: true, changeOrigin: true, xfwd: false }));
    proxy.on('proxyReq', (proxyReq: http.ClientRequest, req: Req) => this.#onProxyReq(proxyReq, req));
    proxy.on('proxyRes', (proxyRes: http.IncomingMessage, req: Req, res: http.ServerResponse) => this.#onProxyRes(proxyRes, req, res));
    proxy.on('error', (err: Error, req: Req, res: http.ServerResponse | Socket) => this.#onProxyError(err, req, res as http.ServerResponse));
    proxy.on('econnreset', () => { /* client went away; res 'close' handles completion */ });
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
    // W3C Trace Context: the upstream call joins the request's trace (tracing on), or the client's (tracing off).
    if (f.trace !== undefined) {
      f.trace.startUpstream(ctx.request.model, upstream.name, upstream.host, f.stream, performance.now(), headers);
    } else {
      const tp = req.headers.traceparent;
      if (typeof tp === 'string' && TRACEPARENT_RE.test(tp)) {
        headers.traceparent = tp;
        const ts = req.headers.tracestate;
        if (typeof ts === 'string' && ts.length <= 512) headers.tracestate = ts; // W3C: at most 512 characters
      }
    }
    f.upstreamCalled = true;
    ctx.timings.upstreamStart = performance.now();
    const proxy = this.#proxy;
    if (proxy === undefined) {
      // undici adds host and content-length itself. The head (or a failure before it) arrives through `call.head`;
      // later failures through the body's 'error' (see #onProxyRes). The client leaving aborts `f.call`.
      const call = (f.call = new UndiciCall());
      upstream.pool.dispatch({ path: upstream.paths[ctx.endpoint], method: 'POST', headers, body: payload }, call);
      call.head.then((c) => {
        f.upstreamBody = c;
        this.#onProxyRes(c as unknown as http.IncomingMessage, req, res);
      }, (err: Error) => this.#onProxyError(err, req, res));
      return;
    }
    headers.host = upstream.host;
    headers['content-length'] = String(payload.length);
    req.headers = headers;
    // http-proxy-3 pipes `buffer` into the upstream request; the body is already one Buffer, so end() it directly.
    const buffer = { pipe: (dest: http.ClientRequest) => { dest.end(payload); return dest; } } as unknown as Readable;
    proxy.web(req, res, { target: upstream.urls[ctx.endpoint], agent: upstream.agent, buffer });
  }

  /** Stops the proxy (its agents and pools belong to the upstream router, closed there). */
  close(): void {
    this.#proxy?.close?.();
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
