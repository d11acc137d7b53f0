// Upstream routing: picks the configured upstream for a model name (exact or glob, first match wins).
// Globs are compiled once at startup; the request never chooses a URL, only a model name among configured ones.
import http from 'node:http';
import https from 'node:https';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config.ts';
import { ENDPOINT_PATHS, ENDPOINTS, type Endpoint } from '../sdk/types.ts';

/** A ready-to-use upstream: precomputed target URL, keep-alive agent and outgoing auth header. */
export interface Upstream {
  readonly name: string;
  readonly baseUrl: string;
  /** `${baseUrl}/chat/completions`, parsed once. */
  readonly chatUrl: URL;
  /** The path part of chatUrl (path and query), as undici requests it. */
  readonly chatPath: string;
  /** Each endpoint's URL (`${baseUrl}/responses`, …), parsed once. */
  readonly urls: Readonly<Record<Endpoint, URL>>;
  /** The path part of each endpoint's URL, as undici requests it. */
  readonly paths: Readonly<Record<Endpoint, string>>;
  readonly agent: http.Agent;
  /** undici connection pool to the upstream origin (the default upstream client: less CPU per request). */
  readonly pool: Pool;
  /** `Bearer <key>` from the configured environment variable, or undefined. */
  readonly authorization: string | undefined;
  /** Host header value for the upstream. */
  readonly host: string;
  matches(model: string): boolean;
}

/** Compiles a model glob (`*` any run, `?` one char) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const src = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${src}$`);
}

/** Builds the upstream table from config; keys are read from `env` once here. */
export function buildUpstreams(configs: readonly UpstreamConfig[], env: Readonly<Record<string, string | undefined>>,
  opts: { maxSockets: number; connectTimeoutMs: number; timeoutMs?: number }): readonly Upstream[] {
  return Object.freeze(configs.map((c) => {
    const urls = {} as Record<Endpoint, URL>;
    const paths = {} as Record<Endpoint, string>;
    for (const e of ENDPOINTS) {
      urls[e] = new URL(`${c.baseUrl}${ENDPOINT_PATHS[e]}`);
      paths[e] = urls[e].pathname + urls[e].search;
    }
    const chatUrl = urls.chat;
    const AgentClass = chatUrl.protocol === 'https:' ? https.Agent : http.Agent;
    const agent = new AgentClass({ keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets, scheduling: 'lifo', timeout: 0 });
    const key = c.keyEnv ? env[c.keyEnv] : undefined;
    const timeout = opts.timeoutMs ?? 60_000;
    const pool = new Pool(chatUrl.origin, {
      connections: opts.maxSockets, pipelining: 1, keepAliveTimeout: 60_000,
      headersTimeout: timeout, bodyTimeout: timeout, connect: { timeout: opts.connectTimeoutMs },
    });
    const patterns = c.models.map((m) => (m.includes('*') || m.includes('?') ? globToRegExp(m) : m));
    return Object.freeze({
      name: c.name,
      baseUrl: c.baseUrl,
      chatUrl,
      chatPath: paths.chat,
      urls: Object.freeze(urls),
      paths: Object.freeze(paths),
      agent,
      pool,
      authorization: key ? `Bearer ${key}` : undefined,
      host: chatUrl.host,
      matches: (model: string) => patterns.some((p) => (typeof p === 'string' ? p === model : p.test(model))),
    });
  }));
}

/** Model → upstream lookup with a small bounded memo (model names are client input). */
export class UpstreamRouter {
  readonly upstreams: readonly Upstream[];
  #memo = new Map<string, Upstream | null>();
  constructor(upstreams: readonly Upstream[]) {
    this.upstreams = upstreams;
  }
  /** The upstream serving `model`, or undefined when none does. */
  route(model: string): Upstream | undefined {
    const hit = this.#memo.get(model);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.upstreams.find((u) => u.matches(model));
    if (this.#memo.size < 1024) this.#memo.set(model, found ?? null);
    return found;
  }
  /** Closes every keep-alive socket. */
  close(): void {
    for (const u of this.upstreams) { u.agent.destroy(); void u.pool.destroy(); }
  }
}
