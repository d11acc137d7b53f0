// The replay engine: every replayable line evaluated in-process under the old and the new rule set (runPolicy, the
// gateway's own chain, with auth, quota, redactor and auditor left out and no upstream call), tallied into a decision
// diff per policy and (old → new) bucket. Compiles nothing per record; src/cli/replay.ts prints the result.
import { buildChain } from '../chain/build-chain.ts';
import { ChainRunner } from '../chain/run-chain.ts';
import { inProcessServices } from '../author/services.ts';
import { runPolicy, type PolicyRunEnv } from '../chain/run-policy.ts';
import { E } from '../errors.ts';
import type { CompiledPolicy, CompiledPolicySet } from '../policy/types.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import type { ApiRequest } from '../sdk/types.ts';
import { readPrompt } from '../sdk/prompt-view.ts';
import type { DecisionTriple, ParsedLine, ReplayItem } from './records.ts';

/**
 * Plugins replay leaves out: auth and quota (replay evaluates decisions, not keys or limits, so a replay is
 * deterministic and needs no store or clock), the redactor and the auditor (no answer to redact, nothing to record).
 */
export const REPLAY_SKIPS: ReadonlySet<string> = new Set(['auth', 'quota', 'redactor', 'auditor']);

/** The bucket of records naming a policy neither rule set has (or none, without a default policy). */
export const UNKNOWN_POLICY = '(no such policy)';

/** Example request ids kept per bucket. */
export const EXAMPLES = 3;
/** Bad lines listed one by one (the rest are counted). */
export const MAX_LISTED_BAD = 20;

/** One (policy, old → new) bucket of the diff. */
export interface DiffBucket {
  readonly policy: string;
  readonly old: DecisionTriple;
  readonly new: DecisionTriple;
  readonly changed: boolean;
  count: number;
  readonly examples: string[];
}

/** Everything a replay found. */
export interface ReplaySummary {
  /** Lines read (blank lines included). */
  lines: number;
  replayed: number;
  /** Replayed records whose decision, effective decision or reason code differ between old and new. */
  changed: number;
  /** Replayed records whose captured input had spans removed by request-scope redaction. */
  redactedInput: number;
  readonly buckets: DiffBucket[];
  readonly skipped: { reason: string; count: number; examples: string[] }[];
  badCount: number;
  readonly bad: { line: number; reason: string }[];
  /** Audit records: the recorded decision against the old rule set's (they match when --old is what served them). */
  readonly recorded: { compared: number; mismatched: number; examples: { id: string; recorded: DecisionTriple; old: DecisionTriple }[] };
  /** Per-record results are also handed to `onResult`. */
  durationMs: number;
}

/** One replayed record. */
export interface ReplayResult { readonly item: ReplayItem; readonly policy: string; readonly old: DecisionTriple; readonly new: DecisionTriple }

const same = (a: DecisionTriple, b: DecisionTriple): boolean => a.decision === b.decision && a.effective === b.effective && a.reason === b.reason;
const reject = (reason: string): DecisionTriple => ({ decision: 'reject', effective: 'reject', reason });

/** Quiet services for in-process runs (src/author/services.ts); a replay calls nothing, webhooks included. */
function replayServices(plugins: readonly PluginFactory<any>[], env: Readonly<Record<string, string | undefined>>): { services: GatewayServices; runner: ChainRunner } {
  const services = inProcessServices(plugins, env);
  return { services, runner: new ChainRunner(services.metrics, 5000) };
}

/**
 * A copy of a request that the decision hooks' edits (src/sdk/request-edits.ts: members set, the messages or input
 * list grown) leave the original untouched by: the object and its top-level lists. Cheaper than a deep clone; the
 * prompt the hooks read comes from the item's prompt view, read once before both runs.
 */
function editableCopy(r: ApiRequest): ApiRequest {
  const c = { ...r } as Record<string, unknown>;
  for (const k of ['messages', 'input', 'prompt']) if (Array.isArray(c[k])) c[k] = [...(c[k] as unknown[])];
  return c as ApiRequest;
}

/** Evaluates items under one rule set; each policy's replay chain (without REPLAY_SKIPS) is built once, on first use. */
class RuleSetEvaluator {
  readonly #set: CompiledPolicySet;
  readonly #env: PolicyRunEnv;
  readonly #chains = new Map<string, CompiledPolicy>();

  constructor(set: CompiledPolicySet, env: PolicyRunEnv) {
    this.#set = set;
    this.#env = env;
  }

  #policy(id: string): CompiledPolicy | undefined {
    let p = this.#chains.get(id);
    if (p === undefined) {
      const full = this.#set.policies.get(id);
      if (full === undefined) return undefined;
      const plugins = full.plugins.filter((x) => !REPLAY_SKIPS.has(x.name));
      p = { ...full, plugins, chain: buildChain(plugins) };
      this.#chains.set(id, p);
    }
    return p;
  }

  /** True when this rule set has policy `id`. */
  has(id: string): boolean {
    return this.#set.policies.has(id);
  }

  /** The policy an item runs under here (its own, else this set's default). */
  policyIdOf(item: ReplayItem): string | null {
    return item.policyId ?? this.#set.defaultPolicyId;
  }

  /** The decision this rule set gives `item`, as the gateway would record it. */
  async evaluate(item: ReplayItem): Promise<DecisionTriple> {
    const id = this.policyIdOf(item);
    const policy = id === null ? undefined : this.#policy(id);
    if (policy === undefined) return reject(E.GW_ERR_POLICY_NOT_FOUND.reasonCode);
    if (!policy.endpoints.includes(item.endpoint)) return reject(E.GW_ERR_ENDPOINT_NOT_SERVED.reasonCode);
    if (policy.stateless && item.endpoint === 'responses') {
      const hidden = (item.prompt ?? readPrompt(item.endpoint, item.request)).hidden;
      if (hidden.some((h) => h !== 'token_ids')) return reject(E.GW_ERR_STATEFUL_REQUEST.reasonCode);
    }
    try {
      const r = await runPolicy(policy, {
        endpoint: item.endpoint, request: editableCopy(item.request), prompt: item.prompt, meta: item.meta, owned: true,
      }, this.#env);
      if (r.action === 'reject') return reject(r.error!.reasonCode);
      const v = r.verdict;
      return { decision: v.decision, effective: v.effectiveDecision, reason: v.reasonCode };
    } catch {
      return reject(E.GW_ERR_PLUGIN_FAILED.reasonCode);
    }
  }
}

/** Accumulates a summary from parsed lines; `add` is called once per line, `finish` once. */
export class ReplayRun {
  readonly summary: ReplaySummary = {
    lines: 0, replayed: 0, changed: 0, redactedInput: 0, buckets: [], skipped: [], badCount: 0, bad: [],
    recorded: { compared: 0, mismatched: 0, examples: [] }, durationMs: 0,
  };
  readonly #old: RuleSetEvaluator;
  readonly #new: RuleSetEvaluator;
  readonly #buckets = new Map<string, DiffBucket>();
  readonly #skips = new Map<string, { reason: string; count: number; examples: string[] }>();
  readonly #start = performance.now();
  readonly #unchanged: ReadonlySet<string>;

  /**
   * `unchanged`: ids of policies known to mean the same in both sets (rule-source.ts unchangedPolicies): their records
   * are evaluated once and the result used for both sides. `secrets`: the environment secrets policies name are read
   * from (the CLI passes its own).
   */
  constructor(oldSet: CompiledPolicySet, newSet: CompiledPolicySet, plugins: readonly PluginFactory<any>[], unchanged: ReadonlySet<string> = new Set(),
    secrets: Readonly<Record<string, string | undefined>> = {}) {
    this.#unchanged = unchanged;
    const { services, runner } = replayServices(plugins, secrets);
    // A fixed clock: nothing replay runs may depend on the time it runs at.
    const env: PolicyRunEnv = { services, runner, revision: 'replay', now: () => 0 };
    this.#old = new RuleSetEvaluator(oldSet, env);
    this.#new = new RuleSetEvaluator(newSet, env);
  }

  /** Counts one line; replays it when it is an item. Returns the result of a replayed item. */
  async add(p: ParsedLine | null, lineNo: number): Promise<ReplayResult | undefined> {
    const s = this.summary;
    s.lines = Math.max(s.lines, lineNo);
    if (p === null) return undefined; // blank line
    if (p.kind === 'bad') {
      s.badCount++;
      if (s.bad.length < MAX_LISTED_BAD) s.bad.push({ line: p.line, reason: p.reason });
      return undefined;
    }
    if (p.kind === 'skip') {
      let k = this.#skips.get(p.reason);
      if (k === undefined) this.#skips.set(p.reason, (k = { reason: p.reason, count: 0, examples: [] }));
      k.count++;
      if (k.examples.length < EXAMPLES) k.examples.push(p.id);
      return undefined;
    }
    // Both runs read the prompt the record carries, or the request's, read once here.
    if (p.prompt === undefined) p = { ...p, prompt: readPrompt(p.endpoint, p.request) };
    const oldId = this.#old.policyIdOf(p);
    const oldT = await this.#old.evaluate(p);
    const newT = oldId !== null && oldId === this.#new.policyIdOf(p) && this.#unchanged.has(oldId) ? oldT : await this.#new.evaluate(p);
    s.replayed++;
    if (p.redactedInput) s.redactedInput++;
    const changed = !same(oldT, newT);
    if (changed) s.changed++;
    // Policy ids come from the records: one bucket for every id neither rule set has keeps the report bounded.
    const named = this.#new.policyIdOf(p) ?? this.#old.policyIdOf(p);
    const policy = named !== null && (this.#new.has(named) || this.#old.has(named)) ? named : UNKNOWN_POLICY;
    const key = `${policy}\0${oldT.decision}\0${oldT.effective}\0${oldT.reason}\0${newT.decision}\0${newT.effective}\0${newT.reason}`;
    let b = this.#buckets.get(key);
    if (b === undefined) this.#buckets.set(key, (b = { policy, old: oldT, new: newT, changed, count: 0, examples: [] }));
    b.count++;
    if (b.examples.length < EXAMPLES) b.examples.push(p.id);
    if (p.recorded !== undefined) {
      s.recorded.compared++;
      if (!same(p.recorded, oldT)) {
        s.recorded.mismatched++;
        if (s.recorded.examples.length < EXAMPLES) s.recorded.examples.push({ id: p.id, recorded: p.recorded, old: oldT });
      }
    }
    return { item: p, policy, old: oldT, new: newT };
  }

  /** Sorts the buckets (policy, changed first, larger first) and skip reasons; stops the clock. */
  finish(): ReplaySummary {
    const s = this.summary;
    s.buckets.push(...[...this.#buckets.values()].sort((a, b) =>
      (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0) || Number(b.changed) - Number(a.changed) || b.count - a.count
      || (bucketKey(a) < bucketKey(b) ? -1 : 1)));
    s.skipped.push(...[...this.#skips.values()].sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)));
    s.durationMs = performance.now() - this.#start;
    return s;
  }
}

const bucketKey = (b: DiffBucket): string => `${b.old.decision}/${b.old.reason}/${b.new.decision}/${b.new.reason}/${b.old.effective}/${b.new.effective}`;
