// Test helper for the topics and moderation plugin tests: parses real .policy text, compiles one plugin's blocks with
// an in-memory file system for list files, and returns the config plus short-form diagnostics.
import { parsePolicy } from '../../../grammar/index.ts';
import type { Diagnostic } from '../../../grammar/diagnostics.ts';
import type { CompileEnv, PluginFactory } from '../../../src/sdk/plugin.ts';

/** The result of compiling one plugin's blocks of a one-policy source. */
export interface Compiled<C> {
  readonly config: C | undefined;
  readonly diagnostics: Diagnostic[];
  /** `POL0420 error 3:11 empty phrase` */
  readonly short: string[];
}

/**
 * Wraps `body` in `policy "<id>" { … }` (so the body's first line is line 2), asserts a clean parse and compiles
 * `plugin`'s blocks. `files` maps list-file paths to their text; other paths report POL0310 like the real loader.
 */
export function compileWith<C>(plugin: PluginFactory<C>, body: string, files: Record<string, string> = {}): Compiled<C> {
  const file = 'rules/test.policy';
  const { ast, diagnostics: parseDiags } = parsePolicy(`policy "test-policy" {\n${body}\n}\n`, file);
  if (parseDiags.length > 0) throw new Error(`parse failed: ${parseDiags.map((d) => d.message).join('; ')}`);
  const blocks = ast.policies[0]!.blocks.filter((b) => plugin.blocks.includes(b.name));
  const diagnostics: Diagnostic[] = [];
  const env: CompileEnv = {
    policyId: 'test-policy', file, dir: 'rules',
    report: (d) => { diagnostics.push(d); },
    readText(path, span) {
      if (path in files) return files[path];
      diagnostics.push({ code: 'POL0310', severity: 'error', message: `cannot read file "${path}": no such file`, span });
      return undefined;
    },
  };
  const config = plugin.compile(blocks, env);
  const short = diagnostics.map((d) => `${d.code} ${d.severity} ${d.span.start.line}:${d.span.start.col} ${d.message}`);
  return { config, diagnostics, short };
}

/** Like compileWith, but throws on any diagnostic or an undefined config. */
export function compileClean<C>(plugin: PluginFactory<C>, body: string, files: Record<string, string> = {}): C {
  const r = compileWith(plugin, body, files);
  if (r.diagnostics.length > 0) throw new Error(`unexpected diagnostics: ${r.short.join(' | ')}`);
  if (r.config === undefined) throw new Error('plugin compiled to undefined');
  return r.config;
}
