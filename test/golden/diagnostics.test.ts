// Diagnostics goldens: each test/golden/diagnostics/x.policy (or directory x/, loaded as one set) is loaded
// with the test plugins, and each plugins/x.policy with the registered plugins; the rendered diagnostics must
// equal x.diag byte for byte (carets included).
import { readdirSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderDiagnostics } from '../../grammar/diagnostics.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import { goldenPlugins } from '../policy/test-plugins.ts';

const dir = fileURLToPath(new URL('./diagnostics/', import.meta.url));
/** Cases for the registered plugins' own diagnostics (POL04xx), in plugins/: loaded one file at a time. */
const PLUGIN_CASES = 'plugins';
const cases = readdirSync(dir)
  .filter((f) => f !== PLUGIN_CASES && (f.endsWith('.policy') || statSync(dir + f).isDirectory()))
  .sort();
const pluginCases = readdirSync(dir + PLUGIN_CASES).filter((f) => f.endsWith('.policy')).sort();

describe('diagnostics goldens', () => {
  it('has the cases the language promises', () => {
    expect(cases).toEqual(expect.arrayContaining([
      'lex-errors.policy', 'parse-recovery.policy', 'did-you-mean.policy', 'keyword-typo.policy', 'duplicate-ids', 'unknown-block.policy',
      'unreadable-list.policy', 'too-many-errors.policy',
    ]));
  });

  it.each(cases)('%s', async (name) => {
    const path = relative(process.cwd(), dir + name);
    const r = await loadPolicies([path], goldenPlugins);
    expect(r.set).toBeUndefined();
    const out = renderDiagnostics(r.diagnostics, r.sources);
    await expect(out).toMatchFileSnapshot(`./diagnostics/${name.replace(/\.policy$/, '')}.diag`);
  });
});

describe('diagnostics goldens with the registered plugins', () => {
  it('has the cases the plugins promise', () => {
    expect(pluginCases).toEqual(expect.arrayContaining(['escalation-unused.policy', 'names-quoted.policy', 'regex-notes.policy']));
  });

  it.each(pluginCases)('%s', async (name) => {
    const path = relative(process.cwd(), `${dir}${PLUGIN_CASES}/${name}`);
    const r = await loadPolicies([path], ALL_PLUGINS);
    expect(r.set).toBeUndefined();
    const out = renderDiagnostics(r.diagnostics, r.sources);
    await expect(out).toMatchFileSnapshot(`./diagnostics/${PLUGIN_CASES}/${name.replace(/\.policy$/, '')}.diag`);
  });
});
