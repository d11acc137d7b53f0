// The operational routes: /healthz (liveness), /readyz (policies loaded, every upstream reachable; cached 5 s),
// /metrics (Prometheus text, the cluster aggregate in a worker) and /v1/models (the upstreams' models; cached 30 s).
import type http from 'node:http';
import { toGatewayError } from '../errors.ts';
import type { Upstream } from '../upstream/router.ts';
import type { Edge } from './edge.ts';
import { sendError, sendJson } from './respond-error.ts';
import type { RouteMatch } from './routes.ts';

/** The answers of the ops routes of one gateway, with their caches. */
export class OpsRoutes {
  readonly #edge: Edge;
  #ready: { at: number; ok: boolean; reason: string } | undefined;
  #modelsCache: { at: number; body: string } | undefined;

  constructor(edge: Edge) {
    this.#edge = edge;
  }

  /** Answers a GET/HEAD on a route other than an OpenAI endpoint's. */
  answer(kind: Exclude<RouteMatch['kind'], 'api'>, res: http.ServerResponse): void {
    switch (kind) {
      case 'healthz': {
        const down = this.#edge.shuttingDown;
        return sendJson(res, down ? 503 : 200, down ? '{"status":"shutting_down"}' : '{"status":"ok"}');
      }
      case 'readyz': void this.#readyz(res); return;
      case 'metrics': void this.#metrics(res); return;
      case 'models': void this.#models(res); return;
    }
  }

  async #metrics(res: http.ServerResponse): Promise<void> {
    const o = this.#edge.o;
    try {
      const text = o.metricsText ? await o.metricsText() : await o.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
      res.end(text);
    } catch (e) {
      this.#edge.log.error({ err: e }, 'metrics failed');
      sendError(res, toGatewayError(e), String(res.getHeader('x-request-id') ?? ''), undefined, this.#edge.shuttingDown);
    }
  }

  async #probeUpstream(u: Upstream): Promise<Response> {
    const headers: Record<string, string> = {};
    if (u.authorization) headers.authorization = u.authorization;
    return fetch(`${u.baseUrl}/models`, { headers, signal: AbortSignal.timeout(2000) });
  }

  async #readyz(res: http.ServerResponse): Promise<void> {
    const edge = this.#edge;
    const now = edge.now();
    if (!this.#ready || now - this.#ready.at > 5000) {
      let ok = true;
      let reason = 'ready';
      if (edge.shuttingDown) { ok = false; reason = 'shutting down'; } else if (!edge.o.policies.current) { ok = false; reason = 'no policies loaded'; } else {
        for (const u of edge.o.router.upstreams) {
          try { await (await this.#probeUpstream(u)).arrayBuffer(); } catch { ok = false; reason = `upstream "${u.name}" unreachable`; break; }
        }
      }
      this.#ready = { at: now, ok, reason };
    }
    const r = this.#ready;
    const set = edge.o.policies.current;
    sendJson(res, r.ok ? 200 : 503, JSON.stringify({ status: r.ok ? 'ready' : 'not_ready', reason: r.reason, policies: set?.policies.size ?? 0, revision: set?.revision ?? null }));
  }

  async #models(res: http.ServerResponse): Promise<void> {
    const edge = this.#edge;
    const now = edge.now();
    if (!this.#modelsCache || now - this.#modelsCache.at > 30_000) {
      const seen = new Map<string, unknown>();
      for (const u of edge.o.router.upstreams) {
        try {
          const r = await this.#probeUpstream(u);
          const j = (await r.json()) as { data?: { id?: unknown }[] };
          for (const m of j.data ?? []) if (typeof m?.id === 'string' && u.matches(m.id) && !seen.has(m.id)) seen.set(m.id, m);
        } catch { /* unreachable upstream: fall back to configured names below */ }
      }
      for (const id of edge.o.fallbackModels ?? []) if (!seen.has(id)) seen.set(id, { id, object: 'model', created: 0, owned_by: 'policy-gateway' });
      this.#modelsCache = { at: now, body: JSON.stringify({ object: 'list', data: [...seen.values()] }) };
    }
    sendJson(res, 200, this.#modelsCache.body);
  }
}
