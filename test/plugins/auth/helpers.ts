// Test helpers for the auth and quota plugins: compile real .policy text through the load pipeline
// (parse → core checks → plugin compile) in a temporary directory, and pick a policy's hooks.
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compileSources, type LoadResult } from '../../../src/policy/index.ts';
import type { PluginFactory, PluginHooks } from '../../../src/sdk/plugin.ts';
import type { Diagnostic } from '../../../grammar/diagnostics.ts';

/** A fresh temporary directory; `files` (relative name → text) are written into it. */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-test-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Compiles `text` as `<dir>/test.policy` with `plugins` (relative paths in the policy resolve against `dir`). */
export function compilePolicyText(text: string, plugins: readonly PluginFactory<any>[], dir = tempDir()): LoadResult & { dir: string } {
  const file = join(dir, 'test.policy');
  writeFileSync(file, text);
  return { ...compileSources(new Map([[file, text]]), plugins), dir };
}

/** The hooks `plugin` built for policy `id` of a loaded set; throws when the set did not load. */
export function hooksOf(r: LoadResult, id: string, plugin: string): PluginHooks {
  if (!r.set) throw new Error(`policy set did not load:\n${r.diagnostics.map(show).join('\n')}`);
  const p = r.set.policies.get(id);
  const h = p?.plugins.find((x) => x.name === plugin)?.hooks;
  if (!h) throw new Error(`plugin "${plugin}" is off for policy "${id}"`);
  return h;
}

/** `code severity message` of a diagnostic, for readable assertions. */
export function show(d: Diagnostic): string {
  return `${d.code} ${d.severity} ${d.message}`;
}
