// Precomputes the per-hook arrays of a policy's plugin chain once, at compile time, so the request path
// never scans plugins for hooks. Request hooks run in chain order; response hooks in reverse (onion unwind).
import type { PluginHooks } from '../sdk/plugin.ts';

type HookName = 'onRequest' | 'onResponse' | 'onChunk' | 'onStreamEnd' | 'onComplete';
type Hook<K extends HookName> = { readonly plugin: string; readonly fn: NonNullable<PluginHooks[K]> };

/** The hook arrays of one policy, each already in the order the server runs it. */
export interface Chain {
  readonly onRequest: readonly Hook<'onRequest'>[];
  /** Reverse chain order: the redactor sees the answer before anything that records it. */
  readonly onResponse: readonly Hook<'onResponse'>[];
  readonly onChunk: readonly Hook<'onChunk'>[];
  readonly onStreamEnd: readonly Hook<'onStreamEnd'>[];
  /** Chain order; the auditor is last so it sees everyone's results. */
  readonly onComplete: readonly Hook<'onComplete'>[];
  /**
   * What the onRequest hooks do with the body: `untouched` (all declare `requestAccess: 'none'`), `marked` (every
   * hook declares what it does: reads it, or changes it only together with `ctx.markRequestChanged()`), `unmarked` (a
   * hook that declares nothing may have changed it without saying).
   */
  readonly requestUse: 'untouched' | 'marked' | 'unmarked';
  /**
   * Whether the onResponse hooks can change a non-streaming answer: `never` (all declare `responseAccess: 'read'`),
   * `marked` (only through `ctx.markResponseChanged()`), `always` (a hook that declares nothing).
   */
  readonly responseRewrites: 'never' | 'marked' | 'always';
  /**
   * True when a hook of the chain declares `readsClientPrompt`: the request's prompt view is read before the first
   * onRequest hook, so it is the client's prompt before any policy edit (the auditor's `replay on` records it).
   */
  readonly promptFirst: boolean;
}

/** What the onRequest hooks of `plugins` do with the request body, from their declared access. */
function requestUse(plugins: readonly { readonly hooks: PluginHooks }[]): 'untouched' | 'marked' | 'unmarked' {
  let out: 'untouched' | 'marked' | 'unmarked' = 'untouched';
  for (const p of plugins) {
    const access = p.hooks.requestAccess;
    if (!p.hooks.onRequest || access === 'none') continue;
    if (access !== 'marked' && access !== 'read') return 'unmarked';
    out = 'marked';
  }
  return out;
}

/** How the onResponse hooks of `plugins` may change the answer, from their declared access. */
function responseRewrites(plugins: readonly { readonly hooks: PluginHooks }[]): 'never' | 'marked' | 'always' {
  let out: 'never' | 'marked' | 'always' = 'never';
  for (const p of plugins) {
    const access = p.hooks.responseAccess;
    if (!p.hooks.onResponse || access === 'read') continue;
    if (access !== 'marked') return 'always';
    out = 'marked';
  }
  return out;
}

/** Builds the frozen hook arrays from enabled plugins given in chain order. */
export function buildChain(plugins: readonly { readonly name: string; readonly hooks: PluginHooks }[]): Chain {
  const pick = <K extends HookName>(k: K, reverse: boolean): Hook<K>[] => {
    const out: Hook<K>[] = [];
    for (const p of plugins) {
      const fn = p.hooks[k] as ((...a: unknown[]) => unknown) | undefined;
      if (fn) out.push(Object.freeze({ plugin: p.name, fn: fn.bind(p.hooks) as NonNullable<PluginHooks[K]> }));
    }
    if (reverse) out.reverse();
    return Object.freeze(out) as Hook<K>[];
  };
  return Object.freeze({
    requestUse: requestUse(plugins),
    responseRewrites: responseRewrites(plugins),
    promptFirst: plugins.some((p) => p.hooks.readsClientPrompt === true),
    onRequest: pick('onRequest', false),
    onResponse: pick('onResponse', true),
    onChunk: pick('onChunk', true),
    onStreamEnd: pick('onStreamEnd', true),
    onComplete: pick('onComplete', false),
  });
}
