// The console's playground: checks what the page sent (a request, an optional upstream answer, a loaded policy or a
// draft pasted into the page) and runs the policy author's `explain` (src/author/explain.ts) on it; the result —
// the decision and its full evaluation trace, or the draft's diagnostics — goes back as plain JSON.
import { E, GatewayError } from '../errors.ts';
import type { CompiledPolicySet } from '../policy/types.ts';

/** Longest draft policy accepted from the page. */
export const MAX_DRAFT_CHARS = 256 * 1024;

/** What the page sends. */
export interface PlaygroundInput {
  /** The policy to run: a loaded one, or one of the draft's (optional when the draft holds one policy). */
  readonly policy_id?: string;
  /** A draft policy file's text; absent: run the loaded policy. */
  readonly source?: string;
  /** The request body as a client would send it. */
  readonly request: Record<string, unknown>;
  /** The upstream's answer to replay through the response hooks (an answer object), if any. */
  readonly answer?: unknown;
  readonly stream?: boolean;
  /** Request metadata the headers would carry (user, project, target). */
  readonly meta?: { readonly user?: string; readonly project?: string; readonly target?: string };
}

const bad = (msg: string): GatewayError => new GatewayError(E.GW_ERR_CONSOLE_BAD_REQUEST, [msg]);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const optString = (v: unknown, name: string, max = 256): string | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`"${name}" must be a string of at most ${max} characters`);
  return v;
};

/** Checks the page's input; throws GW_ERR_CONSOLE_BAD_REQUEST naming the first problem. */
export function parsePlaygroundInput(v: unknown): PlaygroundInput {
  if (!isObject(v)) throw bad('the playground body must be a JSON object { policy_id?, source?, request, answer?, stream?, meta? }');
  for (const k of Object.keys(v)) {
    if (!['policy_id', 'source', 'request', 'answer', 'stream', 'meta'].includes(k)) throw bad(`unknown field "${k.slice(0, 64)}"`);
  }
  const policyId = optString(v.policy_id, 'policy_id');
  const source = optString(v.source, 'source', MAX_DRAFT_CHARS);
  if (policyId === undefined && source === undefined) throw bad('pick a loaded policy ("policy_id") or paste a draft ("source")');
  if (!isObject(v.request)) throw bad('"request" must be the request body, a JSON object');
  if (v.stream !== undefined && typeof v.stream !== 'boolean') throw bad('"stream" must be true or false');
  if (v.answer !== undefined && v.answer !== null && !isObject(v.answer)) throw bad('"answer" must be the upstream answer, a JSON object');
  let meta: PlaygroundInput['meta'];
  if (v.meta !== undefined && v.meta !== null) {
    if (!isObject(v.meta)) throw bad('"meta" must be an object { user?, project?, target? }');
    meta = { user: optString(v.meta.user, 'meta.user'), project: optString(v.meta.project, 'meta.project'), target: optString(v.meta.target, 'meta.target') };
  }
  return { policy_id: policyId, source, request: v.request, answer: v.answer ?? undefined, stream: v.stream as boolean | undefined, meta };
}

/** The explain entry point the playground calls (src/author/explain.ts, built by the policy-author work, issue 15). */
export interface ExplainApi {
  explainRequest(args: {
    policyId: string | undefined;
    rules: CompiledPolicySet | { source: string; file?: string };
    request: Record<string, unknown>;
    answer?: unknown;
    stream?: boolean;
    meta?: { user?: string; project?: string; target?: string };
  }): Promise<unknown>;
  renderExplain(result: never): string;
}

/**
 * The playground runner: parses the input, then runs `explain` on the loaded set or the draft and returns its
 * result with the rendered trace next to it. `loadExplain` finds the explain module.
 */
export function playgroundRunner(loadExplain: () => Promise<ExplainApi>): (input: unknown, set: CompiledPolicySet) => Promise<unknown> {
  return async (raw, set) => {
    const input = parsePlaygroundInput(raw);
    if (input.source === undefined && !set.policies.has(input.policy_id!)) throw new GatewayError(E.GW_ERR_POLICY_NOT_FOUND, [input.policy_id!]);
    const api = await loadExplain();
    const result = await api.explainRequest({
      policyId: input.policy_id,
      rules: input.source === undefined ? set : { source: input.source, file: 'draft.policy' },
      request: input.request,
      answer: input.answer,
      stream: input.stream,
      meta: input.meta,
    });
    return { result, rendered: api.renderExplain(result as never) };
  };
}
