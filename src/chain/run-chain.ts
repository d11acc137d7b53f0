// Runs a policy's precomputed hook arrays for one request: request hooks in chain order (first local answer
// stops the rest), response and chunk hooks in reverse order, completion hooks always. Synchronous hooks stay
// synchronous (no promise per request unless a plugin is async); async hooks race a budget and the client signal.
import { E, GatewayError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { RequestContext } from '../sdk/context.ts';
import type { ChunkResult, Outcome, RequestAction } from '../sdk/plugin.ts';
import type { ApiAnswer, StreamChunk } from '../sdk/types.ts';
import type { Chain } from './build-chain.ts';

type Observer = { observe(v: number): void };
/** Told of every timed hook (`t0`, `t1`: performance.now()); set only when tracing is on. */
export type HookObserver = (ctx: RequestContext, plugin: string, hook: string, t0: number, t1: number, failed: boolean) => void;

/** The duration histogram child of each hook, found by the hook object itself (no key string per call). */
class HookTimers {
  #metrics: Metrics;
  #cache = new WeakMap<object, Observer>();
  constructor(metrics: Metrics) { this.#metrics = metrics; }
  get(h: { readonly plugin: string }, hook: string): Observer {
    let o = this.#cache.get(h);
    if (!o) this.#cache.set(h, (o = this.#metrics.pluginSeconds.labels(h.plugin, hook)));
    return o;
  }
}

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** Turns a throw from a plugin hook into the error the client sees. GatewayErrors a plugin throws keep their meaning. */
function pluginFailure(plugin: string, hook: string, err: unknown, ctx: RequestContext, metrics: Metrics): GatewayError {
  if (err instanceof GatewayError) return err;
  metrics.pluginErrors.inc({ plugin, hook });
  ctx.log.error({ plugin, hook, err }, 'plugin failed');
  return new GatewayError(E.GW_ERR_PLUGIN_FAILED, [plugin], { cause: err });
}

/** Runs hooks for one policy chain; one instance per gateway (holds metric children and the async budget). */
export class ChainRunner {
  readonly #metrics: Metrics;
  readonly #timers: HookTimers;
  readonly #budgetMs: number;
  readonly #observe: HookObserver | undefined;

  constructor(metrics: Metrics, budgetMs: number, observe?: HookObserver) {
    this.#metrics = metrics;
    this.#timers = new HookTimers(metrics);
    this.#budgetMs = budgetMs;
    this.#observe = observe;
  }

  /** A hook finished: its duration metric, and the observer (tracing) when there is one. */
  #timed(h: { readonly plugin: string }, hook: string, ctx: RequestContext, t0: number, failed = false): void {
    const t1 = performance.now();
    if (!failed) this.#timers.get(h, hook).observe((t1 - t0) / 1000);
    if (this.#observe !== undefined) this.#observe(ctx, h.plugin, hook, t0, t1, failed);
  }

  /**
   * Runs onRequest hooks in chain order. Returns the first non-continue action (respond/reject) or undefined.
   * Returns synchronously while every hook is synchronous; switches to a promise at the first async hook.
   * Never throws: plugin failures come back as `reject` actions.
   */
  runRequest(chain: Chain, ctx: RequestContext): RequestAction | Promise<RequestAction> {
    // A hook records the client's prompt later (audit `replay on`): read it before any hook can edit the request.
    if (chain.promptFirst) void ctx.prompt;
    const hooks = chain.onRequest;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      const t0 = performance.now();
      let r: RequestAction | Promise<RequestAction>;
      try {
        r = h.fn(ctx);
      } catch (err) {
        this.#timed(h, 'onRequest', ctx, t0, true);
        return { kind: 'reject', error: pluginFailure(h.plugin, 'onRequest', err, ctx, this.#metrics) };
      }
      if (isThenable<RequestAction>(r)) return this.#continueAsync(chain, ctx, i, r, t0);
      this.#timed(h, 'onRequest', ctx, t0);
      if (r) return r;
    }
    return undefined;
  }

  async #continueAsync(chain: Chain, ctx: RequestContext, at: number, first: PromiseLike<RequestAction>, t0: number): Promise<RequestAction> {
    const hooks = chain.onRequest;
    let pending: RequestAction | PromiseLike<RequestAction> = first;
    for (let i = at; i < hooks.length; i++) {
      const h = hooks[i]!;
      let r: RequestAction;
      try {
        if (i !== at) { t0 = performance.now(); pending = h.fn(ctx); }
        r = isThenable<RequestAction>(pending) ? await this.#race(pending, h.plugin, ctx) : pending;
      } catch (err) {
        this.#timed(h, 'onRequest', ctx, t0, true);
        return { kind: 'reject', error: pluginFailure(h.plugin, 'onRequest', err, ctx, this.#metrics) };
      }
      this.#timed(h, 'onRequest', ctx, t0);
      if (r) return r;
    }
    return undefined;
  }

  /** Races an async hook against the per-plugin budget and the request's abort signal. */
  #race<T>(p: PromiseLike<T>, plugin: string, ctx: RequestContext): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => { cleanup(); reject(new GatewayError(E.GW_ERR_PLUGIN_TIMEOUT, [plugin], { cause: ctx.signal.reason })); };
      const timer = setTimeout(() => {
        cleanup();
        this.#metrics.pluginErrors.inc({ plugin, hook: 'onRequest' });
        ctx.log.error({ plugin, hook: 'onRequest', budgetMs: this.#budgetMs }, 'plugin timed out');
        reject(new GatewayError(E.GW_ERR_PLUGIN_TIMEOUT, [plugin]));
      }, this.#budgetMs);
      const cleanup = () => { clearTimeout(timer); ctx.signal.removeEventListener('abort', onAbort); };
      if (ctx.signal.aborted) { onAbort(); return; }
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      p.then((v) => { cleanup(); resolve(v); }, (e: unknown) => { cleanup(); reject(e); });
    });
  }

  /** Runs onResponse hooks (reverse chain order) on a non-streaming answer. Throws a GatewayError on plugin failure. */
  runResponse(chain: Chain, body: ApiAnswer, ctx: RequestContext): void {
    for (const h of chain.onResponse) {
      const t0 = performance.now();
      try {
        h.fn(body, ctx);
      } catch (err) {
        this.#timed(h, 'onResponse', ctx, t0, true);
        throw pluginFailure(h.plugin, 'onResponse', err, ctx, this.#metrics);
      }
      this.#timed(h, 'onResponse', ctx, t0);
    }
  }

  /** Runs onChunk hooks (reverse chain order). Returns 'drop' as soon as one drops, 'modified' if any changed it. */
  runChunk(chain: Chain, chunk: StreamChunk, ctx: RequestContext): ChunkResult {
    let result: ChunkResult = 'pass';
    const hooks = chain.onChunk;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      let r: ChunkResult;
      try {
        r = h.fn(chunk, ctx);
      } catch (err) {
        throw pluginFailure(h.plugin, 'onChunk', err, ctx, this.#metrics);
      }
      if (r === 'drop') return 'drop';
      if (r === 'modified') result = 'modified';
    }
    return result;
  }

  /** Collects the extra chunks plugins emit at the end of a stream (reverse chain order). */
  runStreamEnd(chain: Chain, ctx: RequestContext): StreamChunk[] {
    const out: StreamChunk[] = [];
    for (const h of chain.onStreamEnd) {
      try {
        const extra = h.fn(ctx);
        if (extra) out.push(...extra);
      } catch (err) {
        throw pluginFailure(h.plugin, 'onStreamEnd', err, ctx, this.#metrics);
      }
    }
    return out;
  }

  /**
   * Runs every onComplete hook in chain order. Never throws or rejects; failures are logged and counted. Returns
   * synchronously while every hook is synchronous; a promise once one is not (later hooks wait for it).
   */
  runComplete(chain: Chain, outcome: Outcome, ctx: RequestContext): void | Promise<void> {
    const hooks = chain.onComplete;
    const observe = this.#observe;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i]!;
      const t0 = observe === undefined ? 0 : performance.now();
      let failed = false;
      try {
        const r = h.fn(outcome, ctx);
        if (isThenable(r)) return this.#completeAsync(chain, outcome, ctx, i, r);
      } catch (err) {
        failed = true;
        this.#completeFailed(h.plugin, err, ctx);
      }
      if (observe !== undefined) observe(ctx, h.plugin, 'onComplete', t0, performance.now(), failed);
    }
    return undefined;
  }

  async #completeAsync(chain: Chain, outcome: Outcome, ctx: RequestContext, at: number, pending: PromiseLike<unknown>): Promise<void> {
    const hooks = chain.onComplete;
    try { await pending; } catch (err) { this.#completeFailed(hooks[at]!.plugin, err, ctx); }
    for (let i = at + 1; i < hooks.length; i++) {
      const h = hooks[i]!;
      try {
        const r = h.fn(outcome, ctx);
        if (isThenable(r)) await r;
      } catch (err) {
        this.#completeFailed(h.plugin, err, ctx);
      }
    }
  }

  #completeFailed(plugin: string, err: unknown, ctx: RequestContext): void {
    this.#metrics.pluginErrors.inc({ plugin, hook: 'onComplete' });
    ctx.log.error({ plugin, hook: 'onComplete', err }, 'plugin failed');
  }
}
