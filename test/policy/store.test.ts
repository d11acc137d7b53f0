// PolicyStore (src/policy/store.ts): initial load, hot reload on file change, a broken edit keeps the last
// good set (logged, reported to onReload), reloads never overlap, close() stops everything.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../grammar/diagnostics.ts';
import { PolicyStore, type PolicyStoreOptions } from '../../src/policy/store.ts';
import { definePlugin } from '../../src/sdk/plugin.ts';
import { policyDir } from './helpers.ts';
import { phrasePlugin } from './test-plugins.ts';

const cleanups: (() => void)[] = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function setup(files: Record<string, string>, opts: Partial<PolicyStoreOptions> = {}) {
  const d = policyDir(files);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { logs.push(JSON.parse(s)); } });
  const reloads: { result: string; diagnostics: readonly Diagnostic[] }[] = [];
  let notify: (() => void) | undefined;
  const store = new PolicyStore({
    paths: [d.dir], plugins: [phrasePlugin], logger, watch: false,
    onReload: (result, diagnostics) => { reloads.push({ result, diagnostics }); notify?.(); },
    ...opts,
  });
  cleanups.push(() => { store.close(); d.cleanup(); });
  /** Resolves at the next onReload call. */
  const nextReload = () => new Promise<void>((res) => { notify = res; });
  return { d, store, logs, reloads, nextReload };
}

const POLICY = (phrase: string) => `policy "p" {\n  topics { deny "${phrase}" }\n}\n`;

describe('PolicyStore', () => {
  it('loads, then serves the set through current', async () => {
    const { store, logs } = setup({ 'p.policy': POLICY('a') });
    const set = await store.load();
    expect(store.current).toBe(set);
    expect([...set.policies.keys()]).toEqual(['p']);
    expect(logs.at(-1)).toMatchObject({ msg: 'policies loaded', revision: set.revision, policies: 1, files: 1 });
  });

  it('throws a plain Error with the rendered diagnostics when the first load fails', async () => {
    const { store } = setup({ 'p.policy': 'policy "p" { topics { deny "a",, } }' });
    const err = await store.load().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('policies failed to load (1 error):');
    expect((err as Error).message).toContain('p.policy:1:32: error[POL0203]: expected a value, found ","');
    expect((err as Error).message).toContain('1 | policy "p" { topics { deny "a",, } }');
  });

  it('swaps in a changed set on reload; requests keep the snapshot they took', async () => {
    const { d, store, reloads } = setup({ 'p.policy': POLICY('a') });
    const before = await store.load();
    d.write('p.policy', POLICY('b'));
    const r = await store.reload();
    expect(r.result).toBe('success');
    expect(store.current).not.toBe(before);
    expect(store.current.revision).toBe(r.revision);
    expect(r.revision).not.toBe(before.revision);
    expect(before.policies.get('p')).toBeDefined();
    expect(reloads.map((x) => x.result)).toEqual(['success']);
  });

  it('keeps the last good set when an edit breaks, logs why and reports an error', async () => {
    const { d, store, reloads, logs } = setup({ 'p.policy': POLICY('a') });
    const good = await store.load();
    d.write('p.policy', 'policy "p" {\n  topics { deny list "nope.txt" }\n}\n');
    const r = await store.reload();
    expect(r.result).toBe('error');
    expect(store.current).toBe(good);
    expect(reloads).toHaveLength(1);
    expect(reloads[0]!.result).toBe('error');
    expect(reloads[0]!.diagnostics.map((x) => x.code)).toEqual(['POL0310']);
    const line = logs.find((l) => l['msg'] === 'policy reload failed, keeping the last good policies')!;
    expect(line).toMatchObject({ level: 50, errors: 1, revision: good.revision });
    // One record per diagnostic, each a flat object: no rendered text, no line breaks.
    const diags = logs.filter((l) => l['msg'] === 'policy diagnostic');
    expect(diags).toEqual([expect.objectContaining({
      level: 50, code: 'POL0310', severity: 'error', at: `${join(d.dir, 'p.policy')}:2:22`, message: 'cannot read file "nope.txt": no such file or directory',
      notes: [`paths are relative to the policy file's directory; this one is "${join(d.dir, 'nope.txt')}"`],
    })]);
    expect(JSON.stringify(logs)).not.toContain('\\n');
    d.write('nope.txt', 'x\n');
    expect((await store.reload()).result).toBe('success');
  });

  it('writes the rendered diagnostics to a terminal instead of JSON records', async () => {
    const written: string[] = [];
    const { d, store, logs } = setup({ 'p.policy': POLICY('a') }, { terminal: { write: (s: string) => written.push(s) } });
    await store.load();
    d.write('p.policy', 'policy "p" {\n  topics { deny list "nope.txt" }\n}\n');
    expect((await store.reload()).result).toBe('error');
    expect(written.join('')).toContain(`${join(d.dir, 'p.policy')}:2:22: error[POL0310]: cannot read file "nope.txt": no such file or directory\n  |\n2 |   topics { deny list "nope.txt" }\n  |                      ^^^^^^^^^^\n`);
    expect(written.join('')).toMatch(/\^+/);
    expect(logs.filter((l) => l['msg'] === 'policy diagnostic')).toEqual([]);
    expect(logs.some((l) => l['msg'] === 'policy reload failed, keeping the last good policies')).toBe(true);
  });

  it('does nothing when the sources did not change', async () => {
    const { store, reloads } = setup({ 'p.policy': POLICY('a') });
    const set = await store.load();
    expect(await store.reload()).toEqual({ result: 'unchanged', diagnostics: [], revision: set.revision });
    expect(store.current).toBe(set);
    expect(reloads).toEqual([]);
  });

  it('never runs two reloads at once; calls during a reload share one more run', async () => {
    let compiles = 0;
    const counting = definePlugin({ name: 'count', blocks: [], compile: () => { compiles++; return undefined; }, hooks: () => ({}) });
    const { d, store } = setup({ 'p.policy': 'policy "p" {}' }, { plugins: [counting] });
    await store.load();
    expect(compiles).toBe(1);
    d.write('p.policy', 'policy "p" { default }');
    const a = store.reload();
    const b = store.reload();
    const c = store.reload();
    expect(b).toBe(c);
    const results = await Promise.all([a, b, c]);
    expect(compiles).toBe(3);
    expect(results.map((x) => x.result)).toEqual(['success', 'unchanged', 'unchanged']);
  });

  it('reloads by itself when a watched file changes', async () => {
    const { d, store, nextReload } = setup({ 'p.policy': POLICY('a') }, { watch: true, debounceMs: 20 });
    const before = await store.load();
    const reloaded = nextReload();
    d.write('sub/q.policy', 'policy "q" {}\n');
    await reloaded;
    expect(store.current.revision).not.toBe(before.revision);
    expect([...store.current.policies.keys()]).toEqual(['p', 'q']);
  });

  it('survives an onReload callback that throws', async () => {
    const { d, store, logs } = setup({ 'p.policy': POLICY('a') }, { onReload: () => { throw new Error('metrics down'); } });
    await store.load();
    d.write('p.policy', POLICY('b'));
    expect((await store.reload()).result).toBe('success');
    expect(logs.some((l) => l['msg'] === 'policy onReload callback failed')).toBe(true);
  });

  it('reports nothing after close', async () => {
    const { store, reloads, d } = setup({ 'p.policy': POLICY('a') });
    const set = await store.load();
    store.close();
    d.write('p.policy', POLICY('b'));
    expect((await store.reload()).result).toBe('unchanged');
    expect(store.current).toBe(set);
    expect(reloads).toEqual([]);
  });
});
