// The concrete per-request context (implements the SDK's RequestContext): the one constructor every request context
// comes from — the HTTP edge's, an in-process run's (run-policy.ts) and the tests'. Plugin state lives in a lazy Map.
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayServices, RequestContext, RequestMeta, StateKey, Timings, Verdict } from '../sdk/context.ts';
import { readPrompt, type PromptView } from '../sdk/prompt-view.ts';
import type { TraceRecorder } from '../sdk/trace.ts';
import type { ApiRequest, Endpoint, StreamChunk, Usage } from '../sdk/types.ts';
import { assembleVerdict } from './verdict.ts';

/** What a request context is built from: its fixed fields, the endpoint called (default `chat`), and the root logger its child logger comes from. */
export type RequestInit = Pick<RequestContext, 'id' | 'now' | 'services' | 'route' | 'policy' | 'meta' | 'headers' | 'request' | 'clientWantsUsage' | 'timings'>
  & { readonly rootLog: Logger; readonly endpoint?: Endpoint; readonly trace?: TraceRecorder };

/** One request's context. Created after the body is validated and the policy resolved. A class: one object shape. */
export class RequestCtx implements RequestContext {
  readonly id: string;
  readonly #rootLog: Logger;
  #log: Logger | undefined;
  /** Created on the first read of `signal` (most requests never read it); `abort()` before that is remembered. */
  #abort: AbortController | undefined;
  #aborted = false;
  #abortReason: unknown;
  readonly now: () => number;
  readonly services: GatewayServices;
  readonly policy: { readonly id: string; readonly file: string; readonly line: number; readonly revision: string };
  readonly route: 'policy' | 'v1';
  readonly endpoint: Endpoint;
  readonly meta: RequestMeta;
  readonly headers: IncomingHttpHeaders;
  request: ApiRequest;
  #prompt: PromptView | undefined = undefined;
  /** Events a chunk hook asked to write before the current one (see emitBefore); made on first use. */
  #emitted: StreamChunk[] | undefined = undefined;
  readonly clientWantsUsage: boolean;
  /** The verdict, once sealed (after the request hooks); until then `verdict` assembles what is published so far. */
  #verdict: Verdict | undefined = undefined;
  readonly responseHeaders: Record<string, string> = {};
  readonly trace: TraceRecorder | undefined;
  usage: Usage | undefined = undefined;
  /** Set by `markRequestChanged()`. */
  requestChanged = false;
  /** Set by `markResponseChanged()`. */
  responseChanged = false;
  upstreamStatus = 0;
  readonly timings: Timings;
  #state: Map<symbol, unknown> | undefined;

  constructor(init: RequestInit) {
    this.id = init.id;
    this.#rootLog = init.rootLog;
    this.now = init.now;
    this.services = init.services;
    this.policy = init.policy;
    this.route = init.route;
    this.endpoint = init.endpoint ?? 'chat';
    this.meta = init.meta;
    this.headers = init.headers;
    this.request = init.request;
    this.clientWantsUsage = init.clientWantsUsage;
    this.timings = init.timings;
    this.trace = init.trace;
  }

  /** The prompt of the request as the client sent it, read once on first use. */
  get prompt(): PromptView {
    return (this.#prompt ??= readPrompt(this.endpoint, this.request));
  }

  emitBefore(event: StreamChunk): void {
    (this.#emitted ??= []).push(event);
  }

  /** The events chunk hooks asked to write before the current one (emptied), or undefined when there are none. */
  takeEmitted(): StreamChunk[] | undefined {
    const e = this.#emitted;
    if (e === undefined || e.length === 0) return undefined;
    this.#emitted = undefined;
    return e;
  }

  /** The verdict: sealed once the request hooks ran, else assembled from what the plugins published so far. */
  get verdict(): Verdict {
    return this.#verdict ?? assembleVerdict(this);
  }

  /**
   * Assembles the verdict from the published state and keeps it: called by the chain when the request hooks are done
   * (or the request ended before they were). Later calls return the same verdict.
   */
  sealVerdict(): Verdict {
    return (this.#verdict ??= assembleVerdict(this));
  }

  /** Aborted when the client goes away (plugins pass it to their own I/O). */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#aborted) this.#abort.abort(this.#abortReason);
    }
    return this.#abort.signal;
  }

  /** True once the request was aborted (read without creating the signal). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Aborts the request's signal (the server calls this when the client closed the connection). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#abort?.abort(reason);
  }

  /** The request's child logger (`reqId` bound), created on first use: most requests never log. */
  get log(): Logger {
    return (this.#log ??= this.#rootLog.child({ reqId: this.id }));
  }

  markRequestChanged(): void {
    this.requestChanged = true;
  }

  markResponseChanged(): void {
    this.responseChanged = true;
  }

  get<T>(key: StateKey<T>): T | undefined {
    return this.#state?.get(key) as T | undefined;
  }

  set<T>(key: StateKey<T>, value: T): void {
    (this.#state ??= new Map()).set(key, value);
  }
}
