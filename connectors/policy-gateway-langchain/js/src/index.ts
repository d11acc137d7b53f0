// LangChain.js connector: `buildPolicyGatewayChat` returns a ChatOpenAI pointed at Policy Gateway with the policy
// headers and `policy_id`, and `PolicyAuditCallbackHandler` records each answer's `policy` block (or error).
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { LLMResult } from '@langchain/core/outputs';

/** The gateway's `policy` block (integration contract), as it rides on JSON answers and the last SSE chunk. */
export interface PolicyBlock {
  readonly policy_id: string;
  readonly decision: string;
  readonly effective_decision: string;
  readonly reason_code: string;
  readonly triggered_categories: readonly string[];
  readonly allowlist_hits: readonly string[];
  readonly denylist_hits: readonly string[];
  readonly rollout_mode: string | null;
  readonly enforced: boolean | null;
  readonly policy_target: string | null;
  readonly policy_user: string | null;
  readonly project_id: string | null;
  readonly [field: string]: unknown;
}

/** OpenAI's error object, `{"error": {…}}`'s inner part. */
export interface OpenAIErrorObject {
  readonly message: string;
  readonly type: string | null;
  readonly param: string | null;
  readonly code: string | null;
}

/** What {@link PolicyAuditCallbackHandler} records for one model call. */
export interface PolicyAuditRecord {
  /** LangChain's run id of the model call. */
  readonly runId: string;
  /** When the call ended (ISO 8601). */
  readonly at: string;
  /** HTTP status of the gateway's answer (403 for a refusal turned into an error by `refusalsAsErrors`). */
  readonly status: number;
  /** The chat completion id (`chatcmpl-…`), when there was an answer. */
  readonly responseId?: string;
  /** The gateway's `X-Request-Id`: quote it to find the gateway's audit record. */
  readonly requestId?: string;
  /** The policy block of the answer (absent for errors the gateway raised before deciding, e.g. 401 or 429). */
  readonly policy?: PolicyBlock;
  /** The OpenAI-shaped error, for failed calls. */
  readonly error?: OpenAIErrorObject;
  /** `Retry-After` in seconds, on 429. */
  readonly retryAfter?: number;
}

/** Options of {@link PolicyAuditCallbackHandler}. */
export interface PolicyAuditHandlerOptions {
  /** Called with each record as it is made. */
  readonly onRecord?: (record: PolicyAuditRecord) => void;
  /** How many records `records` keeps (oldest dropped first; default 1000). */
  readonly maxRecords?: number;
}

/** A policy block seen on the wire, waiting for LangChain to end the run it belongs to. */
interface Captured { readonly policy: PolicyBlock; readonly requestId: string | undefined }

/** How many captured blocks may wait for their run to end (a model used without this handler must not grow memory). */
const MAX_PENDING = 256;
/** Longest SSE line scanned for the policy block; longer lines pass through unscanned. */
const MAX_SCANNED_LINE = 1 << 20;

/**
 * A LangChain callback handler that records each model answer's Policy Gateway `policy` block — decision,
 * reason code, triggered categories, user, project — and each error's status, OpenAI error body and Retry-After.
 *
 * LangChain's ChatOpenAI keeps neither the `policy` field of a JSON answer nor the SSE chunk that carries it
 * (a chunk with `choices: []`), so the handler reads the block on the wire: {@link PolicyAuditCallbackHandler.fetchFor}
 * wraps the OpenAI client's `fetch` (bytes pass through unchanged) and files each block under its chat completion
 * id; `handleLLMEnd` matches it by the answer message's id. {@link buildPolicyGatewayChat} wires both.
 */
export class PolicyAuditCallbackHandler extends BaseCallbackHandler {
  name = 'policy_gateway_audit';
  /** The records so far, oldest first (at most `maxRecords`). */
  readonly records: PolicyAuditRecord[] = [];
  readonly #pending = new Map<string, Captured[]>();
  readonly #onRecord: ((record: PolicyAuditRecord) => void) | undefined;
  readonly #maxRecords: number;

  constructor(options: PolicyAuditHandlerOptions = {}) {
    super();
    this.#onRecord = options.onRecord;
    this.#maxRecords = options.maxRecords ?? 1000;
    if (!Number.isSafeInteger(this.#maxRecords) || this.#maxRecords < 1) throw new TypeError('maxRecords must be a positive integer');
  }

  /** The policy block recorded for an answer message (`AIMessage`/`AIMessageChunk`), matched by its id. */
  policyFor(message: { readonly id?: string | undefined }): PolicyBlock | undefined {
    if (message.id === undefined) return undefined;
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i]!.responseId === message.id) return this.records[i]!.policy;
    return undefined;
  }

  /**
   * Wraps `base` (default: the global fetch) for the OpenAI client: answers pass through unchanged while their policy
   * blocks are filed for this handler. With `refusalsAsErrors`, an answer the policy refused becomes an HTTP 403 with
   * an OpenAI error body `{"error": {"message": <refusal text>, "type": "policy_refusal", "param": null, "code":
   * <reason_code>, "policy": {…}}}`, which the OpenAI SDK and LangChain raise like any API error.
   */
  fetchFor(options: { readonly base?: typeof fetch; readonly refusalsAsErrors?: boolean } = {}): typeof fetch {
    const base = options.base ?? fetch;
    const refusalsAsErrors = options.refusalsAsErrors ?? false;
    return async (input, init) => {
      const res = await base(input, init);
      const requestId = res.headers.get('x-request-id') ?? undefined;
      const type = res.headers.get('content-type') ?? '';
      if (!res.ok || res.body === null) return res;
      if (type.startsWith('text/event-stream')) {
        if (refusalsAsErrors && res.headers.get('x-policy-effective-decision') === 'refuse') return refusalError(await readRefusedStream(res), res);
        return new Response(res.body.pipeThrough(this.#sseScanner(requestId)), { status: res.status, statusText: res.statusText, headers: decodedHeaders(res) });
      }
      if (!type.includes('json')) return res;
      const text = await res.text();
      const answer = parseObject(text);
      const policy = answer?.policy as PolicyBlock | undefined;
      if (refusalsAsErrors && policy?.effective_decision === 'refuse') {
        const choice = (answer!.choices as { message?: { content?: unknown } }[] | undefined)?.[0];
        return refusalError({ text: typeof choice?.message?.content === 'string' ? choice.message.content : '', policy }, res);
      }
      if (policy && typeof answer!.id === 'string') this.#capture(answer!.id, policy, requestId);
      return new Response(text, { status: res.status, statusText: res.statusText, headers: decodedHeaders(res) });
    };
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    for (const generations of output.generations) {
      for (const gen of generations) {
        const id = (gen as { message?: { id?: string } }).message?.id;
        const captured = id === undefined ? undefined : this.#take(id);
        this.#record({ runId, at: new Date().toISOString(), status: 200, ...(id !== undefined && { responseId: id }), ...(captured?.requestId !== undefined && { requestId: captured.requestId }), ...(captured && { policy: captured.policy }) });
      }
    }
  }

  override handleLLMError(err: unknown, runId: string): void {
    const e = err as { status?: unknown; error?: unknown; headers?: unknown; message?: unknown };
    const headers = toHeaders(e.headers);
    const body = (typeof e.error === 'object' && e.error !== null ? e.error : {}) as Record<string, unknown>;
    const inner = (typeof body.error === 'object' && body.error !== null ? body.error : body) as Record<string, unknown>;
    const retry = Number(headers?.get('retry-after') ?? NaN);
    const policy = (body.policy ?? inner.policy) as PolicyBlock | undefined;
    this.#record({
      runId,
      at: new Date().toISOString(),
      status: typeof e.status === 'number' ? e.status : 0,
      ...(headers?.get('x-request-id') && { requestId: headers.get('x-request-id')! }),
      error: {
        message: typeof inner.message === 'string' ? inner.message : String(e.message ?? err),
        type: typeof inner.type === 'string' ? inner.type : null,
        param: typeof inner.param === 'string' ? inner.param : null,
        code: typeof inner.code === 'string' ? inner.code : null,
      },
      ...(Number.isFinite(retry) && { retryAfter: retry }),
      ...(policy && { policy }),
    });
  }

  #record(record: PolicyAuditRecord): void {
    this.records.push(record);
    if (this.records.length > this.#maxRecords) this.records.splice(0, this.records.length - this.#maxRecords);
    this.#onRecord?.(record);
  }

  #capture(responseId: string, policy: PolicyBlock, requestId: string | undefined): void {
    // Upstreams may reuse ids (some fakes and proxies do): blocks of one id queue in arrival order.
    const queue = this.#pending.get(responseId);
    if (queue) queue.push({ policy, requestId });
    else this.#pending.set(responseId, [{ policy, requestId }]);
    if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
  }

  #take(responseId: string): Captured | undefined {
    const queue = this.#pending.get(responseId);
    const first = queue?.shift();
    if (queue && queue.length === 0) this.#pending.delete(responseId);
    return first;
  }

  /** Passes SSE bytes through unchanged and files the policy block of the chunk that carries it. */
  #sseScanner(requestId: string | undefined): TransformStream<Uint8Array, Uint8Array> {
    const decoder = new TextDecoder();
    let line = '';
    const scan = (text: string) => {
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        const full = line + text.slice(start, nl);
        line = '';
        start = nl + 1;
        if (full.startsWith('data: {') && full.includes('"policy"')) {
          const chunk = parseObject(full.slice(6));
          if (chunk?.policy && typeof chunk.id === 'string') this.#capture(chunk.id, chunk.policy as PolicyBlock, requestId);
        }
      }
      line += text.slice(start);
      if (line.length > MAX_SCANNED_LINE) line = line.slice(-16); // a huge line is not the policy chunk's
    };
    return new TransformStream({
      transform(bytes, controller) {
        controller.enqueue(bytes);
        scan(decoder.decode(bytes, { stream: true }));
      },
      flush() { scan(`${decoder.decode()}\n`); },
    });
  }
}

/** Options of {@link buildPolicyGatewayChat}: the policy metadata plus any ChatOpenAI field. */
export interface PolicyGatewayChatOptions extends Omit<ChatOpenAIFields, 'apiKey'> {
  /** The policy key. Default: `POLICY_GATEWAY_KEY`; none: a placeholder (open policies need no key). */
  readonly apiKey?: string | undefined;
  /** Sent as the body field `policy_id`. Default: `POLICY_GATEWAY_POLICY_ID`. */
  readonly policyId?: string | undefined;
  /** Sent as `X-Policy-User` (per-user quotas and audit). */
  readonly policyUser?: string | undefined;
  /** Sent as `X-Policy-Project`. Default: `POLICY_GATEWAY_PROJECT_ID`. */
  readonly policyProjectId?: string | undefined;
  /** Sent as `X-Policy-Target`. Default: `POLICY_GATEWAY_TARGET`. */
  readonly policyTarget?: string | undefined;
  /** The gateway base URL. Default: `POLICY_GATEWAY_BASE_URL`, else `http://localhost:5000/policy` (local dev mode). */
  readonly baseUrl?: string | undefined;
  /** The handler that records policy blocks; default: a new one (find it with {@link policyAuditHandlerOf}). */
  readonly auditHandler?: PolicyAuditCallbackHandler;
  /** Raise refusals as errors (HTTP 403, `type: "policy_refusal"`, `code`: the reason code) instead of returning the refusal text. */
  readonly refusalsAsErrors?: boolean;
}

/** The local dev mode base URL. */
export const DEFAULT_BASE_URL = 'http://localhost:5000/policy';

/**
 * Returns a `ChatOpenAI` that talks to Policy Gateway: base URL and policy key set, `policy_id` in every request
 * body (`modelKwargs`), `X-Policy-User` / `X-Policy-Project` / `X-Policy-Target` on every request
 * (`configuration.defaultHeaders`), and a {@link PolicyAuditCallbackHandler} in its callbacks whose fetch wrapper
 * reads the policy blocks. Gateway errors surface as the OpenAI SDK's errors (`status`, `error` = the OpenAI error
 * body, `headers` with `retry-after`), which LangChain raises from `invoke`/`stream`. `maxRetries` defaults to 2,
 * `model` to `POLICY_GATEWAY_MODEL` (else ChatOpenAI's own default).
 */
export function buildPolicyGatewayChat(options: PolicyGatewayChatOptions = {}): ChatOpenAI {
  const env = process.env;
  const { apiKey, policyId, policyUser, policyProjectId, policyTarget, baseUrl, auditHandler, refusalsAsErrors, configuration, modelKwargs, callbacks, ...fields } = options;
  const handler = auditHandler ?? new PolicyAuditCallbackHandler();
  const headers: Record<string, string> = {};
  if (policyUser) headers['X-Policy-User'] = policyUser;
  const project = policyProjectId ?? env.POLICY_GATEWAY_PROJECT_ID;
  if (project) headers['X-Policy-Project'] = project;
  const target = policyTarget ?? env.POLICY_GATEWAY_TARGET;
  if (target) headers['X-Policy-Target'] = target;
  const pid = policyId ?? env.POLICY_GATEWAY_POLICY_ID;
  const defaults = (configuration?.defaultHeaders ?? {}) as Record<string, string>;
  const model = fields.model ?? fields.modelName ?? env.POLICY_GATEWAY_MODEL;
  return new ChatOpenAI({
    maxRetries: 2,
    ...fields,
    ...(model && { model }),
    apiKey: apiKey ?? env.POLICY_GATEWAY_KEY ?? 'no-policy-key',
    modelKwargs: { ...modelKwargs, ...(pid && { policy_id: pid }) },
    configuration: {
      ...configuration,
      baseURL: baseUrl ?? env.POLICY_GATEWAY_BASE_URL ?? DEFAULT_BASE_URL,
      defaultHeaders: { ...defaults, ...headers },
      fetch: handler.fetchFor({ base: configuration?.fetch as typeof fetch | undefined, refusalsAsErrors }),
    },
    callbacks: withHandler(callbacks, handler),
  });
}

/** The {@link PolicyAuditCallbackHandler} a model made by {@link buildPolicyGatewayChat} records into. */
export function policyAuditHandlerOf(model: ChatOpenAI): PolicyAuditCallbackHandler | undefined {
  const cbs = model.callbacks;
  const list = Array.isArray(cbs) ? cbs : (cbs as { handlers?: unknown[] } | undefined)?.handlers ?? [];
  return list.find((h): h is PolicyAuditCallbackHandler => h instanceof PolicyAuditCallbackHandler);
}

function withHandler(callbacks: ChatOpenAIFields['callbacks'], handler: PolicyAuditCallbackHandler): ChatOpenAIFields['callbacks'] {
  if (callbacks === undefined) return [handler];
  if (Array.isArray(callbacks)) return [...callbacks, handler];
  callbacks.addHandler(handler);
  return callbacks;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** The headers of a response whose body is handed on decoded (fetch already undid any content-encoding). */
function decodedHeaders(res: Response): Headers {
  const headers = new Headers(res.headers);
  headers.delete('content-encoding');
  headers.delete('content-length');
  return headers;
}

function toHeaders(h: unknown): Headers | undefined {
  if (h instanceof Headers) return h;
  if (typeof h === 'object' && h !== null) return new Headers(h as Record<string, string>);
  return undefined;
}

/** Reads a refused SSE answer (short: the gateway writes it locally) into its text and policy block. */
async function readRefusedStream(res: Response): Promise<{ text: string; policy: PolicyBlock | undefined }> {
  const body = await res.text();
  let text = '';
  let policy: PolicyBlock | undefined;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = parseObject(line.slice(6));
    const delta = (chunk?.choices as { delta?: { content?: unknown } }[] | undefined)?.[0]?.delta?.content;
    if (typeof delta === 'string') text += delta;
    if (chunk?.policy) policy = chunk.policy as PolicyBlock;
  }
  return { text, policy };
}

/** The 403 an answer refused by the policy becomes under `refusalsAsErrors`. */
function refusalError(refusal: { text: string; policy: PolicyBlock | undefined }, res: Response): Response {
  const headers = decodedHeaders(res);
  headers.set('content-type', 'application/json');
  // The policy block rides inside the error object: the OpenAI SDK keeps that object (as `error`) and drops the rest.
  const body = { error: { message: refusal.text || 'refused by policy', type: 'policy_refusal', param: null, code: refusal.policy?.reason_code ?? 'REFUSE', policy: refusal.policy } };
  return new Response(JSON.stringify(body), { status: 403, statusText: 'Forbidden', headers });
}
