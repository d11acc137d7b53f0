// The bundled rules/*.policy files are fixtures too: each parses cleanly and is already formatted, and the
// whole directory passes `policy-gateway check` with the registered plugins.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderDiagnostics } from '../../grammar/diagnostics.ts';
import { formatPolicy, parsePolicy } from '../../grammar/index.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { loadPolicies } from '../../src/policy/load.ts';

const root = new URL('../../', import.meta.url);
const files = readdirSync(new URL('rules/', root), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.policy'))
  .sort();

describe('bundled rules', () => {
  for (const f of files) {
    it(`rules/${f} parses cleanly and is formatted`, () => {
      const text = readFileSync(new URL(`rules/${f}`, root), 'utf8');
      const r = parsePolicy(text, `rules/${f}`);
      expect(renderDiagnostics(r.diagnostics, () => text)).toBe('');
      expect(formatPolicy(text, { file: `rules/${f}` })).toBe(text);
    });
  }

  it('rules/ passes check with the registered plugins', async () => {
    const r = await loadPolicies(['rules'], ALL_PLUGINS);
    expect(renderDiagnostics(r.diagnostics.filter((d) => d.severity === 'error'), r.sources)).toBe('');
    expect(r.set).toBeDefined();
    expect(r.set!.files).toHaveLength(files.length);
  });
});
