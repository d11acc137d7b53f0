// The plugin contract: what a plugin declares (blocks, errors, reason codes, metrics, its diagnostic range, CLI
// commands, what it runs after) and the hooks it runs. A plugin compiles its blocks once per policy, then its hooks run
// per request in the fixed chain order. Plugins import from src/sdk/ only.
import type { BlockSchema } from './block-schema.ts';
import type { Block, Diagnostic, Span } from './ast.ts';
import type { ErrorDef, GatewayError } from '../errors.ts';
import type { GatewayServices, RequestContext } from './context.ts';
import type { MetricDecls } from './metrics.ts';
import type { ApiAnswer, StreamChunk } from './types.ts';

/** What a plugin's compile step may use. Pure: no network, no clock; `check` runs it without a gateway. */
export interface CompileEnv {
  readonly policyId: string;
  /** The .policy file this policy came from. */
  readonly file: string;
  /** Directory that relative paths in the policy (list files, key files) resolve against. */
  readonly dir: string;
  /**
   * Real paths of the directories files named by this policy must resolve into (the policy root and `--allow-path`
   * directories). `readText` enforces it; a plugin that re-reads a file later (the auth key ring) checks it again.
   * Absent (unit tests building an env by hand): no confinement.
   */
  readonly roots?: readonly string[];
  /** Reports a diagnostic; any error-severity report makes the whole rule set fail to load. */
  report(d: Diagnostic): void;
  /** Reads a text file relative to `dir`; reports POL0310 "cannot read file" at `span` and returns undefined on failure. */
  readText(path: string, span: Span): string | undefined;
}

/** What `onRequest` returns: nothing to continue, or a local answer that stops the chain (no upstream call). */
export type RequestAction =
  | void
  | undefined
  /** Answer with a gateway-authored assistant message (refusal, escalation holding message). */
  | { readonly kind: 'respond'; readonly content: string }
  /** Answer with an error (401, 403, 429, …). */
  | { readonly kind: 'reject'; readonly error: GatewayError };

/** What `onChunk` did to a stream chunk: left it, changed it in place, or wants it dropped. */
export type ChunkResult = 'pass' | 'modified' | 'drop';

/** How a request ended, given to every `onComplete`. */
export interface Outcome {
  /** HTTP status sent to the client (0 if the client left before the head was sent). */
  readonly status: number;
  readonly error?: GatewayError;
  /** True when a request was sent upstream. */
  readonly upstreamCalled: boolean;
  /** True when the client went away before the answer was complete. */
  readonly aborted: boolean;
  /** Gateway-authored answer (refuse/escalate) rather than a model answer. */
  readonly synthesized: boolean;
}

/**
 * Per-policy hooks. Built ONCE when the policy compiles (`PluginFactory.hooks`), shared by all requests;
 * per-request state MUST live in the context (`ctx.set(key, …)`), never in closures.
 */
export interface PluginHooks {
  /**
   * What `onRequest` does with the request's body (`ctx.request`). Absent: it may read and change anything. `'none'`:
   * it neither reads nor changes the body (it may use `ctx.meta`, headers and other plugins' state). `'read'`: it
   * reads the body and never changes it. `'marked'`: it may read and change the body, and calls
   * `ctx.markRequestChanged()` whenever it changes it. When every request hook of a policy declares one of these and
   * nothing was marked, the gateway forwards the client's own bytes, with the `policy_*` members spliced out — unless
   * an object of the body repeats a key: JSON.parse keeps the last, other parsers the first, so such a body goes
   * upstream re-serialised, exactly as the hooks saw it, and can never show a policy one prompt and the model another.
   */
  readonly requestAccess?: 'none' | 'read' | 'marked';
  /**
   * What `onResponse` does to the non-streaming answer. Absent: it may change it in any way, so the gateway
   * re-serialises the answer. `'read'`: it never changes it. `'marked'`: it changes it only together with a call to
   * `ctx.markResponseChanged()`. When nothing changed the answer, the gateway sends the upstream's own bytes with the
   * `policy` block spliced in.
   */
  readonly responseAccess?: 'read' | 'marked';
  /**
   * True when a hook reads `ctx.prompt` after other hooks may have edited the request (the auditor's `replay on`
   * capture): the gateway then reads the prompt view before the first onRequest hook runs, so `ctx.prompt` is the
   * client's prompt before any policy edit. Absent: the view is read on first use.
   */
  readonly readsClientPrompt?: boolean;
  /** Runs in chain order before the upstream call. May rewrite `ctx.request` in place, answer locally, or reject. */
  onRequest?(ctx: RequestContext): RequestAction | Promise<RequestAction>;
  /**
   * Non-streaming JSON answer from upstream, in reverse chain order; may change it in place. Sync. Its shape is the
   * endpoint's (`ctx.endpoint`): a chat completion, a legacy text completion, a Response, an embeddings list.
   */
  onResponse?(body: ApiAnswer, ctx: RequestContext): void;
  /**
   * One parsed SSE event, in reverse chain order: a chat chunk, a legacy completion chunk or a Responses event (per
   * `ctx.endpoint`). MUST be synchronous and allocation-light. May insert events before it (`ctx.emitBefore`).
   */
  onChunk?(chunk: StreamChunk, ctx: RequestContext): ChunkResult;
  /**
   * End of a chat or legacy completions stream (before the last chunk and `[DONE]`): return chunks to emit (e.g.
   * held-back text), or nothing. Responses streams end with their terminal event and do not call it.
   */
  onStreamEnd?(ctx: RequestContext): StreamChunk[] | void;
  /** Always called once per request that reached this plugin's policy, in chain order, even after errors. Observe only. */
  onComplete?(outcome: Outcome, ctx: RequestContext): void | Promise<void>;
}

/** Where a CLI command writes. */
export interface CommandIO {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** A `policy-gateway <name>` subcommand a plugin contributes (auth: `keys`). */
export interface CliCommand {
  /** One line for `policy-gateway --help`: the usage after the command name. */
  readonly usage: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: readonly string[], io: CommandIO): Promise<number>;
}

/** A request that ended before reaching a policy chain (bad JSON, unknown route or policy, 413, 415, …). */
export interface UnchainedRequestEnd {
  readonly reqId: string;
  readonly route: string;
  readonly status: number;
  readonly error: { readonly code: string; readonly status: number; readonly reasonCode: string } | undefined;
  readonly durationMs: number;
  readonly revision: string | undefined;
}

/** A plugin type: one folder under plugins/, owning one or more block keywords, and everything that is about it. */
export interface PluginFactory<Config = unknown> {
  /** Stable id: log field `plugin`, metric label `plugin`. Single lower-case word. */
  readonly name: string;
  /** The block keywords this plugin owns in .policy files (`redact` for the redactor). */
  readonly blocks: readonly string[];
  /**
   * Plugins that MUST run before this one when they are registered (checked when the registry is built): what this
   * plugin reads through state keys, or must not see before it happened (the auditor runs after everything).
   */
  readonly after?: readonly string[];
  /** The GW_ERR_* errors its hooks raise (`defineErrors`), each with its reason code; docs/errors.md has a heading each. */
  readonly errors?: Readonly<Record<string, ErrorDef>>;
  /** The reason codes it introduces, each with what it means (docs/reason-codes.md has a row each). */
  readonly reasonCodes?: Readonly<Record<string, string>>;
  /** Its metrics (`defineMetrics`); the gateway creates them, hooks get them with `ctx.services.metricsOf(…)`. */
  readonly metrics?: MetricDecls;
  /**
   * The schemas of its blocks (`defineBlockSchema`): the statements the language reference's table lists for each (a
   * docs test compares), and what `readBlock` checks. Plugins not yet converted leave it out.
   */
  readonly schemas?: readonly BlockSchema[];
  /** The numbers of its own POL diagnostic codes, first and last (inclusive): [420, 429] for POL0420–POL0429. */
  readonly diagnostics?: readonly [number, number];
  /** `policy-gateway` subcommands it contributes. */
  readonly commands?: Readonly<Record<string, CliCommand>>;
  /** Called once per request that ended before reaching any policy chain (the auditor records those too). */
  onUnchainedEnd?(end: UnchainedRequestEnd, services: GatewayServices): void;
  /**
   * Compiles this plugin's blocks of one policy (empty array when the policy has none) into frozen config.
   * Returns undefined when the plugin is off for this policy. Reports problems through `env.report`; never throws.
   */
  compile(blocks: readonly Block[], env: CompileEnv): Config | undefined;
  /** Builds the hooks for one compiled config. Called once per policy load, not per request. */
  hooks(config: Config): PluginHooks;
}

/** Identity helper that freezes a plugin definition and keeps its Config type. */
export const definePlugin = <C>(f: PluginFactory<C>): PluginFactory<C> => Object.freeze(f);
