// Test helpers for the redactor: engines over chosen detectors, span extraction, whole-stream redaction by splits,
// and a compile helper that parses real .policy text and compiles the redact block(s).
import { parsePolicy } from '../../../grammar/index.ts';
import type { Diagnostic } from '../../../grammar/diagnostics.ts';
import type { CompileEnv } from '../../../src/sdk/plugin.ts';
import { BUILTIN_DETECTORS, type Detector } from '../../../plugins/redactor/detectors.ts';
import { RedactionEngine, type RedactStyle } from '../../../plugins/redactor/engine.ts';
import { redactorPlugin, type RedactConfig } from '../../../plugins/redactor/index.ts';

/** An engine over the named built-in detectors (all when none are named), label style unless given. */
export function engineFor(names?: readonly string[], style: RedactStyle = { kind: 'label' }): RedactionEngine {
  const dets: Detector[] = names ? BUILTIN_DETECTORS.filter((d) => names.includes(d.name)) : [...BUILTIN_DETECTORS];
  if (names && dets.length !== names.length) throw new Error(`unknown detector in ${names.join(',')}`);
  return new RedactionEngine(dets, style);
}

/** The substrings `engine` redacts in `text`, in order. */
export function found(engine: RedactionEngine, text: string, json = false): string[] {
  return engine.spans(text, json).map((s) => text.slice(s.start, s.end));
}

/** Redacts `text` as a stream cut at the given positions (sorted, inside the text); returns the concatenated output. */
export function streamed(engine: RedactionEngine, text: string, cuts: readonly number[], json = false, key = 'k'): string {
  const s = engine.stream({ key, counts: {} }, json);
  let out = '';
  let prev = 0;
  for (const c of [...cuts, text.length]) {
    out += s.push(text.slice(prev, c));
    prev = c;
  }
  return out + s.flush();
}

/** One-shot redaction with a fresh sink. */
export function oneShot(engine: RedactionEngine, text: string, json = false, key = 'k'): string {
  return engine.redact(text, { key, counts: {} }, json);
}

/** Result of compiling the redact blocks of `policy "<id>" { <body> }`. */
export interface CompiledRedact {
  readonly config: RedactConfig | undefined;
  readonly diagnostics: Diagnostic[];
  /** `CODE severity line:col message` */
  readonly short: string[];
}

/** Parses real .policy text (must parse cleanly) and compiles its redact blocks with the plugin. */
export function compileRedactText(body: string, policyId = 'test-policy'): CompiledRedact {
  const file = 'rules/test.policy';
  const { ast, diagnostics: parseDiags } = parsePolicy(`policy "${policyId}" {\n${body}\n}\n`, file);
  if (parseDiags.length > 0) throw new Error(`parse failed: ${parseDiags.map((d) => d.message).join('; ')}`);
  const blocks = ast.policies[0]!.blocks.filter((b) => redactorPlugin.blocks.includes(b.name));
  const diagnostics: Diagnostic[] = [];
  const env: CompileEnv = { policyId, file, dir: 'rules', report: (d) => { diagnostics.push(d); }, readText: () => undefined };
  const config = redactorPlugin.compile(blocks, env);
  return { config, diagnostics, short: diagnostics.map((d) => `${d.code} ${d.severity} ${d.span.start.line}:${d.span.start.col} ${d.message}`) };
}
