// Reason codes: the default mapping from a decision to its `reason_code`, and from gateway errors (GW_ERR_*) to
// the reason code the auditor records for rejected requests. docs/reason-codes.md is the documented table.
import type { Decision } from '../../src/sdk/types.ts';

/** A configured reason code MUST match this: upper-case letter, then upper-case letters, digits, `_`. */
export const REASON_CODE_PATTERN: RegExp = /^[A-Z][A-Z0-9_]*$/;

/** Default `reason_code` per decision when the rule that fired configures none: the pattern name upper-cased. */
export const DEFAULT_REASON_CODES: Readonly<Record<Decision, string>> = Object.freeze({
  allow: 'ALLOW',
  rewrite: 'REWRITE',
  summary: 'SUMMARY',
  escalate: 'ESCALATE',
  refuse: 'REFUSE',
});

/** Default `reason_code` of a refusal because an allowlist is configured and nothing on it matched. */
export const ALLOWLIST_MISS = 'ALLOWLIST_MISS';

/** Reason codes for requests the gateway rejected with an error instead of deciding (auditor use). */
export const ERROR_REASON_CODES = Object.freeze({
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  RATE_LIMITED: 'RATE_LIMITED',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  AUTH_FAILED: 'AUTH_FAILED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_REQUEST: 'INVALID_REQUEST',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const);

const R = ERROR_REASON_CODES;

/**
 * Every GW_ERR_* code of src/errors.ts mapped onto its reason code. A test checks that no error code is missing;
 * a new row in src/errors.ts needs a row here (and in docs/reason-codes.md).
 */
export const ERROR_CODE_REASONS: Readonly<Record<string, string>> = Object.freeze({
  GW_ERR_AUTH_MISSING: R.AUTH_FAILED,
  GW_ERR_AUTH_MALFORMED: R.AUTH_FAILED,
  GW_ERR_AUTH_INVALID: R.AUTH_FAILED,
  GW_ERR_AUTH_EXPIRED: R.AUTH_FAILED,
  GW_ERR_AUTH_FORBIDDEN: R.FORBIDDEN,
  GW_ERR_ROUTE_NOT_FOUND: R.NOT_FOUND,
  GW_ERR_METHOD_NOT_ALLOWED: R.INVALID_REQUEST,
  GW_ERR_POLICY_NOT_FOUND: R.NOT_FOUND,
  GW_ERR_POLICY_ID_MISSING: R.INVALID_REQUEST,
  GW_ERR_METADATA_CONFLICT: R.INVALID_REQUEST,
  GW_ERR_METADATA_INVALID: R.INVALID_REQUEST,
  GW_ERR_BAD_JSON: R.INVALID_REQUEST,
  GW_ERR_BODY_NOT_OBJECT: R.INVALID_REQUEST,
  GW_ERR_MODEL_MISSING: R.INVALID_REQUEST,
  GW_ERR_MESSAGES_INVALID: R.INVALID_REQUEST,
  GW_ERR_BODY_TOO_LARGE: R.INVALID_REQUEST,
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: R.INVALID_REQUEST,
  GW_ERR_JSON_TOO_DEEP: R.INVALID_REQUEST,
  GW_ERR_UNSUPPORTED_ENCODING: R.INVALID_REQUEST,
  GW_ERR_BAD_ENCODING: R.INVALID_REQUEST,
  GW_ERR_REQUEST_TIMEOUT: R.INVALID_REQUEST,
  GW_ERR_EXPECTATION_FAILED: R.INVALID_REQUEST,
  GW_ERR_HEADERS_TOO_LARGE: R.INVALID_REQUEST,
  GW_ERR_BAD_HTTP: R.INVALID_REQUEST,
  GW_ERR_OVERLOADED: R.SERVICE_UNAVAILABLE,
  GW_ERR_MODEL_NOT_FOUND: R.NOT_FOUND,
  GW_ERR_RATE_LIMITED: R.RATE_LIMITED,
  GW_ERR_QUOTA_EXCEEDED: R.QUOTA_EXCEEDED,
  GW_ERR_BUDGET_EXCEEDED: R.BUDGET_EXCEEDED,
  GW_ERR_QUOTA_UNAVAILABLE: R.SERVICE_UNAVAILABLE,
  GW_ERR_MODERATION_UNAVAILABLE: R.SERVICE_UNAVAILABLE,
  GW_ERR_UPSTREAM_UNREACHABLE: R.UPSTREAM_ERROR,
  GW_ERR_UPSTREAM_BAD_RESPONSE: R.UPSTREAM_ERROR,
  GW_ERR_UPSTREAM_REJECTED: R.UPSTREAM_ERROR,
  GW_ERR_UPSTREAM_TIMEOUT: R.UPSTREAM_ERROR,
  GW_ERR_UPSTREAM_INTERRUPTED: R.UPSTREAM_ERROR,
  GW_ERR_PLUGIN_FAILED: R.INTERNAL_ERROR,
  GW_ERR_PLUGIN_TIMEOUT: R.INTERNAL_ERROR,
  GW_ERR_SHUTTING_DOWN: R.SERVICE_UNAVAILABLE,
  GW_ERR_SHUTDOWN_CUT: R.SERVICE_UNAVAILABLE,
  GW_ERR_INTERNAL: R.INTERNAL_ERROR,
});

/**
 * The reason code the audit record carries for a request rejected with gateway error `code` (a GW_ERR_* name).
 * Unknown codes map to INTERNAL_ERROR, never throw.
 */
export function reasonCodeForError(code: string): string {
  return Object.hasOwn(ERROR_CODE_REASONS, code) ? ERROR_CODE_REASONS[code]! : R.INTERNAL_ERROR;
}
