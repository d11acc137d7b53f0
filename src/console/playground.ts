// The console's playground: checks what the page sent (a request, an optional upstream answer, a loaded policy or a
// draft pasted into the page) and runs the policy author's `explain` (src/author/explain.ts) on it; the result —
// the decision and its full evaluation trace, or the draft's diagnostics — goes back as plain JSON.
import type { ExplainInput, ExplainMeta, ExplainResult } from '../author/explain.ts';
import { E, GatewayError } from '../errors.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import { ENDPOINTS, type Endpoint } from '../sdk/types.ts';

/** Longest draft policy accepted from the page (explain takes up to 1 MiB; the playground body is capped at 1 MiB). */
export const MAX_DRAFT_CHARS = 256 * 1024;

/** What the page sends. */
export interface PlaygroundInput {
  /** The policy to run: a loaded one, or one of the draft's (default: the draft's first policy). */
  readonly policy_id: string;
  /** A draft policy file's text; absent: run the loaded policy. */
  readonly source?: string;
  /** The request body as a client would send it. */
  readonly request: Record<string, unknown>;
  /** The upstream's answer to run through the response hooks: an answer object, or a stream as an array of SSE data events. */
  readonly answer?: Record<string, unknown> | readonly unknown[];
  /** Request metadata the headers would carry, and the endpoint (default chat). */
  readonly meta?: ExplainMeta;
}

const bad = (msg: string): GatewayError => new GatewayError(E.GW_ERR_CONSOLE_BAD_REQUEST, [msg]);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const optString = (v: unknown, name: string, max = 256): string | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`"${name}" must be a string of at most ${max} characters`);
  return v;
};

/** The id of the first `policy "…"` in a draft, if any (the page may leave the id out for a one-policy draft). */
function firstPolicyId(source: string): string | undefined {
  return /^\s*policy\s+"([^"\n]{1,256})"/m.exec(source)?.[1];
}

/** Checks the page's input; throws GW_ERR_CONSOLE_BAD_REQUEST naming the first problem. */
export function parsePlaygroundInput(v: unknown): PlaygroundInput {
  if (!isObject(v)) throw bad('the playground body must be a JSON object { policy_id?, source?, request, answer?, meta? }');
  for (const k of Object.keys(v)) {
    if (!['policy_id', 'source', 'request', 'answer', 'meta'].includes(k)) throw bad(`unknown field "${k.slice(0, 64)}"`);
  }
  const source = optString(v.source, 'source', MAX_DRAFT_CHARS);
  const policyId = optString(v.policy_id, 'policy_id') ?? (source === undefined ? undefined : firstPolicyId(source));
  if (policyId === undefined) throw bad(source === undefined ? 'pick a loaded policy ("policy_id") or paste a draft ("source")' : 'the draft holds no `policy "…"`: name the policy to run ("policy_id")');
  if (!isObject(v.request)) throw bad('"request" must be the request body, a JSON object');
  if (v.answer !== undefined && v.answer !== null && typeof v.answer !== 'object') throw bad('"answer" must be the upstream answer (a JSON object) or its stream (an array of SSE data events)');
  let meta: ExplainMeta | undefined;
  if (v.meta !== undefined && v.meta !== null) {
    if (!isObject(v.meta)) throw bad('"meta" must be an object { user?, project?, target?, endpoint?, authorization? }');
    for (const k of Object.keys(v.meta)) if (!['user', 'project', 'target', 'endpoint', 'authorization'].includes(k)) throw bad(`unknown field "meta.${k.slice(0, 64)}"`);
    const authorization = optString(v.meta.authorization, 'meta.authorization', 512);
    const endpoint = optString(v.meta.endpoint, 'meta.endpoint') as Endpoint | undefined;
    if (endpoint !== undefined && !ENDPOINTS.includes(endpoint)) throw bad(`"meta.endpoint" must be one of ${ENDPOINTS.join(', ')}`);
    meta = {
      user: optString(v.meta.user, 'meta.user'), project: optString(v.meta.project, 'meta.project'), target: optString(v.meta.target, 'meta.target'),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(authorization === undefined ? {} : { headers: { authorization: /^bearer\s/i.test(authorization) ? authorization : `Bearer ${authorization}` } }),
    };
  }
  return { policy_id: policyId, source, request: v.request, answer: (v.answer ?? undefined) as PlaygroundInput['answer'], meta };
}

/** The explain module the playground calls (src/author/explain.ts). */
export interface ExplainApi {
  explainRequest(input: ExplainInput): Promise<ExplainResult>;
  renderExplain(result: ExplainResult): string;
}

/**
 * The playground runner: parses the input, then runs `explain` on the loaded set or the draft (fresh services: a
 * memory quota store, no audit, no webhooks — nothing the gateway serves is touched) and returns its result with the
 * rendered trace. A draft that does not compile comes back with `ok: false` and its diagnostics.
 */
export function playgroundRunner(loadExplain: () => Promise<ExplainApi>): (input: unknown, set: CompiledPolicySet) => Promise<unknown> {
  return async (raw, set) => {
    const input = parsePlaygroundInput(raw);
    const api = await loadExplain();
    const answer = input.answer;
    const result = await api.explainRequest({
      policyId: input.policy_id,
      rules: input.source === undefined ? set : { source: input.source, file: 'draft.policy' },
      request: input.request,
      ...(answer === undefined ? {} : Array.isArray(answer) ? { stream: answer } : { answer }),
      ...(input.meta === undefined ? {} : { meta: input.meta }),
    });
    return { result, rendered: api.renderExplain(result) };
  };
}
