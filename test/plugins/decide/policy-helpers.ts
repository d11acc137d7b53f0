// Test helper for the decide and rollout plugin tests: parse real .policy text, compile one plugin's blocks,
// and collect the diagnostics it reports (rendered short, `CODE severity line:col message`).
import { parsePolicy } from '../../../grammar/index.ts';
import type { Diagnostic } from '../../../grammar/diagnostics.ts';
import type { CompileEnv, PluginFactory } from '../../../src/sdk/plugin.ts';

/** The result of compiling one plugin's blocks of a one-policy source. */
export interface Compiled<C> {
  readonly config: C | undefined;
  readonly diagnostics: Diagnostic[];
  /** Short forms: `POL0460 error 3:25 unknown response pattern "refuze"`. */
  readonly short: string[];
  readonly errors: number;
}

/** Parses `policy "<id>" { <body> }` (the body as given), asserts a clean parse, and compiles `plugin`'s blocks. */
export function compileWith<C>(plugin: PluginFactory<C>, body: string, opts: { policyId?: string; file?: string } = {}): Compiled<C> {
  const file = opts.file ?? 'rules/test.policy';
  const policyId = opts.policyId ?? 'test-policy';
  const { ast, diagnostics: parseDiags } = parsePolicy(`policy "${policyId}" {\n${body}\n}\n`, file);
  if (parseDiags.length > 0) throw new Error(`parse failed: ${JSON.stringify(parseDiags.map((d) => d.message))}`);
  const policy = ast.policies[0]!;
  const blocks = policy.blocks.filter((b) => plugin.blocks.includes(b.name));
  const diagnostics: Diagnostic[] = [];
  const env: CompileEnv = {
    policyId, file, dir: 'rules',
    report: (d) => { diagnostics.push(d); },
    readText: () => undefined,
  };
  const config = plugin.compile(blocks, env);
  const short = diagnostics.map((d) => `${d.code} ${d.severity} ${d.span.start.line}:${d.span.start.col} ${d.message}`);
  return { config, diagnostics, short, errors: diagnostics.filter((d) => d.severity === 'error').length };
}

/** Like compileWith but fails the test when any diagnostic (warning included) is reported. */
export function compileClean<C>(plugin: PluginFactory<C>, body: string, opts: { policyId?: string; file?: string } = {}): C {
  const r = compileWith(plugin, body, opts);
  if (r.diagnostics.length > 0) throw new Error(`unexpected diagnostics: ${r.short.join(' | ')}`);
  if (r.config === undefined) throw new Error('plugin compiled to undefined');
  return r.config;
}
