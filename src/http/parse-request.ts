// Request validation and metadata (README, "HTTP contract"): one JSON parse, checks on `model` and the endpoint's prompt fields (chat
// `messages`, Responses `input`/`instructions`, embeddings `input`, completions `prompt`/`suffix`), the policy_* fields
// taken out of the body (so they never reach the upstream), headers and body reconciled.
import type { IncomingHttpHeaders } from 'node:http';
import { E, GatewayError } from '../errors.ts';
import { DEFAULT_MAX_JSON_DEPTH } from '../json-depth.ts';
import type { ApiRequest, ChatRequest, Endpoint } from '../sdk/types.ts';
import { countKeys, scanRequestBody, type BodyScan } from './request-bytes.ts';

/** Metadata fields: header name (lower-case) and body field. */
const META = [
  { key: 'policyId', header: 'x-policy-id', field: 'policy_id' },
  { key: 'user', header: 'x-policy-user', field: 'policy_user' },
  { key: 'project', header: 'x-policy-project', field: 'policy_project_id' },
  { key: 'target', header: 'x-policy-target', field: 'policy_target' },
] as const;

export interface ParsedRequest<R extends ApiRequest = ApiRequest> {
  readonly request: R;
  readonly policyId: string | null;
  readonly user: string | null;
  readonly project: string | null;
  readonly target: string | null;
  /** Where policy_id came from (the /policy route requires the body). */
  readonly policyIdFrom: 'body' | 'header' | null;
  /** True when the body carried `policy_*` fields (removed from `request`, spliced out of the bytes that go upstream). */
  readonly stripped: boolean;
  /** Where the members of the client's bytes are (for splicing them instead of re-serialising). */
  readonly scan: BodyScan;
  /** True when an object of the body repeats a key: then parsers disagree on it, and only a re-serialised body goes upstream. */
  readonly duplicateKeys: boolean;
}

const MAX_META = 256;

function metaValue(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_META) throw new GatewayError(E.GW_ERR_METADATA_INVALID, [name], { param: name });
  return v;
}

function validateMessages(messages: unknown): void {
  if (!Array.isArray(messages)) throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, ['"messages" is missing or not an array'], { param: 'messages' });
  if (messages.length === 0) throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, ['"messages" is empty'], { param: 'messages' });
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { role?: unknown; content?: unknown; tool_calls?: unknown } | null;
    if (m !== null && typeof m === 'object' && typeof m.role === 'string' && m.role.length > 0 && typeof m.content === 'string') continue; // the common case
    const at = `messages[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, [`${at} is not an object`], { param: at });
    if (typeof m.role !== 'string' || m.role.length === 0) throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, [`${at}.role must be a non-empty string`], { param: `${at}.role` });
    const c = m.content;
    if (typeof c === 'string') continue;
    if (Array.isArray(c)) {
      for (let j = 0; j < c.length; j++) {
        const p = c[j] as { type?: unknown } | null;
        if (p === null || typeof p !== 'object' || typeof p.type !== 'string') {
          throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, [`${at}.content[${j}] must be a content part object with a "type"`], { param: `${at}.content` });
        }
      }
      continue;
    }
    // null/absent content is valid only for assistant messages carrying tool calls (OpenAI's rule).
    if ((c === null || c === undefined) && m.role === 'assistant' && m.tool_calls !== undefined) continue;
    throw new GatewayError(E.GW_ERR_MESSAGES_INVALID, [`${at}.content must be a string or an array of content parts`], { param: `${at}.content` });
  }
}

const invalid = (field: string, detail: string, param = field): GatewayError => new GatewayError(E.GW_ERR_INPUT_INVALID, [field, detail], { param });
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Content parts: objects with a string `type`. */
function validateParts(parts: unknown[], at: string): void {
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j];
    if (!isObject(p) || typeof p.type !== 'string') throw invalid('input', `${at}.content[${j}] must be a content part object with a "type"`, `${at}.content`);
  }
}

/**
 * Responses: `instructions` a string (or null), `input` a string or a list of input items — messages (`role` and a
 * string or parts as `content`) or typed items (a string `type`) — or absent (a stored prompt may supply it).
 */
function validateResponses(b: Record<string, unknown>): void {
  const ins = b.instructions;
  if (ins !== undefined && ins !== null && typeof ins !== 'string') throw invalid('instructions', 'it must be a string');
  const input = b.input;
  if (input === undefined || typeof input === 'string') return;
  if (!Array.isArray(input)) throw invalid('input', 'it must be a string or an array of input items');
  for (let i = 0; i < input.length; i++) {
    const it = input[i];
    const at = `input[${i}]`;
    if (!isObject(it)) throw invalid('input', `${at} is not an object`, at);
    if (it.type !== undefined && typeof it.type !== 'string') throw invalid('input', `${at}.type must be a string`, `${at}.type`);
    if (it.type !== undefined && it.type !== 'message') continue;
    if (typeof it.role !== 'string' || it.role.length === 0) throw invalid('input', `${at}.role must be a non-empty string`, `${at}.role`);
    if (typeof it.content === 'string') continue;
    if (!Array.isArray(it.content)) throw invalid('input', `${at}.content must be a string or an array of content parts`, `${at}.content`);
    validateParts(it.content, at);
  }
}

/** Embeddings `input`, completions `prompt`: a string, strings, token ids, or arrays of token ids. */
function textOrTokens(v: unknown, field: string, required: boolean): void {
  if (v === undefined || v === null) {
    if (required) throw invalid(field, 'it is required: a string, an array of strings, or token ids');
    return;
  }
  if (typeof v === 'string') return;
  const bad = () => invalid(field, 'it must be a string, an array of strings, an array of token ids (integers) or an array of token-id arrays');
  if (!Array.isArray(v)) throw bad();
  if (v.length === 0) {
    if (required) throw invalid(field, 'it is empty');
    return;
  }
  const first = v[0];
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  const every = typeof first === 'string' ? v.every((x) => typeof x === 'string')
    : isInt(first) ? v.every(isInt)
      : Array.isArray(first) ? v.every((x) => Array.isArray(x) && x.length > 0 && x.every(isInt)) : false;
  if (!every) throw bad();
}

/** Checks the endpoint's own fields of a request body (its prompt); throws the GatewayError that answers it otherwise. */
function validateEndpoint(endpoint: Endpoint, b: Record<string, unknown>): void {
  switch (endpoint) {
    case 'chat': validateMessages(b.messages); return;
    case 'responses': validateResponses(b); return;
    case 'embeddings': textOrTokens(b.input, 'input', true); return;
    case 'completions':
      textOrTokens(b.prompt, 'prompt', false);
      if (b.suffix !== undefined && b.suffix !== null && typeof b.suffix !== 'string') throw invalid('suffix', 'it must be a string');
  }
}

/** Parses and validates a chat completion body (see parseApiRequest). */
export function parseChatRequest(raw: Buffer, headers: IncomingHttpHeaders, maxDepth = DEFAULT_MAX_JSON_DEPTH): ParsedRequest<ChatRequest> {
  return parseApiRequest('chat', raw, headers, maxDepth) as ParsedRequest<ChatRequest>;
}

/**
 * Parses and validates a request body of `endpoint`, removing the `policy_*` fields, and reconciles metadata with
 * headers: a header and a body field that disagree is a 400. On /policy routes `policy_id` comes from the body; an
 * X-Policy-Id header must then agree with it. A body nesting arrays and objects deeper than `maxDepth` is refused
 * before it is parsed (GW_ERR_JSON_TOO_DEEP), so everything that later walks the request recursively (JSON.stringify
 * on the way upstream, plugins, audit capture) is bounded by that depth.
 */
export function parseApiRequest(endpoint: Endpoint, raw: Buffer, headers: IncomingHttpHeaders, maxDepth = DEFAULT_MAX_JSON_DEPTH): ParsedRequest {
  const scan = scanRequestBody(raw, maxDepth);
  if (scan.tooDeep) throw new GatewayError(E.GW_ERR_JSON_TOO_DEEP, [maxDepth]);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new GatewayError(E.GW_ERR_BAD_JSON, [(e as Error).message]);
  }
  const duplicateKeys = countKeys(body) !== scan.members;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new GatewayError(E.GW_ERR_BODY_NOT_OBJECT);
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) throw new GatewayError(E.GW_ERR_MODEL_MISSING, [], { param: 'model' });
  validateEndpoint(endpoint, b);
  const out: Record<string, string | null> = {};
  let policyIdFrom: 'body' | 'header' | null = null;
  let stripped = false;
  for (const m of META) {
    const fromBody = metaValue(b[m.field], m.field);
    if (m.field in b) { delete b[m.field]; stripped = true; }
    const h = headers[m.header];
    const fromHeader = metaValue(Array.isArray(h) ? h[0] : h, m.header);
    if (fromBody !== null && fromHeader !== null && fromBody !== fromHeader) {
      throw new GatewayError(E.GW_ERR_METADATA_CONFLICT, [`X-${m.header.slice(2).replace(/(^|-)(\w)/g, (_s, d: string, c: string) => d + c.toUpperCase())}`, m.field], { param: m.field });
    }
    out[m.key] = fromBody ?? fromHeader;
    if (m.key === 'policyId') policyIdFrom = fromBody !== null ? 'body' : fromHeader !== null ? 'header' : null;
  }
  return { request: b as unknown as ApiRequest, policyId: out.policyId!, user: out.user!, project: out.project!, target: out.target!, policyIdFrom, stripped, scan, duplicateKeys };
}
