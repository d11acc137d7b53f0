// The load pipeline (src/policy/load.ts): file discovery, block dispatch to plugins in registry order, chain
// building, plugin diagnostics, list files, revision, immutability.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileSources, deepFreeze, findPolicyFiles, loadPolicies } from '../../src/policy/load.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/sdk/types.ts';
import { ctxFor } from '../helpers/ctx.ts';
import { policyDir } from './helpers.ts';
import { type CallLog, phrasePlugin, recordingPlugin, throwingPlugin } from './test-plugins.ts';

const dirs: { cleanup(): void }[] = [];
const tmp = (files: Record<string, string>) => { const d = policyDir(files); dirs.push(d); return d; };
afterEach(() => { while (dirs.length) dirs.pop()!.cleanup(); });

describe('findPolicyFiles', () => {
  it('takes every *.policy below a directory, sorted, skipping dot names and other files', async () => {
    const d = tmp({ 'b.policy': '', 'a.policy': '', 'sub/c.policy': '', 'notes.txt': '', '.hidden/x.policy': '', '.#lock.policy': '' });
    const r = await findPolicyFiles([d.dir]);
    expect(r.files).toEqual([join(d.dir, 'a.policy'), join(d.dir, 'b.policy'), join(d.dir, 'sub/c.policy')]);
    expect(r.diagnostics).toEqual([]);
  });

  it('takes files as given, once', async () => {
    const d = tmp({ 'x.conf': '', 'a.policy': '' });
    const r = await findPolicyFiles([join(d.dir, 'x.conf'), d.dir, join(d.dir, 'a.policy')]);
    expect(r.files).toEqual([join(d.dir, 'a.policy'), join(d.dir, 'x.conf')]);
  });

  it('reports missing paths (error) and empty directories (warning)', async () => {
    const d = tmp({ 'empty/readme.txt': '' });
    const r = await findPolicyFiles([join(d.dir, 'nope'), join(d.dir, 'empty')]);
    expect(r.diagnostics.map((x) => [x.code, x.severity, x.message])).toEqual([
      ['POL0311', 'error', `cannot read "${join(d.dir, 'nope')}": no such file or directory`],
      ['POL0312', 'warning', `no .policy files in "${join(d.dir, 'empty')}"`],
    ]);
  });
});

describe('loadPolicies', () => {
  it('dispatches each plugin its own blocks and builds the chain in registry order', async () => {
    const log: CallLog = [];
    const plugins = [
      recordingPlugin('first', ['one'], log),
      recordingPlugin('off', ['unused'], log),
      recordingPlugin('second', ['two', 'deux'], log),
      recordingPlugin('always', ['three'], log, true),
    ];
    const d = tmp({ 'p.policy': 'policy "p" {\n  description "d"\n  deux { x }\n  one { y }\n  two { z }\n}\n' });
    const r = await loadPolicies([d.dir], plugins);
    expect(r.diagnostics).toEqual([]);
    const p = r.set!.policies.get('p')!;
    expect(p.plugins.map((x) => x.name)).toEqual(['first', 'second', 'always']);
    const ctx = ctxFor({ model: 'm', messages: [] });
    for (const h of p.chain.onRequest) h.fn(ctx);
    for (const h of p.chain.onResponse) h.fn({} as ChatCompletion, ctx);
    for (const h of p.chain.onChunk) h.fn({} as ChatCompletionChunk, ctx);
    for (const h of p.chain.onComplete) h.fn({ status: 200, upstreamCalled: true, aborted: false, synthesized: false }, ctx);
    expect(log).toEqual([
      'first:onRequest:one', 'second:onRequest:deux+two', 'always:onRequest:',
      'always:onResponse', 'second:onResponse', 'first:onResponse',
      'always:onChunk', 'second:onChunk', 'first:onChunk',
      'first:onComplete', 'second:onComplete', 'always:onComplete',
    ]);
  });

  it('fills the compiled policy and the set', async () => {
    const d = tmp({
      'a.policy': 'policy "a" {\n  description "Alpha"\n}\n',
      'sub/b.policy': '# b\n\npolicy "b" {\n  default\n}\n',
    });
    const r = await loadPolicies([d.dir], [], { now: () => 1234 });
    const set = r.set!;
    expect([...set.policies.keys()]).toEqual(['a', 'b']);
    expect(set.policies.get('a')).toMatchObject({ id: 'a', file: join(d.dir, 'a.policy'), line: 1, description: 'Alpha', isDefault: false, plugins: [] });
    expect(set.policies.get('b')).toMatchObject({ id: 'b', file: join(d.dir, 'sub/b.policy'), line: 3, description: null, isDefault: true });
    expect(set.defaultPolicyId).toBe('b');
    expect(set.files).toEqual([join(d.dir, 'a.policy'), join(d.dir, 'sub/b.policy')]);
    expect(set.loadedAt).toBe(1234);
    expect(set.revision).toMatch(/^[0-9a-f]{12}$/);
  });

  it('deep-freezes the set', async () => {
    const d = tmp({ 'a.policy': 'policy "a" { one { x } }' });
    const set = (await loadPolicies([d.dir], [recordingPlugin('first', ['one'], [])])).set!;
    expect(Object.isFrozen(set)).toBe(true);
    expect(() => (set.policies as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (set.policies as Map<string, unknown>).delete('a')).toThrow(TypeError);
    const p = set.policies.get('a')!;
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.plugins)).toBe(true);
    expect(Object.isFrozen(p.plugins[0]!.hooks)).toBe(true);
    expect(Object.isFrozen(p.chain.onRequest)).toBe(true);
    expect(Object.isFrozen(set.files)).toBe(true);
  });

  it('leaves class instances other than Map alone when freezing', () => {
    class Cache { n = 0; bump() { this.n++; } }
    const c = new Cache();
    const frozen = deepFreeze({ c, list: [1], m: new Map([['k', { v: 1 }]]) });
    c.bump();
    expect(c.n).toBe(1);
    expect(Object.isFrozen(frozen.list)).toBe(true);
    expect(Object.isFrozen(frozen.m.get('k'))).toBe(true);
  });

  it('reads list files relative to the policy file, once per load', async () => {
    const d = tmp({
      'team/p.policy': 'policy "p" { topics { deny list "lists/words.txt"; deny "inline" } }\npolicy "q" { topics { deny list "lists/words.txt" } }',
      'team/lists/words.txt': 'alpha\nbeta\n',
    });
    const r = await loadPolicies([d.dir], [phrasePlugin]);
    expect(r.diagnostics).toEqual([]);
    expect(r.sources.get(join(d.dir, 'team/lists/words.txt'))).toBe('alpha\nbeta\n');
    const p = r.set!.policies.get('p')!;
    expect(p.plugins.map((x) => x.name)).toEqual(['phrases']);
  });

  it('reports an unreadable list file at the path string (POL0310) and loads no set', async () => {
    const d = tmp({ 'p.policy': 'policy "p" {\n  topics { deny list "missing.txt" }\n}\n' });
    const r = await loadPolicies([d.dir], [phrasePlugin]);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map((x) => [x.code, x.message, x.span.start.line, x.span.start.col])).toEqual([
      ['POL0310', 'cannot read file "missing.txt": no such file or directory', 2, 22],
    ]);
    expect(r.diagnostics[0]!.notes).toEqual([`paths are relative to the policy file's directory; this one is "${join(d.dir, 'missing.txt')}"`]);
  });

  it('follows symlinked policy files, and reports a dangling one (POL0310)', async () => {
    const d = tmp({ '..data/p.policy': 'policy "p" {}' });
    symlinkSync(join(d.dir, '..data/p.policy'), join(d.dir, 'p.policy'));
    expect([...(await loadPolicies([d.dir], [])).set!.policies.keys()]).toEqual(['p']);
    symlinkSync(join(d.dir, 'missing'), join(d.dir, 'q.policy'));
    const r = await loadPolicies([d.dir], []);
    expect(r.diagnostics.map((x) => [x.code, x.message])).toEqual([['POL0310', `cannot read file "${join(d.dir, 'q.policy')}": no such file or directory`]]);
  });

  it('keeps plugin diagnostics, and skips checks and plugin compile for files with syntax errors', async () => {
    const d = tmp({
      'bad.policy': 'policy "bad" { topics { dney "x" } topics { deny "a",, } }',
      'good.policy': 'policy "good" { topics { dney "x" } }',
    });
    const r = await loadPolicies([d.dir], [phrasePlugin]);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map((x) => `${x.span.file.slice(d.dir.length + 1)} ${x.code}`)).toEqual(['bad.policy POL0203', 'good.policy POL0401']);
  });

  it('turns a plugin that throws into POL0390 instead of crashing', async () => {
    const d = tmp({ 'p.policy': 'policy "p" { explode {} }' });
    const r = await loadPolicies([d.dir], [throwingPlugin]);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map((x) => [x.code, x.message])).toEqual([['POL0390', 'plugin "thrower" failed on policy "p": boom']]);
  });

  it('loads with warnings only', async () => {
    const d = tmp({ 'a.policy': 'policy "a" {}', 'empty/x.txt': '' });
    const r = await loadPolicies([d.dir, join(d.dir, 'empty')], []);
    expect(r.set).toBeDefined();
    expect(r.diagnostics.map((x) => x.code)).toEqual(['POL0312']);
  });

  it('limits errors across files to 20', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`f${i}.policy`] = Array.from({ length: 6 }, (_, j) => `policy "p${i}-${j}" { a { x,, } }`).join('\n');
    const r = await loadPolicies([tmp(files).dir], []);
    expect(r.diagnostics).toHaveLength(21);
    expect(r.diagnostics[20]).toMatchObject({ code: 'POL0001', notes: ['10 more errors not shown; fix the ones above and run again'] });
  });
});

describe('revision', () => {
  const plugins = [phrasePlugin];
  it('hashes file names and contents, including list files', () => {
    const d = tmp({ 'words.txt': 'a\n' });
    const src = (text: string) => new Map([[join(d.dir, 'p.policy'), text]]);
    const r1 = compileSources(src('policy "p" { topics { deny list "words.txt" } }'), plugins);
    const r2 = compileSources(src('policy "p" { topics { deny list "words.txt" } }'), plugins);
    expect(r1.set!.revision).toBe(r2.set!.revision);
    const r3 = compileSources(src('policy "p" { topics { deny list "words.txt" }}'), plugins);
    expect(r3.set!.revision).not.toBe(r1.set!.revision);
    d.write('words.txt', 'b\n');
    const r4 = compileSources(src('policy "p" { topics { deny list "words.txt" } }'), plugins);
    expect(r4.set!.revision).not.toBe(r1.set!.revision);
  });

  it('does not depend on the order sources are given in', () => {
    const a: [string, string] = ['a.policy', 'policy "a" {}'];
    const b: [string, string] = ['b.policy', 'policy "b" {}'];
    expect(compileSources(new Map([a, b]), []).set!.revision).toBe(compileSources(new Map([b, a]), []).set!.revision);
  });
});
