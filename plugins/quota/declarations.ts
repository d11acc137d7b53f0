// What the quota plugin declares to the gateway: its errors (with their reason codes), reason codes and metrics.
// Read by the plugin definition (index.ts) and by the modules that raise or count them.
import { defineErrors } from '../../src/sdk/errors.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';

/** The errors quota answers with (docs/errors.md): 429 with Retry-After, or 503 when its store fails closed. */
export const QUOTA_ERRORS = defineErrors({
  GW_ERR_RATE_LIMITED: { status: 429, type: 'requests', openaiCode: 'rate_limit_exceeded', reasonCode: 'RATE_LIMITED', expose: true,
    message: 'rate limit "%s" exceeded: retry after %s seconds' },
  GW_ERR_QUOTA_EXCEEDED: { status: 429, type: 'tokens', openaiCode: 'rate_limit_exceeded', reasonCode: 'QUOTA_EXCEEDED', expose: true,
    message: 'token quota "%s" exceeded: retry after %s seconds' },
  GW_ERR_BUDGET_EXCEEDED: { status: 429, type: 'insufficient_quota', openaiCode: 'insufficient_quota', reasonCode: 'BUDGET_EXCEEDED', expose: true,
    message: 'budget "%s" exceeded: retry after %s seconds' },
  GW_ERR_QUOTA_UNAVAILABLE: { status: 503, type: 'server_error', openaiCode: 'quota_store_unavailable', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the quota store is unavailable and this policy fails closed' },
});

/** The reason codes of quota's rejections (docs/reason-codes.md). */
export const QUOTA_REASON_CODES = Object.freeze({
  RATE_LIMITED: 'a request limit was hit (`user 60 requests per minute`)',
  QUOTA_EXCEEDED: 'a token quota was hit (`user 200k tokens per day`)',
  BUDGET_EXCEEDED: 'a cost budget was hit (`project 100 usd per month`)',
});

/** Every metric quota writes. */
export const QUOTA_METRICS = defineMetrics({
  /** Requests rejected, by policy and the limit's scope (user_requests, user_tokens, project_tokens, project_cost…). */
  rejections: { type: 'counter', name: 'policy_gateway_quota_rejections_total', help: 'Requests rejected by quotas and budgets, by policy and scope.', labels: ['policy_id', 'scope'] },
  /** Store failures, by store (memory, redis) and what was done (fail_open, fail_closed, settle_failed). */
  storeErrors: { type: 'counter', name: 'policy_gateway_quota_store_errors_total', help: 'Quota store failures, by store and fail mode applied.', labels: ['store', 'result'] },
});
