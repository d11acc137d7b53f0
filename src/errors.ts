// Runtime errors (GW_ERR_*) and the GatewayError type. Core declares its own codes here (E); each plugin declares its
// codes in its definition, and `errorTable` assembles the one table of a gateway from core and the registered plugins.

/** One row of the error table. `expose: false` errors answer with a generic message. */
export interface ErrorDef {
  readonly code: string;
  readonly status: number;
  /** OpenAI error `type` field. */
  readonly type: string;
  /** OpenAI error `code` field (machine-readable, stable). */
  readonly openaiCode: string | null;
  /** The `reason_code` an audit record carries for a request rejected with this error (docs/reason-codes.md). */
  readonly reasonCode: string;
  readonly expose: boolean;
  /** Message template; each `%s` is filled from the args, in order. */
  readonly message: string;
}

/** What a table row declares (the code is its key). */
export type ErrorRow = Omit<ErrorDef, 'code'>;

/** Freezes a table of error rows keyed by code. Codes are `GW_ERR_<AREA>_<WHAT>`; never rename or reuse a shipped one. */
export function defineErrors<K extends string>(rows: Record<K, ErrorRow>): { readonly [P in K]: ErrorDef } {
  const out = {} as Record<K, ErrorDef>;
  for (const code of Object.keys(rows) as K[]) out[code] = Object.freeze({ code, ...rows[code] });
  return Object.freeze(out);
}

/** The reason codes core errors map onto, each with what it means (docs/reason-codes.md has a row for each). */
export const CORE_REASON_CODES: Readonly<Record<string, string>> = Object.freeze({
  NOT_FOUND: 'an unknown route, policy or model',
  INVALID_REQUEST: 'a request the gateway could not accept as sent (bad JSON, missing fields, limits, HTTP framing)',
  UPSTREAM_ERROR: 'the upstream model server failed, timed out or rejected the request',
  SERVICE_UNAVAILABLE: 'the gateway or a service it depends on cannot serve right now (overload, shutdown, an outage that fails closed)',
  INTERNAL_ERROR: 'a failure inside the gateway or a plugin; also any code without a mapping',
  POLICY_REFUSAL: 'a refusal or escalation answered as an error because the endpoint has no answer text (embeddings); the audit record keeps the decision and its own reason code',
});

const INVALID = 'invalid_request_error';

/** The runtime errors of the core (the edge, routing, upstreams, the chain). Plugins declare their own. */
export const E = defineErrors({
  GW_ERR_ROUTE_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'unknown_url', reasonCode: 'NOT_FOUND', expose: true,
    message: 'unknown route %s %s: make sure the base URL ends with /v1 (or /policy) and you call /chat/completions, /responses, /embeddings or /completions' },
  GW_ERR_ENDPOINT_NOT_SERVED: { status: 404, type: INVALID, openaiCode: 'endpoint_not_served', reasonCode: 'NOT_FOUND', expose: true,
    message: 'policy "%s" does not serve %s: its routes setting allows %s' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, type: INVALID, openaiCode: 'method_not_allowed', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'method %s is not allowed on %s' },
  GW_ERR_POLICY_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'policy_not_found', reasonCode: 'NOT_FOUND', expose: true,
    message: 'unknown policy_id "%s"' },
  GW_ERR_POLICY_ID_MISSING: { status: 400, type: INVALID, openaiCode: 'missing_policy_id', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'policy_id is required: send it in the body ("policy_id": "…")%s' },
  GW_ERR_METADATA_CONFLICT: { status: 400, type: INVALID, openaiCode: 'metadata_conflict', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'header %s and body field %s disagree' },
  GW_ERR_METADATA_INVALID: { status: 400, type: INVALID, openaiCode: 'invalid_metadata', reasonCode: 'INVALID_REQUEST', expose: true,
    message: '%s must be a non-empty string of at most 256 characters' },
  GW_ERR_BAD_JSON: { status: 400, type: INVALID, openaiCode: 'invalid_json', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request body is not valid JSON: %s' },
  GW_ERR_BODY_NOT_OBJECT: { status: 400, type: INVALID, openaiCode: 'invalid_body', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request body must be a JSON object' },
  GW_ERR_MODEL_MISSING: { status: 400, type: INVALID, openaiCode: 'invalid_model', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'missing or invalid "model": verify the model id (a non-empty string)' },
  GW_ERR_INPUT_INVALID: { status: 400, type: INVALID, openaiCode: 'invalid_input', reasonCode: 'INVALID_REQUEST', expose: true,
    message: '"%s" is not valid: %s' },
  GW_ERR_INPUT_UNREADABLE: { status: 400, type: INVALID, openaiCode: 'unreadable_input', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'policy "%s" reads the text of every prompt, but this request sends token ids: send "%s" as text' },
  GW_ERR_STATEFUL_REQUEST: { status: 400, type: INVALID, openaiCode: 'stateful_request', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'policy "%s" is stateless: %s is not accepted (the gateway must see every turn it applies the policy to)' },
  GW_ERR_POLICY_REFUSED: { status: 403, type: INVALID, openaiCode: 'policy_refused', reasonCode: 'POLICY_REFUSAL', expose: true,
    message: 'policy "%s" refused this request: %s' },
  GW_ERR_TRACE_FORBIDDEN: { status: 403, type: 'permission_error', openaiCode: 'trace_forbidden', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'this request may not ask for an evaluation trace (x-policy-gateway-explain): %s' },
  GW_ERR_MESSAGES_INVALID: { status: 400, type: INVALID, openaiCode: 'invalid_messages', reasonCode: 'INVALID_REQUEST', expose: true,
    message: '"messages" must be an array of { role, content } objects: %s' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, type: INVALID, openaiCode: 'request_too_large', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'request body is larger than the limit of %s bytes' },
  GW_ERR_JSON_TOO_DEEP: { status: 400, type: INVALID, openaiCode: 'json_too_deep', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request body nests arrays and objects deeper than the limit of %s levels (the body object is level 1)' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: INVALID, openaiCode: 'unsupported_media_type', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'Content-Type must be application/json' },
  GW_ERR_UNSUPPORTED_ENCODING: { status: 415, type: INVALID, openaiCode: 'unsupported_content_encoding', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'Content-Encoding "%s" is not supported: send the body uncompressed (identity) or as gzip, deflate or br' },
  GW_ERR_BAD_ENCODING: { status: 400, type: INVALID, openaiCode: 'invalid_content_encoding', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request body is not valid %s data' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, type: INVALID, openaiCode: 'request_timeout', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request did not arrive in time: its headers and body must arrive within %s' },
  GW_ERR_EXPECTATION_FAILED: { status: 417, type: INVALID, openaiCode: 'expectation_failed', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the Expect header can only be "100-continue"' },
  GW_ERR_HEADERS_TOO_LARGE: { status: 431, type: INVALID, openaiCode: 'headers_too_large', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the request headers are larger than the limit of %s bytes' },
  GW_ERR_BAD_HTTP: { status: 400, type: INVALID, openaiCode: 'invalid_http', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'malformed HTTP request: %s' },
  GW_ERR_OVERLOADED: { status: 503, type: 'server_error', openaiCode: 'overloaded', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the gateway has too many open connections: retry in a moment' },
  GW_ERR_MODEL_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'model_not_found', reasonCode: 'NOT_FOUND', expose: true,
    message: 'no upstream serves model "%s"' },
  GW_ERR_UPSTREAM_UNREACHABLE: { status: 502, type: 'server_error', openaiCode: 'upstream_unreachable', reasonCode: 'UPSTREAM_ERROR', expose: true,
    message: 'the upstream model server could not be reached' },
  GW_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, type: 'server_error', openaiCode: 'upstream_bad_response', reasonCode: 'UPSTREAM_ERROR', expose: true,
    message: 'the upstream model server sent an invalid response' },
  GW_ERR_UPSTREAM_REJECTED: { status: 400, type: INVALID, openaiCode: 'upstream_rejected', reasonCode: 'UPSTREAM_ERROR', expose: true,
    message: 'the upstream model server rejected the request with status %s (its error body is passed through)' },
  GW_ERR_UPSTREAM_INTERRUPTED: { status: 502, type: 'server_error', openaiCode: 'upstream_interrupted', reasonCode: 'UPSTREAM_ERROR', expose: true,
    message: 'the upstream model server broke off its answer before it was complete' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'server_error', openaiCode: 'upstream_timeout', reasonCode: 'UPSTREAM_ERROR', expose: true,
    message: 'the upstream model server did not answer in time' },
  GW_ERR_PLUGIN_FAILED: { status: 500, type: 'server_error', openaiCode: 'internal_error', reasonCode: 'INTERNAL_ERROR', expose: false,
    message: 'plugin "%s" failed' },
  GW_ERR_PLUGIN_TIMEOUT: { status: 500, type: 'server_error', openaiCode: 'internal_error', reasonCode: 'INTERNAL_ERROR', expose: false,
    message: 'plugin "%s" timed out' },
  GW_ERR_SHUTTING_DOWN: { status: 503, type: 'server_error', openaiCode: 'shutting_down', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the gateway is shutting down' },
  GW_ERR_SHUTDOWN_CUT: { status: 503, type: 'server_error', openaiCode: 'shutting_down', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the gateway shut down before this request finished: its grace period ran out' },
  GW_ERR_CONSOLE_KEY_MISSING: { status: 401, type: INVALID, openaiCode: 'missing_api_key', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the console needs an admin key: send "Authorization: Bearer <key>" with a key whose --console-keys entry has grants=admin' },
  GW_ERR_CONSOLE_KEY_INVALID: { status: 401, type: INVALID, openaiCode: 'invalid_api_key', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'the console key is unknown, wrong or expired' },
  GW_ERR_CONSOLE_FORBIDDEN: { status: 403, type: 'permission_error', openaiCode: 'forbidden', reasonCode: 'INVALID_REQUEST', expose: true,
    message: 'key "%s" may not open the console: its entry in the --console-keys file has no admin grant' },
  GW_ERR_CONSOLE_NOT_FOUND: { status: 404, type: INVALID, openaiCode: 'unknown_url', reasonCode: 'NOT_FOUND', expose: true,
    message: 'unknown console route %s %s: the console is under /console' },
  GW_ERR_CONSOLE_BAD_REQUEST: { status: 400, type: INVALID, openaiCode: 'invalid_console_request', reasonCode: 'INVALID_REQUEST', expose: true,
    message: '%s' },
  GW_ERR_CONSOLE_BUSY: { status: 503, type: 'server_error', openaiCode: 'console_busy', reasonCode: 'SERVICE_UNAVAILABLE', expose: true,
    message: 'the console already streams to %s clients (the limit): close one and retry' },
  GW_ERR_INTERNAL: { status: 500, type: 'server_error', openaiCode: 'internal_error', reasonCode: 'INTERNAL_ERROR', expose: false,
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

  /** The reason code of this error (what an audit record of a request rejected with it carries). */
  get reasonCode(): string {
    return this.def.reasonCode;
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

/** The error declarations of a plugin, as the error table reads them. */
export interface ErrorSource {
  readonly name: string;
  readonly errors?: Readonly<Record<string, ErrorDef>>;
}

/** One row of an assembled error table: the definition and who declared it (`core` or a plugin name). */
export interface ErrorTableRow {
  readonly def: ErrorDef;
  readonly owner: string;
}

/**
 * The one table of GW_ERR_* codes of a gateway: core's (E) followed by each plugin's, in registry order. Throws when a
 * code is declared twice or a row's key and code differ (a registry mistake, found at startup and by the tests).
 */
export function errorTable(plugins: readonly ErrorSource[]): ReadonlyMap<string, ErrorTableRow> {
  const out = new Map<string, ErrorTableRow>();
  const add = (owner: string, rows: Readonly<Record<string, ErrorDef>>) => {
    for (const [key, def] of Object.entries(rows)) {
      if (key !== def.code) throw new Error(`${owner}: error "${key}" is defined with code "${def.code}"`);
      const prev = out.get(key);
      if (prev) throw new Error(`error code ${key} is declared by both ${prev.owner} and ${owner}`);
      out.set(key, Object.freeze({ def, owner }));
    }
  };
  add('core', E);
  for (const p of plugins) if (p.errors) add(`plugin "${p.name}"`, p.errors);
  return out;
}

/** The reason code of error `code` in `table`; INTERNAL_ERROR for a code the table does not hold. Never throws. */
export function reasonCodeForError(table: ReadonlyMap<string, ErrorTableRow>, code: string): string {
  return table.get(code)?.def.reasonCode ?? 'INTERNAL_ERROR';
}
