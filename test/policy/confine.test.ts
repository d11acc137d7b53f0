// Files named by a policy stay inside the policy root (issue 13 item 4): keys and list files resolve — symlinks
// followed — inside the loaded directory unless the operator allows another directory; diagnostics about a keys or list
// file never print what the file contains (an environment full of API keys, /etc/shadow lines).
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { renderDiagnostics } from '../../grammar/diagnostics.ts';
import { loadPolicies } from '../../src/policy/load.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { authPlugin } from '../../plugins/auth/index.ts';
import { KeyRing } from '../../plugins/auth/key-ring.ts';
import { formatKeyLine, generateKey } from '../../plugins/auth/keys-file.ts';
import { runCli } from '../helpers/gateway-process.ts';

const SECRET = 'sk-SENTINEL-7f3a9c';
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

/** A temp tree: `root/` (the policy root) and `outside/` next to it, each with the given files. */
function tree(root: Record<string, string>, outside: Record<string, string> = {}): { root: string; outside: string } {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'pg-confine-')));
  dirs.push(base);
  const write = (dir: string, files: Record<string, string>) => {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
  };
  mkdirSync(join(base, 'root'));
  mkdirSync(join(base, 'outside'));
  write(join(base, 'root'), root);
  write(join(base, 'outside'), outside);
  return { root: join(base, 'root'), outside: join(base, 'outside') };
}

const SHADOW = `root:$6$${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`;
const keysLine = () => { const k = generateKey(); return formatKeyLine({ id: k.id, key: k.key, label: 'ops', policies: '*' }); };

async function load(paths: string[], allowPaths?: string[]) {
  const r = await loadPolicies(paths, ALL_PLUGINS, { allowPaths });
  return { ...r, text: renderDiagnostics(r.diagnostics, r.sources) };
}

describe('files named by a policy resolve inside the policy root', () => {
  it.each([
    { note: 'an absolute keys path outside the root', policy: (o: string) => `policy "p" {\n  auth { keys "${o}/shadow" }\n}\n` },
    { note: 'a ../ list path out of the root', policy: () => 'policy "p" {\n  topics { deny list "../outside/shadow" }\n}\n' },
    { note: 'a keys file that is a symlink to a file outside', policy: () => 'policy "p" {\n  auth { keys "keys/link.keys" }\n}\n', link: ['keys/link.keys', 'shadow'] },
    { note: 'a list file in a directory symlinked from outside', policy: () => 'policy "p" {\n  topics { deny list "lists/shadow" }\n}\n', link: ['lists', '.'] },
  ])('$note is refused with POL0313, and nothing of the file is printed', async ({ policy, link }) => {
    const t = tree({}, { shadow: SHADOW });
    writeFileSync(join(t.root, 'p.policy'), policy(t.outside));
    if (link) {
      mkdirSync(join(t.root, link[0]!, '..'), { recursive: true });
      symlinkSync(join(t.outside, link[1]!), join(t.root, link[0]!));
    }
    const r = await load([t.root]);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(['POL0313']);
    expect(r.text).toContain('outside the policy root');
    expect(r.text).toContain('--allow-path');
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain('daemon');
  });

  it('--allow-path lets a directory outside the root in (a Secret mounted elsewhere)', async () => {
    const t = tree({ 'p.policy': '' }, { 'ops.keys': `${keysLine()}\n`, 'words.txt': 'alpha\n' });
    writeFileSync(join(t.root, 'p.policy'), `policy "p" {\n  auth { keys "${t.outside}/ops.keys" }\n  topics { deny list "../outside/words.txt" }\n}\n`);
    expect((await load([t.root])).diagnostics.map((d) => d.code)).toEqual(['POL0313', 'POL0313']);
    const r = await load([t.root], [t.outside]);
    expect(r.diagnostics).toEqual([]);
    expect(r.set?.policies.has('p')).toBe(true);
  });

  it('a Kubernetes ConfigMap volume (files linked through "..data" to a timestamped directory) loads', async () => {
    const t = tree({ '..2026_01_01_00_00_00.1/p.policy': 'policy "p" {\n  topics { deny list "words.txt" }\n}\n', '..2026_01_01_00_00_00.1/words.txt': 'alpha\n' });
    symlinkSync('..2026_01_01_00_00_00.1', join(t.root, '..data'));
    symlinkSync('..data/p.policy', join(t.root, 'p.policy'));
    symlinkSync('..data/words.txt', join(t.root, 'words.txt'));
    const r = await load([t.root]);
    expect(r.diagnostics).toEqual([]);
    expect(r.set?.policies.has('p')).toBe(true);
  });

  it('a policy file given by itself confines to its own directory', async () => {
    const t = tree({ 'p.policy': 'policy "p" {\n  topics { deny list "../outside/words.txt" }\n}\n' }, { 'words.txt': 'alpha\n' });
    expect((await load([join(t.root, 'p.policy')])).diagnostics.map((d) => d.code)).toEqual(['POL0313']);
  });
});

describe('diagnostics about keys and list files never print their content', () => {
  it('a keys file whose lines are not keys: line numbers only', async () => {
    const t = tree({ 'p.policy': 'policy "p" {\n  auth { keys "k.keys" }\n}\n', 'k.keys': `${SHADOW}pgk_abcdefghijkl sha256:${'0'.repeat(64)} label=${SECRET}!! policies=*\npgk_abcdefghijk2 sha256:${'0'.repeat(64)} label=x policies=* ${SECRET}=1\n` });
    const r = await load([t.root]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['POL0407', 'POL0407', 'POL0407', 'POL0407']);
    expect(r.text).toContain('line 1');
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain('root:');
  });

  it('a list file with duplicates, phrases on both lists and phrases without letters: file:line only', async () => {
    const t = tree({
      'p.policy': 'policy "p" {\n  topics {\n    allow list "a.txt"\n    deny list "d.txt"\n  }\n}\n',
      'a.txt': `${SECRET} alpha\n`, 'd.txt': `${SECRET} beta\n${SECRET} beta\n${SECRET} alpha\n$$$ ---\n`,
    });
    const r = await load([t.root]);
    expect(r.diagnostics.map((d) => d.code).sort()).toEqual(['POL0421', 'POL0422', 'POL0424']);
    expect(r.text).toContain('d.txt:2');
    expect(r.text).not.toContain(SECRET);
    expect(r.text.toLowerCase()).not.toContain('sentinel'); // nor its normalised form
    expect(r.text).not.toContain('$$$');
  });

  it('`policy-gateway check` on auth { keys "/proc/self/environ" } prints neither the environment nor the file', async () => {
    const t = tree({ 'p.policy': 'policy "p" {\n  auth { keys "/proc/self/environ" }\n}\n' });
    const r = await runCli(['check', t.root], { env: { LEAKY_UPSTREAM_KEY: SECRET } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('POL0313');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    // even when the operator allows /proc, what is printed is about lines, not their text
    const allowed = await runCli(['check', '--allow-path', '/proc', t.root], { env: { LEAKY_UPSTREAM_KEY: SECRET } });
    expect(allowed.code).toBe(1);
    expect(allowed.stderr).toContain('POL0407');
    expect(allowed.stdout + allowed.stderr).not.toContain(SECRET);
  });
});

describe('the live key ring stays confined', () => {
  it('a keys file swapped for a symlink out of the root after load is not read; the last good keys stay', async () => {
    const t = tree({ 'p.policy': 'policy "p" {\n  auth { keys "k.keys" }\n}\n', 'k.keys': `${keysLine()}\n` }, { 'k.keys': `${keysLine()}\n${keysLine()}\n` });
    const r = await loadPolicies([t.root], [authPlugin]);
    const ring = (r.set!.policies.get('p')!.plugins[0]!.hooks as unknown as { ring: KeyRing }).ring;
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
    await ring.refresh(log);
    expect(ring.current(0, log).size).toBe(1);
    renameSync(join(t.root, 'k.keys'), join(t.root, 'old.keys'));
    symlinkSync(join(t.outside, 'k.keys'), join(t.root, 'k.keys'));
    await ring.refresh(log);
    expect(ring.current(0, log).size).toBe(1);
    expect(lines.join('')).toContain('outside the policy root');
  });
});
