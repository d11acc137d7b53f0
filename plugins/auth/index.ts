// The auth plugin (first in the chain): checks `Authorization: Bearer <policy key>` against the policy's keys
// file (sha256 digests, constant-time compare), expiry and the key's allowed policies and projects.
import type { Logger } from 'pino';
import { definePlugin, type PluginHooks, type RequestAction } from '../../src/sdk/plugin.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import { defineErrors, GatewayError, TRACE_FORBIDDEN, type ErrorDef } from '../../src/sdk/errors.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';
import { compileAuth, type AuthConfig } from './block.ts';
import { KeyRing } from './key-ring.ts';
import { runKeys } from './keys-command.ts';
import { digestKey, digestsEqual, keyIdOf, type KeyEntry } from './keys-file.ts';
import { hasGrant, principalKey } from '../../src/sdk/state-keys.ts';
import type { TraceRecorder } from '../../src/sdk/trace.ts';

export { principalKey, type Principal } from '../../src/sdk/state-keys.ts';
export type { AuthConfig } from './block.ts';

const INVALID = 'invalid_request_error';

/** The errors auth answers with (docs/errors.md). */
export const AUTH_ERRORS = defineErrors({
  GW_ERR_AUTH_MISSING: { status: 401, type: INVALID, openaiCode: 'missing_api_key', reasonCode: 'AUTH_FAILED', expose: true,
    message: 'missing API key: send your policy key as a Bearer token ("Authorization: Bearer <policy key>")' },
  GW_ERR_AUTH_MALFORMED: { status: 401, type: INVALID, openaiCode: 'invalid_api_key', reasonCode: 'AUTH_FAILED', expose: true,
    message: 'malformed Authorization header: expected "Authorization: Bearer <policy key>"' },
  GW_ERR_AUTH_INVALID: { status: 401, type: INVALID, openaiCode: 'invalid_api_key', reasonCode: 'AUTH_FAILED', expose: true,
    message: 'invalid policy key: check that your API key is set and sent as a Bearer token' },
  GW_ERR_AUTH_EXPIRED: { status: 401, type: INVALID, openaiCode: 'expired_api_key', reasonCode: 'AUTH_FAILED', expose: true,
    message: 'policy key has expired' },
  GW_ERR_AUTH_FORBIDDEN: { status: 403, type: 'permission_error', openaiCode: 'forbidden', reasonCode: 'FORBIDDEN', expose: true,
    message: 'this policy key may not use %s' },
});
const E = AUTH_ERRORS;

/** The reason codes of auth's rejections (docs/reason-codes.md). */
export const AUTH_REASON_CODES = Object.freeze({
  AUTH_FAILED: 'the policy key was missing, malformed, unknown or expired (401)',
  FORBIDDEN: 'the policy key may not use this policy or project (403)',
});

/** Reasons counted in policy_gateway_auth_failures_total{reason} (all from this fixed list). */
export const AUTH_FAILURE_REASONS = ['missing', 'malformed', 'invalid', 'expired', 'forbidden'] as const;
type Reason = (typeof AUTH_FAILURE_REASONS)[number];

/** Every metric auth writes. */
export const AUTH_METRICS = defineMetrics({
  /** Rejected credentials, by reason (one of AUTH_FAILURE_REASONS). */
  failures: { type: 'counter', name: 'policy_gateway_auth_failures_total', help: 'Rejected credentials, by reason.', labels: ['reason'] },
});

/** Compared against when the presented key id is unknown, so unknown ids cost the same hashing and compare work. */
const DUMMY_DIGEST = Buffer.alloc(32);

function reject(ctx: RequestContext, reason: Reason, def: ErrorDef, args: readonly string[] = []): RequestAction {
  ctx.services.metricsOf(AUTH_METRICS).failures.inc({ reason });
  ctx.log.debug({ plugin: 'auth', reason }, 'request rejected');
  return { kind: 'reject', error: new GatewayError(def, args) };
}

/** The bearer token of an Authorization header value, '' when the header is not `Bearer <token>`. */
export function bearerToken(header: string): string {
  // "Bearer" (any case), at least one space, one token without spaces, optional trailing spaces.
  if (header.length < 8) return '';
  const scheme = header.slice(0, 6);
  if (scheme !== 'Bearer' && scheme.toLowerCase() !== 'bearer') return '';
  const c = header.charCodeAt(6);
  if (c !== 32 && c !== 9) return '';
  const token = header.slice(7).trim();
  if (token === '' || token.includes(' ') || token.includes('\t')) return '';
  return token;
}

/**
 * Looks a presented key up by its public id and compares sha256 digests in constant time. Returns the entry or
 * undefined. Unknown ids still hash and compare (against a dummy digest) so they take the same time.
 */
export function findKey(keys: ReadonlyMap<string, KeyEntry>, token: string): KeyEntry | undefined {
  const id = keyIdOf(token);
  const entry = id === undefined ? undefined : keys.get(id);
  const digest = digestKey(token);
  const equal = digestsEqual(digest, entry ? entry.digest : DUMMY_DIGEST);
  return entry && equal ? entry : undefined;
}

/** The request-path check of one compiled auth block. */
function authenticate(ring: KeyRing, ctx: RequestContext, log: Logger): RequestAction {
  const header = ctx.headers.authorization;
  if (header === undefined || header === '') return reject(ctx, 'missing', E.GW_ERR_AUTH_MISSING);
  const token = bearerToken(header);
  if (token === '') return reject(ctx, 'malformed', E.GW_ERR_AUTH_MALFORMED);
  const keys = ring.current(ctx.now(), log);
  let entry = ring.verified(token);
  if (entry === undefined) {
    entry = findKey(keys, token);
    if (entry === undefined) return reject(ctx, 'invalid', E.GW_ERR_AUTH_INVALID);
    ring.rememberVerified(token, entry, keys);
  }
  if (entry.expiresAt !== null && ctx.now() >= entry.expiresAt) return reject(ctx, 'expired', E.GW_ERR_AUTH_EXPIRED);
  const policyId = ctx.meta.policyId;
  if (entry.policies !== '*' && !entry.policies.includes(policyId)) {
    return reject(ctx, 'forbidden', E.GW_ERR_AUTH_FORBIDDEN, [`policy "${policyId}"`]);
  }
  if (entry.projects !== null) {
    const project = ctx.meta.project;
    if (project === null) {
      return reject(ctx, 'forbidden', E.GW_ERR_AUTH_FORBIDDEN,
        ['requests without a project: send the X-Policy-Project header or "policy_project_id"']);
    }
    if (entry.projects !== '*' && !entry.projects.includes(project)) {
      return reject(ctx, 'forbidden', E.GW_ERR_AUTH_FORBIDDEN, [`project "${project}"`]);
    }
  }
  ctx.set(principalKey, { id: entry.id, label: entry.label, grants: entry.grants });
  return undefined;
}

/** Records the `auth` step of a traced request: the key accepted (id, label, grants) or why it was refused. */
function traceAuth(ctx: RequestContext, trace: TraceRecorder, action: RequestAction, keysFile: string): void {
  const p = ctx.get(principalKey);
  if (action?.kind === 'reject') {
    const e = action.error;
    trace.add({ plugin: 'auth', kind: 'auth', keys_file: keysFile, outcome: 'rejected', status: e.status, code: e.code, message: e.message });
    return;
  }
  trace.add({ plugin: 'auth', kind: 'auth', keys_file: keysFile, outcome: 'accepted', key_id: p ? `pgk_${p.id}` : null, key_label: p?.label ?? null, grants: p?.grants ?? [] });
}

/** Builds the hooks of one compiled auth block; the key ring (reloading key set) lives as long as the policy. */
export function authHooks(config: AuthConfig): PluginHooks & { readonly ring: KeyRing } {
  const ring = new KeyRing(config.path, config.keys, undefined, config.roots);
  return {
    ring,
    requestAccess: 'none', // headers and metadata only
    onRequest(ctx) {
      let action = authenticate(ring, ctx, ctx.services.log);
      if (ctx.trace === undefined) return action;
      // A live trace (the debug header) is for keys that carry the `debug` grant: refused before anything else runs.
      if (action === undefined && ctx.trace.textMode === 'audit' && !hasGrant(ctx.get(principalKey), 'debug')) {
        action = reject(ctx, 'forbidden', TRACE_FORBIDDEN, ['the policy key has no "debug" grant (grants=debug in the keys file)']);
      }
      traceAuth(ctx, ctx.trace, action, config.file);
      return action;
    },
  };
}

/** The auth plugin: block `auth { keys "file" }`. A policy without an auth block is open (no key needed). */
export const authPlugin = definePlugin<AuthConfig>({
  name: 'auth',
  blocks: ['auth'],
  errors: AUTH_ERRORS,
  reasonCodes: AUTH_REASON_CODES,
  metrics: AUTH_METRICS,
  diagnostics: [405, 409],
  commands: {
    keys: { usage: 'create --label L --policy P [--grant G] [--file F] | list | revoke --id ID', run: runKeys },
  },
  compile: compileAuth,
  hooks: authHooks,
});
export default authPlugin;
