// `check` and `fmt` commands (src/cli/check.ts, src/cli/fmt.ts) driven through their run functions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/cli/check.ts';
import { runFmt } from '../../src/cli/fmt.ts';
import { policyDir } from './helpers.ts';
import { phrasePlugin } from './test-plugins.ts';

const cleanups: (() => void)[] = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });
const tmp = (files: Record<string, string>) => { const d = policyDir(files); cleanups.push(d.cleanup); return d; };

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => { out.stdout += s; } }, stderr: { write: (s: string) => { out.stderr += s; } } } };
}

const GOOD = 'policy "p" {\n  topics { deny "x" }\n}\n';

describe('check', () => {
  it('exits 0 on clean policies and says what it loaded', async () => {
    const d = tmp({ 'a.policy': GOOD, 'b.policy': 'policy "q" {}\n' });
    const { out, io: o } = io();
    expect(await runCheck([d.dir], o, [phrasePlugin])).toBe(0);
    expect(out.stdout).toMatch(/^ok: 2 policies in 2 files, revision [0-9a-f]{12}\n$/);
    expect(out.stderr).toBe('');
  });

  it('exits 1 and prints rendered diagnostics on errors', async () => {
    const d = tmp({ 'a.policy': 'policy "p" {\n  topcis { deny "x" }\n}\n' });
    const { out, io: o } = io();
    expect(await runCheck([d.dir], o, [phrasePlugin])).toBe(1);
    expect(out.stderr).toBe([
      `${join(d.dir, 'a.policy')}:2:3: error[POL0302]: unknown block "topcis"`,
      '  |',
      '2 |   topcis { deny "x" }',
      '  |   ^^^^^^',
      '  = note: did you mean "topics"?',
      '  = note: expected one of: "topics"',
      '',
      'check failed: 1 error',
      '',
    ].join('\n'));
    expect(out.stdout).toBe('');
  });

  it('prints warnings and still exits 0', async () => {
    const d = tmp({ 'a.policy': GOOD, 'empty/readme.md': '' });
    const { out, io: o } = io();
    expect(await runCheck([d.dir, join(d.dir, 'empty')], o, [phrasePlugin])).toBe(0);
    expect(out.stderr).toContain('warning[POL0312]: no .policy files in');
    expect(out.stdout).toMatch(/^ok: 1 policy in 1 file, revision [0-9a-f]{12} \(1 warning\)\n$/);
  });

  it('prints a JSON array with --format json', async () => {
    const d = tmp({ 'a.policy': 'policy "p" { topics { dney "x" } }\n' });
    const { out, io: o } = io();
    expect(await runCheck(['--format', 'json', d.dir], o, [phrasePlugin])).toBe(1);
    const list = JSON.parse(out.stdout) as { code: string; severity: string; span: { file: string; start: { line: number; col: number } } }[];
    expect(list.map((x) => [x.code, x.severity, x.span.start.line, x.span.start.col])).toEqual([['POL0401', 'error', 1, 23]]);
    const { out: out2, io: o2 } = io();
    expect(await runCheck([`--format=json`, tmp({ 'a.policy': GOOD }).dir], o2, [phrasePlugin])).toBe(0);
    expect(JSON.parse(out2.stdout)).toEqual([]);
  });

  it.each([
    { note: 'an unknown option', argv: ['--nope'] },
    { note: 'a bad format', argv: ['--format', 'xml'] },
  ])('exits 2 on $note', async ({ argv }) => {
    const { out, io: o } = io();
    expect(await runCheck(argv, o, [])).toBe(2);
    expect(out.stderr).toContain('usage: policy-gateway check');
  });
});

describe('fmt', () => {
  const UGLY = 'policy "p" {   topics {deny "x"}\n}';
  const PRETTY = 'policy "p" {\n  topics { deny "x" }\n}\n';

  it('prints formatted text by default', async () => {
    const d = tmp({ 'a.policy': UGLY });
    const { out, io: o } = io();
    expect(await runFmt([d.dir], o)).toBe(0);
    expect(out.stdout).toBe(PRETTY);
    expect(readFileSync(join(d.dir, 'a.policy'), 'utf8')).toBe(UGLY);
  });

  it('--check lists unformatted files and exits 1, or exits 0 when all are formatted', async () => {
    const d = tmp({ 'a.policy': UGLY, 'b.policy': PRETTY });
    const { out, io: o } = io();
    expect(await runFmt(['--check', d.dir], o)).toBe(1);
    expect(out.stdout).toBe(join(d.dir, 'a.policy') + '\n');
    const { io: o2 } = io();
    expect(await runFmt(['--check', join(d.dir, 'b.policy')], o2)).toBe(0);
  });

  it('--write rewrites the unformatted files and lists them', async () => {
    const d = tmp({ 'a.policy': UGLY, 'b.policy': PRETTY });
    const { out, io: o } = io();
    expect(await runFmt(['--write', d.dir], o)).toBe(0);
    expect(out.stdout).toBe(join(d.dir, 'a.policy') + '\n');
    expect(readFileSync(join(d.dir, 'a.policy'), 'utf8')).toBe(PRETTY);
  });

  it('leaves files with errors alone and exits 1 with their diagnostics', async () => {
    const d = tmp({ 'a.policy': 'policy "p" { topics { deny "x",, } }' });
    const { out, io: o } = io();
    expect(await runFmt(['--write', d.dir], o)).toBe(1);
    expect(out.stderr).toContain('error[POL0203]: expected a value, found ","');
    expect(out.stderr).toContain('fmt: 1 error; files with errors were not formatted');
    expect(readFileSync(join(d.dir, 'a.policy'), 'utf8')).toBe('policy "p" { topics { deny "x",, } }');
  });

  it('exits 2 when asked to --check and --write at once', async () => {
    const { io: o } = io();
    expect(await runFmt(['--check', '--write'], o)).toBe(2);
  });
});
