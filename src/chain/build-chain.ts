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
   * Whether the request hooks can change the request: `never` (all `'read'`), `marked` (only through
   * `ctx.markRequestChanged()`), `always` (a hook that declares nothing).
   */
  readonly requestRewrites: 'never' | 'marked' | 'always';
  /** The same for the onResponse hooks and the non-streaming answer. */
  readonly responseRewrites: 'never' | 'marked' | 'always';
}

/** How the hooks `k` of `plugins` may change what they are given, from their declared access. */
function rewrites(plugins: readonly { readonly hooks: PluginHooks }[], k: 'onRequest' | 'onResponse'): 'never' | 'marked' | 'always' {
  let out: 'never' | 'marked' | 'always' = 'never';
  for (const p of plugins) {
    const access = k === 'onRequest' ? p.hooks.requestAccess : p.hooks.responseAccess;
    if (!p.hooks[k] || access === 'read') continue;
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
    requestRewrites: rewrites(plugins, 'onRequest'),
    responseRewrites: rewrites(plugins, 'onResponse'),
    onRequest: pick('onRequest', false),
    onResponse: pick('onResponse', true),
    onChunk: pick('onChunk', true),
    onStreamEnd: pick('onStreamEnd', true),
    onComplete: pick('onComplete', false),
  });
}
