// The gateway's routes (README, "HTTP contract"): request paths to what answers them, and the names each has in metrics, logs and
// audit records. The OpenAI endpoints (chat completions, Responses, embeddings, legacy completions) are served under
// both /v1 (base-URL switch) and /policy.
import { ENDPOINT_PATHS, ENDPOINTS, type Endpoint } from '../sdk/types.ts';

/** A route the gateway answers: an OpenAI endpoint under /policy or /v1, or an ops route. */
export type RouteMatch =
  | { readonly kind: 'api'; readonly route: 'policy' | 'v1'; readonly endpoint: Endpoint }
  | { readonly kind: 'models' | 'metrics' | 'healthz' | 'readyz' };

const MODELS: RouteMatch = Object.freeze({ kind: 'models' });
const METRICS: RouteMatch = Object.freeze({ kind: 'metrics' });
const HEALTHZ: RouteMatch = Object.freeze({ kind: 'healthz' });
const READYZ: RouteMatch = Object.freeze({ kind: 'readyz' });

/** Every path the gateway serves, to its match (one frozen object per route). */
const PATHS: ReadonlyMap<string, RouteMatch> = new Map<string, RouteMatch>([
  ...ENDPOINTS.flatMap((endpoint) => (['policy', 'v1'] as const).map((route): [string, RouteMatch] =>
    [`/${route}${ENDPOINT_PATHS[endpoint]}`, Object.freeze({ kind: 'api', route, endpoint })])),
  ['/v1/models', MODELS], ['/policy/models', MODELS],
  ['/metrics', METRICS], ['/healthz', HEALTHZ], ['/readyz', READYZ],
]);

/** The route of a request path (without its query), or undefined for a path the gateway does not serve. */
export function routeOf(path: string): RouteMatch | undefined {
  return PATHS.get(path);
}

/**
 * The name of a route in audit records and logs: `policy` / `v1` for chat completions (as before other endpoints were
 * served), `policy/responses`, `v1/embeddings`, … for the others; the kind for ops routes; `unknown` for no match.
 */
export function routeName(r: RouteMatch | undefined): string {
  if (r === undefined) return 'unknown';
  return r.kind === 'api' ? apiRouteName(r.route, r.endpoint) : r.kind;
}

/** The audit name of an endpoint's route (see routeName). */
export function apiRouteName(route: 'policy' | 'v1', endpoint: Endpoint): string {
  return endpoint === 'chat' ? route : `${route}/${endpoint}`;
}

/** The `endpoint` metric label of a route name: the endpoint of an API route, `none` for any other. */
export function endpointLabel(name: string): string {
  if (name === 'policy' || name === 'v1') return 'chat';
  const slash = name.indexOf('/');
  return slash === -1 ? 'none' : name.slice(slash + 1);
}

/** The `route` metric label of a route name: `policy` / `v1` for API routes, the name for any other. */
export function routeLabel(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}

/** The routes still served on an ops-only connection or listener. */
export function isOpsRoute(r: RouteMatch): boolean {
  return r.kind === 'healthz' || r.kind === 'readyz' || r.kind === 'metrics';
}
