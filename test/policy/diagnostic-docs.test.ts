// Every POL code used anywhere in the repository's TypeScript has a heading with an example in
// docs/diagnostics.md (the registry check of STYLE §8; plugin codes POL04xx included), and every registered plugin
// reports only codes of the range it declares (or the SDK's shared ones).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { pluginMayReport } from '../../src/plugin-registry.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SKIP = new Set(['node_modules', '.git', 'coverage', 'dist']);
/** A plugin that stands for a third party's (test/fixtures/prompt-length): its codes are its own docs' business. */
const THIRD_PARTY = join(fileURLToPath(new URL('../../', import.meta.url)), 'test/fixtures/prompt-length');

function* tsFiles(dir: string): Generator<string> {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(ent.name) || ent.name.startsWith('.')) continue;
    const p = join(dir, ent.name);
    if (p === THIRD_PARTY) continue;
    if (ent.isDirectory()) yield* tsFiles(p);
    else if (ent.name.endsWith('.ts') && !ent.name.endsWith('.d.ts')) yield p;
  }
}

/** Codes written as string literals: 'POL0301', "POL0301", `POL0301`. */
function usedCodes(): Map<string, string> {
  const used = new Map<string, string>();
  for (const f of tsFiles(root)) {
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](POL\d{4})['"`]/g)) if (!used.has(m[1]!)) used.set(m[1]!, f.slice(root.length));
  }
  return used;
}

const doc = readFileSync(join(root, 'docs/diagnostics.md'), 'utf8');
/** Heading code → its section text. */
const sections = new Map(doc.split(/^(?=## )/m).slice(1).map((s) => [/^## (POL\d{4})\b/.exec(s)?.[1] ?? s.split('\n')[0]!, s]));

describe('docs/diagnostics.md', () => {
  const used = usedCodes();

  it('finds the codes the core uses', () => {
    for (const c of ['POL0001', 'POL0101', 'POL0201', 'POL0301', 'POL0310', 'POL0320']) expect(used.has(c)).toBe(true);
  });

  it.each([...used].sort().map(([code, file]) => ({ code, file })))('documents $code (used in $file)', ({ code }) => {
    const s = sections.get(code);
    expect(s, `add "## ${code}: …" to docs/diagnostics.md`).toBeDefined();
    expect(s).toMatch(/```\n[^\n]*\b(error|warning)\[POL\d{4}\]/);
  });

  it('has headings in code order, each once', () => {
    const codes = [...doc.matchAll(/^## (POL\d{4})\b/gm)].map((m) => m[1]!);
    expect(codes).toEqual([...new Set(codes)].sort());
  });
});

describe('plugin diagnostic ranges', () => {
  it.each(ALL_PLUGINS.map((p) => ({ name: p.name, plugin: p })))('$name reports only codes of its declared range', ({ name, plugin }) => {
    expect(plugin.diagnostics, `plugin "${name}" declares no diagnostic range`).toBeDefined();
    const dir = join(root, 'plugins', name);
    const used = new Set<string>();
    for (const f of tsFiles(dir)) for (const m of readFileSync(f, 'utf8').matchAll(/['"`](POL\d{4})['"`]/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(0);
    for (const code of used) expect(pluginMayReport(plugin, code), `${code} in plugins/${name}/ is outside ${plugin.diagnostics!.join('–')}`).toBe(true);
  });
});
