// The SDK is the only door: a plugin imports nothing from src/ outside src/sdk/ and src/text/ (the shared text library),
// nothing from grammar/, and nothing from another plugin's folder; neither the SDK nor the text library imports a plugin.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function* tsFiles(dir: string): Generator<string> {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) yield* tsFiles(p);
    else if (ent.name.endsWith('.ts')) yield p;
  }
}

/** Every module specifier of a file: static imports and re-exports, side-effect imports, dynamic import('…'). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Repository-relative targets of a file's relative imports. */
function localImports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8')).filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)));
}

describe('the SDK is the only door', () => {
  const pluginFiles = [...tsFiles(join(root, 'plugins'))].map((f) => relative(root, f));

  it('finds the plugin sources', () => {
    expect(pluginFiles).toContain('plugins/auth/index.ts');
    expect(pluginFiles.length).toBeGreaterThan(40);
  });

  it.each(pluginFiles.map((file) => ({ file })))('$file imports only its own folder, src/sdk/ and src/text/', ({ file }) => {
    const own = file.split('/').slice(0, 2).join('/'); // plugins/<name>
    for (const target of localImports(join(root, file))) {
      if (file === 'plugins/index.ts') {
        // The registry list: each plugin's entry point, and the SDK's plugin type.
        expect(target === 'src/sdk/plugin.ts' || /^plugins\/[a-z]+\/index\.ts$/.test(target), `${file} -> ${target}`).toBe(true);
        continue;
      }
      const ok = target.startsWith(`${own}/`) || target.startsWith('src/sdk/') || target.startsWith('src/text/');
      expect(ok, `${file} imports ${target}: go through src/sdk/ (or src/text/)`).toBe(true);
    }
  });

  it('src/sdk/ and src/text/ import no plugin (the text machinery lives in src/text/, not in the topics plugin)', () => {
    const files = [...tsFiles(join(root, 'src/sdk')), ...tsFiles(join(root, 'src/text'))];
    expect(files.map((f) => relative(root, f))).toContain('src/text/normalize.ts');
    for (const f of files) {
      const file = relative(root, f);
      for (const target of localImports(f)) expect(target.startsWith('plugins/'), `${file} imports ${target}`).toBe(false);
    }
  });

  it('the import scan sees every kind of import (a scan that finds nothing would pass vacuously)', () => {
    expect(specifiers("import a from './a.ts';\nexport { b } from '../b.ts';\nimport './c.ts';\nconst d = await import('./d.ts');\nimport type {\n  E,\n} from './e.ts';"))
      .toEqual(['./a.ts', '../b.ts', './e.ts', './c.ts', './d.ts']);
  });
});
