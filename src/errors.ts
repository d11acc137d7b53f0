// The single table of runtime error codes (GW_ERR_*) and the GatewayError type.
// Every error a client can see is defined here; docs/errors.md has one heading per code (a test checks it).

/** One row of the error table. `expose: false` errors answer with a generic message. */
export interface ErrorDef {
  readonly code: string;
  readonly status: number;
  /** OpenAI error `type` field. */
  readonly type: string;
  /** OpenAI error `code` field (machine-readable, stable). */
  readonly openaiCode: string | null;
  readonly expose: boolean;
  /** Message template; each `%s` is filled from the args, in order. */
  readonly message: string;
}

type Row = Omit<ErrorDef, 'code'>;
function defineErrors<K extends string>(rows: Record<K, Row>): { readonly [P in K]: ErrorDef } {
  const out = {} as Record<K, ErrorDef>;
  for (const code of Object.keys(rows) as K[]) out[code] = Object.freeze({ code, ...rows[code] });
  return Object.freeze(out);
}

const INVALID = 'invalid_request_error';

/** Every runtime error code. Never rename or reuse a shipped code; deprecate it instead. */
export const E = defineErrors({
  GW_ERR_AUTH_MISSING: { status: 401, type: INVALID, openaiCode: 'missing_api_key', expose: true,
    message: 'missing API key: send your policy key as a Bearer token ("Authorization: Bearer <policy key>")' },
  GW_ERR_AUTH_MALFORMED: { status: 401, type: INVALID, openaiCode: 'invalid_api_key', expose: true,
    message: 'malformed Authorization header: expected "Authorization: Bearer <policy key>"' },
  GW_ERR_AUTH_INVALID: { status: 401, type: INVALID, openaiCode: 'invalid_api_key', expose: true,
    message: 'invalid policy key: check that your API key is set and sent as a Bearer token' },
  GW_ERR_AUTH_EXPIRED: { status: 401, type: INVALID, openaiCode: 'expired_api_key', expose: true,
    message: 'policy key has expired' },
  GW_ERR_AUTH_FORBIDDEN: { status: 403, type: 'permission_error', openaiCode: 'forbidden', expose: true,
    message: 'this policy key may not use %s' },
  GW_ERR_ROUTE_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'unknown_url', expose: true,
    message: 'unknown route %s %s: make sure the base URL ends with /v1 (or /policy) and you call /chat/completions' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, type: INVALID, openaiCode: 'method_not_allowed', expose: true,
    message: 'method %s is not allowed on %s' },
  GW_ERR_POLICY_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'policy_not_found', expose: true,
    message: 'unknown policy_id "%s"' },
  GW_ERR_POLICY_ID_MISSING: { status: 400, type: INVALID, openaiCode: 'missing_policy_id', expose: true,
    message: 'policy_id is required: send it in the body ("policy_id": "…")%s' },
  GW_ERR_METADATA_CONFLICT: { status: 400, type: INVALID, openaiCode: 'metadata_conflict', expose: true,
    message: 'header %s and body field %s disagree' },
  GW_ERR_METADATA_INVALID: { status: 400, type: INVALID, openaiCode: 'invalid_metadata', expose: true,
    message: '%s must be a non-empty string of at most 256 characters' },
  GW_ERR_BAD_JSON: { status: 400, type: INVALID, openaiCode: 'invalid_json', expose: true,
    message: 'the request body is not valid JSON: %s' },
  GW_ERR_BODY_NOT_OBJECT: { status: 400, type: INVALID, openaiCode: 'invalid_body', expose: true,
    message: 'the request body must be a JSON object' },
  GW_ERR_MODEL_MISSING: { status: 400, type: INVALID, openaiCode: 'invalid_model', expose: true,
    message: 'missing or invalid "model": verify the model id (a non-empty string)' },
  GW_ERR_MESSAGES_INVALID: { status: 400, type: INVALID, openaiCode: 'invalid_messages', expose: true,
    message: '"messages" must be an array of { role, content } objects: %s' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, type: INVALID, openaiCode: 'request_too_large', expose: true,
    message: 'request body is larger than the limit of %s bytes' },
  GW_ERR_JSON_TOO_DEEP: { status: 400, type: INVALID, openaiCode: 'json_too_deep', expose: true,
    message: 'the request body nests arrays and objects deeper than the limit of %s levels (the body object is level 1)' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: INVALID, openaiCode: 'unsupported_media_type', expose: true,
    message: 'Content-Type must be application/json' },
  GW_ERR_UNSUPPORTED_ENCODING: { status: 415, type: INVALID, openaiCode: 'unsupported_content_encoding', expose: true,
    message: 'Content-Encoding "%s" is not supported: send the body uncompressed (identity) or as gzip, deflate or br' },
  GW_ERR_BAD_ENCODING: { status: 400, type: INVALID, openaiCode: 'invalid_content_encoding', expose: true,
    message: 'the request body is not valid %s data' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, type: INVALID, openaiCode: 'request_timeout', expose: true,
    message: 'the request did not arrive in time: its headers and body must arrive within %s' },
  GW_ERR_EXPECTATION_FAILED: { status: 417, type: INVALID, openaiCode: 'expectation_failed', expose: true,
    message: 'the Expect header can only be "100-continue"' },
  GW_ERR_HEADERS_TOO_LARGE: { status: 431, type: INVALID, openaiCode: 'headers_too_large', expose: true,
    message: 'the request headers are larger than the limit of %s bytes' },
  GW_ERR_BAD_HTTP: { status: 400, type: INVALID, openaiCode: 'invalid_http', expose: true,
    message: 'malformed HTTP request: %s' },
  GW_ERR_OVERLOADED: { status: 503, type: 'server_error', openaiCode: 'overloaded', expose: true,
    message: 'the gateway has too many open connections: retry in a moment' },
  GW_ERR_MODEL_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'model_not_found', expose: true,
    message: 'no upstream serves model "%s"' },
  GW_ERR_RATE_LIMITED: { status: 429, type: 'requests', openaiCode: 'rate_limit_exceeded', expose: true,
    message: 'rate limit "%s" exceeded: retry after %s seconds' },
  GW_ERR_QUOTA_EXCEEDED: { status: 429, type: 'tokens', openaiCode: 'rate_limit_exceeded', expose: true,
    message: 'token quota "%s" exceeded: retry after %s seconds' },
  GW_ERR_BUDGET_EXCEEDED: { status: 429, type: 'insufficient_quota', openaiCode: 'insufficient_quota', expose: true,
    message: 'budget "%s" exceeded: retry after %s seconds' },
  GW_ERR_QUOTA_UNAVAILABLE: { status: 503, type: 'server_error', openaiCode: 'quota_store_unavailable', expose: true,
    message: 'the quota store is unavailable and this policy fails closed' },
  GW_ERR_MODERATION_UNAVAILABLE: { status: 503, type: 'server_error', openaiCode: 'moderation_unavailable', expose: true,
    message: 'the moderation provider is unavailable and this policy fails closed' },
  GW_ERR_UPSTREAM_UNREACHABLE: { status: 502, type: 'server_error', openaiCode: 'upstream_unreachable', expose: true,
    message: 'the upstream model server could not be reached' },
  GW_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, type: 'server_error', openaiCode: 'upstream_bad_response', expose: true,
    message: 'the upstream model server sent an invalid response' },
  GW_ERR_UPSTREAM_REJECTED: { status: 400, type: INVALID, openaiCode: 'upstream_rejected', expose: true,
    message: 'the upstream model server rejected the request with status %s (its error body is passed through)' },
  GW_ERR_UPSTREAM_INTERRUPTED: { status: 502, type: 'server_error', openaiCode: 'upstream_interrupted', expose: true,
    message: 'the upstream model server broke off its answer before it was complete' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'server_error', openaiCode: 'upstream_timeout', expose: true,
    message: 'the upstream model server did not answer in time' },
  GW_ERR_PLUGIN_FAILED: { status: 500, type: 'server_error', openaiCode: 'internal_error', expose: false,
    message: 'plugin "%s" failed' },
  GW_ERR_PLUGIN_TIMEOUT: { status: 500, type: 'server_error', openaiCode: 'internal_error', expose: false,
    message: 'plugin "%s" timed out' },
  GW_ERR_SHUTTING_DOWN: { status: 503, type: 'server_error', openaiCode: 'shutting_down', expose: true,
    message: 'the gateway is shutting down' },
  GW_ERR_SHUTDOWN_CUT: { status: 503, type: 'server_error', openaiCode: 'shutting_down', expose: true,
    message: 'the gateway shut down before this request finished: its grace period ran out' },
  GW_ERR_INTERNAL: { status: 500, type: 'server_error', openaiCode: 'internal_error', expose: false,
    message: 'internal error' },
});

const GENERIC = 'the gateway failed to process this request; quote the X-Request-Id header when reporting it';

/** The only error type thrown across module boundaries. Carries its table row, filled message and optional extras. */
export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  /** The table row (non-enumerable: loggers must not walk into the frozen table). */
  declare readonly def: ErrorDef;
  /** Extra response headers (Retry-After, x-ratelimit-*). */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** OpenAI `param` field. */
  readonly param: string | null;

  constructor(def: ErrorDef, args: readonly (string | number)[] = [],
    opts: { cause?: unknown; headers?: Record<string, string>; param?: string } = {}) {
    let i = 0;
    super(def.message.replace(/%s/g, () => String(args[i++] ?? '')), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    Object.defineProperty(this, 'def', { value: def, enumerable: false });
    this.code = def.code;
    this.status = def.status;
    this.expose = def.expose;
    this.headers = opts.headers;
    this.param = opts.param ?? null;
  }

  /** The OpenAI-shaped wire body; the message is generic when `expose` is false. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.expose ? this.message : GENERIC, type: this.def.type, param: this.param, code: this.def.openaiCode } };
  }
}

/** Wraps anything thrown into a GatewayError (unknown errors become GW_ERR_INTERNAL, cause kept). */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : new GatewayError(E.GW_ERR_INTERNAL, [], { cause: err });
}
