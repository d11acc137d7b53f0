// Small plugins for testing the loader: block dispatch, chain order, diagnostics from compile steps, list
// files read through env.readText. Real plugins live in plugins/; these only exercise the core.
import type { Block } from '../../grammar/ast.ts';
import { flattenTerm, identName, reportError, statementsByKeyword } from '../../src/sdk/block-helpers.ts';
import { compileUserRegex } from '../../src/sdk/regex.ts';
import { definePlugin, type PluginFactory, type PluginHooks } from '../../src/sdk/plugin.ts';

/** Every hook call of the recording plugins, as `plugin:hook`, in call order. */
export type CallLog = string[];

/** A plugin owning `blocks`; records the blocks it was compiled with; enabled when `alwaysOn` or a block is present. */
export function recordingPlugin(name: string, blocks: readonly string[], log: CallLog, alwaysOn = false): PluginFactory<{ readonly blocks: readonly string[] }> {
  return definePlugin({
    name,
    blocks,
    compile(bs: readonly Block[]) {
      if (!alwaysOn && bs.length === 0) return undefined;
      return Object.freeze({ blocks: Object.freeze(bs.map((b) => b.name)) });
    },
    hooks(config): PluginHooks {
      return {
        onRequest: () => { log.push(`${name}:onRequest:${config.blocks.join('+')}`); },
        onResponse: () => { log.push(`${name}:onResponse`); },
        onChunk: () => { log.push(`${name}:onChunk`); return 'pass'; },
        onComplete: () => { log.push(`${name}:onComplete`); },
      };
    },
  });
}

/**
 * A minimal phrase-list plugin owning `topics`: `deny "a", /re/`, `deny list "file"` (one phrase a line).
 * Unknown statements give POL0401 through the shared helper, unreadable files POL0310 through env.readText,
 * bad regexes POL0320/POL0321 through compileUserRegex.
 */
export const phrasePlugin = definePlugin<{ readonly deny: readonly string[] }>({
  name: 'phrases',
  blocks: ['topics'],
  compile(blocks, env) {
    if (blocks.length === 0) return undefined;
    const deny: string[] = [];
    for (const b of blocks) {
      const byKw = statementsByKeyword(b, ['deny', 'allow'], env);
      for (const st of byKw.get('deny') ?? []) {
        if (identName(st.terms[1]) === 'list') {
          const path = st.terms[2];
          if (path?.kind !== 'String') { reportError(env, 'POL0401', st.span, 'expected a file name after "deny list"'); continue; }
          const text = env.readText(path.value, path.span);
          if (text !== undefined) deny.push(...text.split('\n').map((l) => l.trim()).filter(Boolean));
          continue;
        }
        for (const t of st.terms.slice(1)) {
          for (const v of flattenTerm(t)) {
            if (v.kind === 'String') deny.push(v.value);
            else if (v.kind === 'Regex' && compileUserRegex(v, env)) deny.push(`/${v.source}/`);
          }
        }
      }
    }
    return Object.freeze({ deny: Object.freeze(deny) });
  },
  hooks(config) {
    return { onRequest: () => { void config.deny; } };
  },
});

/** A plugin that breaks the contract by throwing from compile (the loader must turn it into POL0390). */
export const throwingPlugin = definePlugin({
  name: 'thrower',
  blocks: ['explode'],
  compile(blocks) {
    if (blocks.length) throw new Error('boom');
    return undefined;
  },
  hooks: () => ({}),
});

/** The plugin set the golden diagnostics use. */
export const goldenPlugins: readonly PluginFactory<any>[] = [
  recordingPlugin('auth', ['auth'], []),
  recordingPlugin('quota', ['quota'], []),
  phrasePlugin,
  recordingPlugin('moderation', ['moderation'], []),
  recordingPlugin('decide', ['respond'], []),
  recordingPlugin('redactor', ['redact'], []),
  recordingPlugin('auditor', ['audit'], []),
  throwingPlugin,
];
