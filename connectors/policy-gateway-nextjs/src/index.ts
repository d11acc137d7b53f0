// Next.js App Router connector: `createPolicyGatewayRoute` builds a `POST` route handler that forwards a chat
// completion body to Policy Gateway with the server's policy metadata and streams the answer back unchanged.
import type { NextRequest } from 'next/server.js';

/** Options of {@link createPolicyGatewayRoute}. Everything the browser must not choose is fixed here, on the server. */
export interface PolicyGatewayRouteOptions {
  /** The policy key (`Authorization: Bearer …`). Undefined: `process.env.POLICY_GATEWAY_KEY` at request time; none at all: no header (open policies). */
  readonly apiKey?: string | undefined;
  /** The `policy_id` every request is sent with. Undefined: `process.env.POLICY_GATEWAY_POLICY_ID`. */
  readonly policyId?: string | undefined;
  /** The `policy_project_id` (budgets, per-project audit). Undefined: `process.env.POLICY_GATEWAY_PROJECT_ID`, else none. */
  readonly policyProjectId?: string | undefined;
  /** The `policy_target` (rollout targeting). Undefined: `process.env.POLICY_GATEWAY_TARGET`, else none. */
  readonly policyTarget?: string | undefined;
  /**
   * The gateway's policy endpoint base, e.g. `https://gateway.example.com/policy`; `/chat/completions` is appended.
   * Undefined: `process.env.POLICY_GATEWAY_BASE_URL`, else `http://localhost:5000/policy` (local dev mode).
   */
  readonly baseUrl?: string | undefined;
  /**
   * The end user the request is made for (`policy_user`: per-user quotas and audit), derived from the incoming
   * request — typically your session. Return undefined for none. The browser's own `policy_user` is never used.
   */
  readonly policyUser?: (request: NextRequest | Request) => string | undefined | Promise<string | undefined>;
  /** Largest request body accepted from the browser, in bytes (default 20 MiB, the gateway's default limit). */
  readonly maxBodyBytes?: number;
  /** Longest wait for the gateway's response headers, in milliseconds (default 60 000). Streams are then bounded by the gateway. */
  readonly timeoutMs?: number;
  /** The fetch implementation (default: the global `fetch`). */
  readonly fetch?: typeof fetch;
}

/** The route handler {@link createPolicyGatewayRoute} returns: an App Router `POST` export. */
export type PolicyGatewayRouteHandler = (request: NextRequest | Request) => Promise<Response>;

/** The local dev mode base URL: a gateway started with `npm start` on this machine. */
export const DEFAULT_BASE_URL = 'http://localhost:5000/policy';

/** Body fields the connector owns: whatever the browser sends under these names is dropped. */
const POLICY_FIELDS = ['policy_id', 'policy_user', 'policy_project_id', 'policy_target'] as const;

/**
 * Response headers not passed back: hop-by-hop headers (RFC 9110 §7.6.1) and the framing/encoding headers that
 * describe the gateway's bytes rather than the decoded body `fetch` hands over.
 */
const DROP_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'content-encoding']);

/**
 * Creates an App Router route handler that forwards the browser's chat completion body to Policy Gateway's
 * `/chat/completions` with `policy_id`, `policy_project_id`, `policy_target` and `policy_user` set on the server
 * (the browser cannot choose them), then returns the gateway's answer as it is: the status, the error body, the
 * `Retry-After`, `X-Policy-*`, `X-Request-Id` and rate-limit headers, and an SSE stream passed through chunk by
 * chunk without buffering. When the browser goes away, the gateway request is aborted.
 *
 * Errors of the connector itself use OpenAI's shape too: 400 (body not a JSON object), 413 (body too large),
 * 500 (no policy id configured), 502 (gateway unreachable) and 504 (no response headers within `timeoutMs`).
 */
export function createPolicyGatewayRoute(options: PolicyGatewayRouteOptions = {}): PolicyGatewayRouteHandler {
  const maxBodyBytes = options.maxBodyBytes ?? 20 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new TypeError('maxBodyBytes must be a positive integer');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive number of milliseconds');

  return async function POST(request: NextRequest | Request): Promise<Response> {
    const env = process.env;
    const policyId = options.policyId ?? env.POLICY_GATEWAY_POLICY_ID;
    if (!policyId) return errorResponse(500, 'the policy gateway route has no policy id: set policyId or POLICY_GATEWAY_POLICY_ID', 'server_error', 'policy_gateway_misconfigured');
    const apiKey = options.apiKey ?? env.POLICY_GATEWAY_KEY;
    const endpoint = `${trimSlash(options.baseUrl ?? env.POLICY_GATEWAY_BASE_URL ?? DEFAULT_BASE_URL)}/chat/completions`;

    const read = await readBody(request, maxBodyBytes);
    if (typeof read === 'number') return errorResponse(413, `request body is larger than the limit of ${maxBodyBytes} bytes`, 'invalid_request_error', 'request_too_large');
    let body: unknown;
    try {
      body = JSON.parse(read);
    } catch (e) {
      return errorResponse(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', 'invalid_json');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return errorResponse(400, 'the request body must be a JSON object', 'invalid_request_error', 'invalid_body');

    const out = body as Record<string, unknown>;
    for (const f of POLICY_FIELDS) delete out[f];
    out.policy_id = policyId;
    const project = options.policyProjectId ?? env.POLICY_GATEWAY_PROJECT_ID;
    if (project) out.policy_project_id = project;
    const target = options.policyTarget ?? env.POLICY_GATEWAY_TARGET;
    if (target) out.policy_target = target;
    const user = options.policyUser ? await options.policyUser(request) : undefined;
    if (user) out.policy_user = user;

    const headers: Record<string, string> = { 'content-type': 'application/json', accept: out.stream === true ? 'text/event-stream' : 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const requestId = request.headers.get('x-request-id');
    if (requestId && /^[\w.:-]{1,128}$/.test(requestId)) headers['x-request-id'] = requestId;

    // The header timeout aborts only the wait for the gateway's answer; once headers arrive the stream is bounded
    // by the gateway's own upstream timeouts and ends when the browser goes away (request.signal).
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    let upstream: Response;
    try {
      upstream = await (options.fetch ?? fetch)(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(out),
        signal: AbortSignal.any([request.signal, timeout.signal]),
        cache: 'no-store',
        redirect: 'manual',
      });
    } catch (e) {
      if (timeout.signal.aborted) return errorResponse(504, `the policy gateway did not answer within ${timeoutMs} ms`, 'server_error', 'gateway_timeout');
      if (request.signal.aborted) return errorResponse(499, 'the client closed the request', 'invalid_request_error', 'client_closed_request');
      return errorResponse(502, `the policy gateway could not be reached at ${endpoint}: ${causeOf(e)}`, 'server_error', 'gateway_unreachable');
    } finally {
      clearTimeout(timer);
    }

    const passed = new Headers();
    upstream.headers.forEach((value, name) => {
      if (!DROP_RESPONSE_HEADERS.has(name)) passed.append(name, value);
    });
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: passed });
  };
}

/** Reads the request body as text, or returns the byte count reached once it exceeds `limit` (never buffers more than `limit` + one chunk). */
async function readBody(request: Request, limit: number): Promise<string | number> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) return declared;
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return size;
    }
    parts.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.byteLength; }
  return new TextDecoder().decode(all);
}

/** An OpenAI-shaped error answer of the connector itself. */
function errorResponse(status: number, message: string, type: string, code: string): Response {
  return Response.json({ error: { message, type, param: null, code } }, { status });
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}
