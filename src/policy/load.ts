// Load pipeline: find .policy files → parse → core checks → each plugin compiles its blocks → deep-frozen
// CompiledPolicySet. Runs at startup, in `check`, and on every hot reload; never on the request path.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { Policy, PolicyFile, Span, Statement } from '../../grammar/ast.ts';
import { type Diagnostic, finalizeDiagnostics } from '../../grammar/diagnostics.ts';
import { parsePolicy } from '../../grammar/parse-policy.ts';
import { buildChain } from '../chain/build-chain.ts';
import type { CompileEnv, PluginFactory } from '../sdk/plugin.ts';
import { ENDPOINTS, type Endpoint } from '../sdk/types.ts';
import { checkPolicies } from './check.ts';
import { isInside, realDirs } from '../sdk/confine.ts';
import type { CompiledPlugin, CompiledPolicy, CompiledPolicySet } from './types.ts';

/** Options of loadPolicies / compileSources. */
export interface LoadOptions {
  /** Clock for `loadedAt` (tests inject one). Default Date.now. */
  readonly now?: () => number;
  /** Report blocks no plugin owns (POL0302). Default true; benchmarks measuring parse+check turn it off. */
  readonly checkUnknownBlocks?: boolean;
  /**
   * The policy roots: files a policy names (keys files, list files) must resolve, symlinks followed, inside one of
   * them or inside an `allowPaths` directory (POL0313 otherwise). `loadPolicies` sets them from its paths (a directory,
   * or a single file's directory); without them each policy file's own directory is its root.
   */
  readonly roots?: readonly string[];
  /** Directories outside the roots that files named by a policy may also resolve into (`--allow-path`). */
  readonly allowPaths?: readonly string[];
}

/** Largest file a policy may name (a keys file, a phrase list): read whole at load time. */
export const MAX_NAMED_FILE_BYTES = 64 * 1024 * 1024;

/** What a load returns: the set (only when there is no error), every diagnostic (sorted), and the sources read. */
export interface LoadResult {
  readonly set?: CompiledPolicySet;
  readonly diagnostics: Diagnostic[];
  /** Text of every file read (policy files and files read by plugins), by the name diagnostics use. */
  readonly sources: Map<string, string>;
}

/** Where a path names no file: POL0311 at line 1 of that path. */
function pathSpan(file: string): Span {
  const p = { line: 1, col: 1, offset: 0 };
  return { file, start: p, end: p };
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    default: return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Expands paths into the .policy files to load: a file is taken as is; a directory gives every `*.policy`
 * file (or symlink) below it, recursively, skipping names starting with "." (editor lock files, the
 * "..data" directory of a Kubernetes ConfigMap volume, whose files are also linked from the top). The result is sorted and without
 * duplicates. Paths that cannot be read give POL0311; a directory without any .policy file gives the
 * warning POL0312. With `tests`, policy test files (`*.policy.test`) are found too (`fmt` formats both).
 */
export async function findPolicyFiles(paths: readonly string[], opts: { tests?: boolean } = {}): Promise<{ files: string[]; diagnostics: Diagnostic[] }> {
  const files = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  for (const raw of paths) {
    const p = normalize(raw);
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (e) {
      diagnostics.push({ code: 'POL0311', severity: 'error', message: `cannot read "${raw}": ${errnoText(e)}`, span: pathSpan(raw) });
      continue;
    }
    if (!isDir) { files.add(p); continue; }
    let found = 0;
    try {
      const entries = await readdir(p, { recursive: true, withFileTypes: true });
      for (const ent of entries) {
        // Symlinks count too (Kubernetes ConfigMap volumes are symlinks into a "..data" directory); a dangling
        // one is reported when it is read.
        if (!(ent.isFile() || ent.isSymbolicLink()) || !(ent.name.endsWith('.policy') || (opts.tests && ent.name.endsWith('.policy.test')))) continue;
        const rel = join(ent.parentPath, ent.name);
        if (rel.slice(p.length).split(/[\\/]/).some((seg) => seg.startsWith('.'))) continue;
        files.add(normalize(rel));
        found++;
      }
    } catch (e) {
      diagnostics.push({ code: 'POL0311', severity: 'error', message: `cannot read "${raw}": ${errnoText(e)}`, span: pathSpan(raw) });
      continue;
    }
    if (found === 0) {
      diagnostics.push({ code: 'POL0312', severity: 'warning', message: `no .policy files in "${raw}"`, span: pathSpan(raw) });
    }
  }
  return { files: [...files].sort(), diagnostics };
}

/**
 * Loads every policy under `paths` and compiles it with `plugins` (registry order = chain order).
 * Never throws: problems are diagnostics, and any error-severity diagnostic means no `set`.
 */
export async function loadPolicies(paths: readonly string[], plugins: readonly PluginFactory<any>[], opts: LoadOptions = {}): Promise<LoadResult> {
  const found = await findPolicyFiles(paths);
  if (opts.roots === undefined) {
    const roots: string[] = [];
    for (const p of paths) {
      try { roots.push((await stat(p)).isDirectory() ? p : dirname(p)); } catch { /* reported as POL0311 */ }
    }
    opts = { ...opts, roots };
  }
  const texts = new Map<string, string>();
  const diags = [...found.diagnostics];
  for (const f of found.files) {
    try {
      texts.set(f, await readFile(f, 'utf8'));
    } catch (e) {
      diags.push({ code: 'POL0310', severity: 'error', message: `cannot read file "${f}": ${errnoText(e)}`, span: pathSpan(f) });
    }
  }
  return compileSources(texts, plugins, opts, diags);
}

/** Parses every source; returns the ASTs and the lexical/syntax diagnostics. */
export function parseSources(sources: ReadonlyMap<string, string>): { files: PolicyFile[]; diagnostics: Diagnostic[]; broken: Set<string> } {
  const files: PolicyFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const broken = new Set<string>();
  for (const [file, text] of [...sources].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const r = parsePolicy(text, file, { maxErrors: Infinity });
    files.push(r.ast);
    for (const d of r.diagnostics) {
      diagnostics.push(d);
      if (d.severity === 'error') broken.add(file);
    }
  }
  return { files, diagnostics, broken };
}

/**
 * Compiles in-memory sources (file name → text): parse, core checks, plugin compile steps, chain building.
 * Files read by plugins (`env.readText`) come from disk relative to the policy file. `earlier` holds
 * diagnostics found before (file discovery); they count like the others. Never throws.
 */
export function compileSources(sources: ReadonlyMap<string, string>, plugins: readonly PluginFactory<any>[], opts: LoadOptions = {},
  earlier: readonly Diagnostic[] = []): LoadResult {
  const allSources = new Map(sources);
  const parsed = parseSources(sources);
  const knownBlocks = [...new Set(plugins.flatMap((p) => p.blocks))];
  const diags: Diagnostic[] = [...earlier, ...parsed.diagnostics];
  // Files with syntax errors stop after parsing: checks and plugin compile steps on a recovered AST would
  // mostly report the same mistake again in other words.
  const clean = parsed.files.filter((f) => !parsed.broken.has(f.file));
  diags.push(...checkPolicies(clean, { knownBlocks, checkUnknownBlocks: opts.checkUnknownBlocks }));
  const confine = opts.roots === undefined ? undefined : realDirs([...opts.roots, ...(opts.allowPaths ?? [])]);
  const compiled = compilePolicies(clean, plugins, diags, allSources, confine, opts.allowPaths);
  const diagnostics = finalizeDiagnostics(diags);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, sources: allSources };
  const set = makeSet(compiled, [...sources.keys()].sort(), allSources, opts.now ?? Date.now);
  return { set, diagnostics, sources: allSources };
}

/**
 * Runs every plugin's compile step on every policy (registry order) and builds each policy's chain.
 * Diagnostics go to `diags`; files plugins read are added to `readFiles` (name → text). `roots` are the real paths files
 * named by a policy must resolve into (undefined: each policy file's own directory, plus `allowPaths`).
 */
export function compilePolicies(files: readonly PolicyFile[], plugins: readonly PluginFactory<any>[], diags: Diagnostic[], readFiles: Map<string, string>,
  roots?: readonly string[], allowPaths: readonly string[] = []): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (const file of files) {
    const confine = roots ?? realDirs([dirname(file.file), ...allowPaths]);
    for (const policy of file.policies) out.push(compilePolicy(policy, file.file, plugins, diags, readFiles, confine));
  }
  return out;
}

function compilePolicy(policy: Policy, file: string, plugins: readonly PluginFactory<any>[], diags: Diagnostic[], readFiles: Map<string, string>,
  roots: readonly string[]): CompiledPolicy {
  const dir = dirname(file);
  const env: CompileEnv = {
    policyId: policy.id,
    file,
    dir,
    roots,
    report: (d) => { diags.push(d); },
    readText(path: string, span: Span): string | undefined {
      const name = normalize(isAbsolute(path) ? path : join(dir, path));
      let real: string;
      try {
        // Confinement: the file's real path (every symlink followed) must lie inside a root. It is checked first (a
        // file another policy could read is not therefore readable by this one), then read by that real path, so a
        // link swapped in between cannot redirect the read.
        real = realpathSync(name);
      } catch (e) {
        diags.push({ code: 'POL0310', severity: 'error', message: `cannot read file "${path}": ${errnoText(e)}`, span,
          notes: [`paths are relative to the policy file's directory; this one is "${name}"`] });
        return undefined;
      }
      if (!isInside(real, roots)) {
        diags.push({ code: 'POL0313', severity: 'error', message: `file "${path}" is outside the policy root`, span,
          notes: [`it resolves to "${real}"; files named by a policy must resolve inside ${roots.length ? roots.map((r) => `"${r}"`).join(', ') : 'the policy root'} (symlinks are followed)`,
            'to allow another directory (a mounted secret, a shared list), start the gateway (or check) with --allow-path DIR'] });
        return undefined;
      }
      const cached = readFiles.get(name);
      if (cached !== undefined) return cached;
      try {
        const st = statSync(real);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
        if (st.size > MAX_NAMED_FILE_BYTES) throw Object.assign(new Error(`larger than ${MAX_NAMED_FILE_BYTES / 1024 ** 2} MiB`), { code: 'ETOOBIG' });
        const text = readFileSync(real, 'utf8');
        readFiles.set(name, text);
        return text;
      } catch (e) {
        diags.push({ code: 'POL0310', severity: 'error', message: `cannot read file "${path}": ${errnoText(e)}`, span,
          notes: [`paths are relative to the policy file's directory; this one is "${name}"`] });
        return undefined;
      }
    },
  };
  const enabled: CompiledPlugin[] = [];
  for (const plugin of plugins) {
    const blocks = policy.blocks.filter((b) => plugin.blocks.includes(b.name));
    try {
      const config = plugin.compile(blocks, env);
      if (config !== undefined) enabled.push(Object.freeze({ name: plugin.name, hooks: plugin.hooks(config) }));
    } catch (e) {
      // Plugins MUST NOT throw from compile/hooks; if one does, the load fails with a diagnostic, not a crash.
      const why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      diags.push({ code: 'POL0390', severity: 'error', message: `plugin "${plugin.name}" failed on policy "${policy.id}": ${why}`,
        span: policy.idSpan, notes: ['this is a bug in the plugin; please report it with this policy'] });
    }
  }
  const setting = (name: string) => policy.settings.find((s) => s.terms[0]?.kind === 'Ident' && s.terms[0].name === name);
  const description = setting('description')?.terms[1];
  return {
    id: policy.id,
    file,
    line: policy.span.start.line,
    description: description?.kind === 'String' ? description.value : null,
    isDefault: setting('default') !== undefined,
    endpoints: routesOf(setting('routes')),
    stateless: setting('stateless') !== undefined,
    plugins: enabled,
    chain: buildChain(enabled),
  };
}

/** The endpoints a checked `routes` setting names, in the docs' order (every endpoint when there is none). */
function routesOf(st: Statement | undefined): readonly Endpoint[] {
  if (st === undefined) return ENDPOINTS;
  const arg = st.terms[1];
  const items = arg === undefined ? [] : arg.kind === 'List' ? arg.items : [arg];
  const named = new Set(items.flatMap((it) => (it.kind === 'Ident' ? [it.name] : [])));
  return ENDPOINTS.filter((e) => named.has(e));
}

/** sha256 over the sorted (file name, content) pairs, first 12 hex digits. */
export function revisionOf(sources: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const [file, text] of [...sources].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    h.update(file).update('\0').update(text).update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

function makeSet(policies: readonly CompiledPolicy[], files: readonly string[], allSources: ReadonlyMap<string, string>, now: () => number): CompiledPolicySet {
  const map = new Map<string, CompiledPolicy>();
  for (const p of policies) map.set(p.id, p);
  return deepFreeze({
    revision: revisionOf(allSources),
    policies: map,
    defaultPolicyId: policies.find((p) => p.isDefault)?.id ?? null,
    files,
    loadedAt: now(),
  });
}

const frozenMutator = (): never => { throw new TypeError('the compiled policy set is immutable'); };

/**
 * Freezes plain objects, arrays and Maps reachable from `v` (Maps get throwing set/delete/clear).
 * Class instances other than Map (plugin state such as caches or RE2 matchers) are left alone: plugins
 * own their internals, and compiled configs come frozen from `compile` already.
 */
export function deepFreeze<T>(v: T, seen = new WeakSet<object>()): T {
  if (v === null || typeof v !== 'object' || seen.has(v)) return v;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, val] of v) { deepFreeze(k, seen); deepFreeze(val, seen); }
    for (const m of ['set', 'delete', 'clear']) Object.defineProperty(v, m, { value: frozenMutator });
    return Object.freeze(v);
  }
  const proto = Object.getPrototypeOf(v);
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) return v;
  for (const key of Reflect.ownKeys(v)) deepFreeze((v as Record<PropertyKey, unknown>)[key], seen);
  return Object.freeze(v);
}
