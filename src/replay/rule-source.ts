// Where `replay --old/--new` rules come from: a directory (or file) on disk, or a git revision (`REV` or `REV:path`),
// whose tree is read with `git ls-tree` / `git cat-file` into a temporary directory and compiled like any rules dir.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { renderDiagnostics, summarizeDiagnostics } from '../../grammar/diagnostics.ts';
import { loadPolicies, MAX_NAMED_FILE_BYTES } from '../policy/load.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { PluginFactory } from '../sdk/plugin.ts';

/** Most files read from one git tree (a rules directory holds a few dozen). */
export const MAX_TREE_FILES = 10_000;

/** A compiled rule set and how to name it in the report. */
export interface LoadedRules {
  readonly set: CompiledPolicySet;
  /** `rules` or `HEAD~1:rules`. */
  readonly label: string;
  /** How the report names its revision: the rule-set revision of a directory (as `check` prints it), the commit of a git revision. */
  readonly revision: string;
  /**
   * The text of every file the rules were compiled from (policy files and the files they name), by path relative to
   * the rules root — the same names for a directory and for a git revision of it.
   */
  readonly sources: ReadonlyMap<string, string>;
  /** A compiled policy's file as a key of `sources`. */
  readonly relative: (file: string) => string;
  /** Removes the temporary checkout of a git revision (no-op for a directory). */
  readonly dispose: () => Promise<void>;
}

/** Why rules could not be loaded: a one-line reason and, for policy errors, the rendered diagnostics. */
export class RulesError extends Error {
  readonly details: string;
  constructor(message: string, details = '') {
    super(message);
    this.details = details;
  }
}

function git(cwd: string, args: readonly string[], maxBuffer = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((res, rej) => {
    execFile('git', args, { cwd, encoding: 'buffer', maxBuffer, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) rej(Object.assign(err, { stderr: stderr.toString('utf8').trim() }));
      else res(stdout);
    });
  });
}

/** Compiles the rules under `paths`; throws RulesError with rendered diagnostics when they do not load. */
async function compile(paths: readonly string[], label: string, plugins: readonly PluginFactory<any>[], allowPaths: readonly string[],
  rename: (s: string) => string = (s) => s): Promise<{ set: CompiledPolicySet; sources: ReadonlyMap<string, string> }> {
  const r = await loadPolicies(paths, plugins, { allowPaths });
  if (r.set === undefined) {
    throw new RulesError(`the rules of ${label} do not load: ${summarizeDiagnostics(r.diagnostics)}`, rename(renderDiagnostics(r.diagnostics, r.sources)));
  }
  const root = paths[0]!;
  const sources = new Map<string, string>();
  for (const [file, text] of r.sources) sources.set(relativeTo(root, file), text);
  return { set: r.set, sources };
}

/** `file` relative to the rules root (a directory, or a single file's directory); absolute when it lies outside. */
function relativeTo(root: string, file: string): string {
  const base = existsSync(root) && !root.endsWith('.policy') ? resolve(root) : dirname(resolve(root));
  const rel = relative(base, resolve(file));
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(file) : rel;
}

/**
 * The policies whose meaning cannot differ between two loads: same id, the same text of the file it is written in
 * (by its path relative to the rules root), and every other file read (phrase lists, keys) the same. Replay evaluates
 * their records once.
 */
export function unchangedPolicies(a: LoadedRules, b: LoadedRules): Set<string> {
  const out = new Set<string>();
  const others = (m: ReadonlyMap<string, string>) => [...m].filter(([f]) => !f.endsWith('.policy')).sort(([x], [y]) => (x < y ? -1 : 1));
  const oa = others(a.sources);
  const ob = others(b.sources);
  if (oa.length !== ob.length || oa.some(([f, t], i) => ob[i]![0] !== f || ob[i]![1] !== t)) return out;
  for (const [id, pa] of a.set.policies) {
    const pb = b.set.policies.get(id);
    if (pb === undefined) continue;
    const ta = a.sources.get(a.relative(pa.file));
    const tb = b.sources.get(b.relative(pb.file));
    if (ta !== undefined && ta === tb && a.relative(pa.file) === b.relative(pb.file)) out.add(id);
  }
  return out;
}

/**
 * Loads `spec`: an existing path is a rules directory (or file); anything else is a git revision, `REV:path` or `REV`
 * alone (then the path is `defaultPath`, the `--new` directory, taken relative to the repository root). Runs git in
 * `cwd`. Throws RulesError: not a repository, unknown revision, no such path in the revision, rules that do not load.
 */
export async function loadRules(spec: string, defaultPath: string, plugins: readonly PluginFactory<any>[],
  opts: { cwd?: string; allowPaths?: readonly string[] } = {}): Promise<LoadedRules> {
  const cwd = opts.cwd ?? process.cwd();
  const allowPaths = opts.allowPaths ?? [];
  if (existsSync(resolve(cwd, spec))) {
    // Named as given (relative to the working directory), so the revision is the one `check` and the gateway print.
    const root = isAbsolute(spec) || cwd === process.cwd() ? spec : resolve(cwd, spec);
    const { set, sources } = await compile([root], spec, plugins, allowPaths);
    return { set, sources, relative: (f) => relativeTo(root, f), label: spec, revision: `revision ${set.revision}`, dispose: async () => undefined };
  }
  let top: string;
  try {
    top = (await git(cwd, ['rev-parse', '--show-toplevel'])).toString('utf8').trim();
  } catch {
    throw new RulesError(`"${spec}" is neither a directory nor usable as a git revision: ${cwd} is not inside a git repository`);
  }
  const colon = spec.indexOf(':');
  const rev = colon === -1 ? spec : spec.slice(0, colon);
  const path = colon === -1 ? relative(top, resolve(cwd, defaultPath)) : spec.slice(colon + 1).replace(/^\/+|\/+$/g, '');
  if (rev === '' || rev.startsWith('-')) throw new RulesError(`"${spec}" is not a git revision`);
  if (path.startsWith('..')) throw new RulesError(`"${defaultPath}" is outside the git repository at ${top}; name the path as REV:path`);
  let commit: string;
  try {
    commit = (await git(top, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])).toString('utf8').trim();
  } catch {
    throw new RulesError(`unknown git revision "${rev}" (and no directory "${spec}" exists)`);
  }
  const listing = (await git(top, ['ls-tree', '-r', '-z', '--full-tree', commit, '--', path === '' ? '.' : path])).toString('utf8');
  const entries = listing.split('\0').filter(Boolean).map((l) => {
    const tab = l.indexOf('\t');
    const [mode, type, sha] = l.slice(0, tab).split(' ');
    return { mode: mode!, type: type!, sha: sha!, file: l.slice(tab + 1) };
  }).filter((e) => e.type === 'blob' && e.mode !== '120000');
  const label = `${rev}:${path || '.'}`;
  if (entries.length === 0) throw new RulesError(`no files under "${path || '.'}" in git revision "${rev}"`);
  if (entries.length > MAX_TREE_FILES) throw new RulesError(`more than ${MAX_TREE_FILES} files under "${path}" in "${rev}"`);
  const dir = await mkdtemp(join(tmpdir(), 'pg-replay-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    for (const e of entries) {
      const data = await git(top, ['cat-file', 'blob', e.sha], MAX_NAMED_FILE_BYTES + 1);
      const out = join(dir, e.file);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, data);
    }
    const root = join(dir, path);
    const { set, sources } = await compile([root], label, plugins, allowPaths, (s) => s.split(`${dir}/`).join(`${rev}:`));
    return { set, sources, relative: (f) => relativeTo(root, f), label, revision: `commit ${commit.slice(0, 12)}`, dispose };
  } catch (e) {
    await dispose();
    if (e instanceof RulesError) throw e;
    throw new RulesError(`cannot read "${path}" at git revision "${rev}": ${(e as { stderr?: string }).stderr || (e as Error).message}`);
  }
}
