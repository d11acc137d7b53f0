// The gateway's routes (DESIGN §2): request paths to what answers them, and the name each has in metrics and logs.

/** A route the gateway answers. */
export type RouteMatch = { readonly kind: 'chat'; readonly route: 'policy' | 'v1' } | { readonly kind: 'models' | 'metrics' | 'healthz' | 'readyz' };

const CHAT_POLICY: RouteMatch = Object.freeze({ kind: 'chat', route: 'policy' });
const CHAT_V1: RouteMatch = Object.freeze({ kind: 'chat', route: 'v1' });
const MODELS: RouteMatch = Object.freeze({ kind: 'models' });
const METRICS: RouteMatch = Object.freeze({ kind: 'metrics' });
const HEALTHZ: RouteMatch = Object.freeze({ kind: 'healthz' });
const READYZ: RouteMatch = Object.freeze({ kind: 'readyz' });

/** The route of a request path (without its query), or undefined for a path the gateway does not serve. */
export function routeOf(path: string): RouteMatch | undefined {
  switch (path) {
    case '/policy/chat/completions': return CHAT_POLICY;
    case '/v1/chat/completions': return CHAT_V1;
    case '/v1/models': case '/policy/models': return MODELS;
    case '/metrics': return METRICS;
    case '/healthz': return HEALTHZ;
    case '/readyz': return READYZ;
    default: return undefined;
  }
}

/** The `route` label of a match: `policy` / `v1` for chat, the kind otherwise, `unknown` for no match. */
export function routeName(r: RouteMatch | undefined): string {
  return r === undefined ? 'unknown' : r.kind === 'chat' ? r.route : r.kind;
}

/** The routes still served on an ops-only connection or listener. */
export function isOpsRoute(r: RouteMatch): boolean {
  return r.kind === 'healthz' || r.kind === 'readyz' || r.kind === 'metrics';
}
