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
  rename: (s: string) => string = (s) => s): Promise<CompiledPolicySet> {
  const r = await loadPolicies(paths, plugins, { allowPaths });
  if (r.set === undefined) {
    throw new RulesError(`the rules of ${label} do not load: ${summarizeDiagnostics(r.diagnostics)}`, rename(renderDiagnostics(r.diagnostics, r.sources)));
  }
  return r.set;
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
    const set = await compile([isAbsolute(spec) || cwd === process.cwd() ? spec : resolve(cwd, spec)], spec, plugins, allowPaths);
    return { set, label: spec, revision: `revision ${set.revision}`, dispose: async () => undefined };
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
    const set = await compile([root], label, plugins, allowPaths, (s) => s.split(`${dir}/`).join(`${rev}:`));
    return { set, label, revision: `commit ${commit.slice(0, 12)}`, dispose };
  } catch (e) {
    await dispose();
    if (e instanceof RulesError) throw e;
    throw new RulesError(`cannot read "${path}" at git revision "${rev}": ${(e as { stderr?: string }).stderr || (e as Error).message}`);
  }
}
