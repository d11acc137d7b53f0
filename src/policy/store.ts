// The policy store: holds the current CompiledPolicySet, watches the policy paths and hot-reloads. A new set
// is built off the request path and swapped in with ONE assignment, only when it loaded without errors.
import { type FSWatcher, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { type Diagnostic, renderDiagnostics, summarizeDiagnostics } from '../../grammar/diagnostics.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import { type LoadOptions, type LoadResult, loadPolicies } from './load.ts';
import type { CompiledPolicySet } from './types.ts';

/** Options of a PolicyStore. */
export interface PolicyStoreOptions extends LoadOptions {
  /** Files and directories to load (directories: every `*.policy` below). */
  readonly paths: readonly string[];
  /** Plugins in chain order (plugins/index.ts `ALL_PLUGINS`). */
  readonly plugins: readonly PluginFactory<any>[];
  readonly logger: Logger;
  /**
   * Called after each attempted reload that changed something: 'success' when the new set was swapped in,
   * 'error' when it had errors and the old set was kept (the lead wires this to
   * `policy_gateway_policy_reloads_total{result}`).
   */
  readonly onReload?: (result: 'success' | 'error', diagnostics: readonly Diagnostic[]) => void;
  /** Watch the paths and reload on change (default true). */
  readonly watch?: boolean;
  /** Quiet period after the last file event before reloading (default 100 ms). */
  readonly debounceMs?: number;
  /**
   * Where a person reads the log, when it goes to a terminal (serve passes stderr when stdout is a TTY): reload
   * diagnostics are written there as rendered text (caret and notes), not as one JSON record each. Default: none.
   */
  readonly terminal?: { write(s: string): unknown };
}

/** What one reload did. */
export interface ReloadOutcome {
  /** 'unchanged': the sources hash to the current revision, nothing was swapped. */
  readonly result: 'success' | 'error' | 'unchanged';
  readonly diagnostics: readonly Diagnostic[];
  /** Revision serving after this reload. */
  readonly revision: string | undefined;
}

/** The last load or reload attempt that changed something (or failed): what the console's Policies page shows. */
export interface LastReload {
  readonly result: 'success' | 'error';
  /** Epoch ms of the attempt. */
  readonly at: number;
  readonly diagnostics: readonly Diagnostic[];
  /** The diagnostics rendered (`file:line:col`, source line and caret), '' when none. */
  readonly rendered: string;
}

/**
 * Serves the current policy set and keeps it fresh. Requests read `current` once at their start and keep
 * that snapshot; a reload never changes a set in use (sets are deep-frozen).
 */
export class PolicyStore {
  readonly #opts: PolicyStoreOptions;
  #current: CompiledPolicySet | undefined;
  /** The source texts the serving set was built from (file → text). */
  #sources: ReadonlyMap<string, string> = new Map();
  #lastReload: LastReload | undefined;
  /** One non-recursive watcher per directory (absolute path → watcher); see #syncWatches for why. */
  #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReloadOutcome> | undefined;
  #next: Promise<ReloadOutcome> | undefined;
  #closed = false;

  constructor(opts: PolicyStoreOptions) {
    this.#opts = opts;
  }

  /** The set serving now: one field read. MUST NOT be called before `load()` resolved. */
  get current(): CompiledPolicySet {
    return this.#current!;
  }

  /** The source texts of the serving set (policy files and the files they name), file → text. */
  get sources(): ReadonlyMap<string, string> {
    return this.#sources;
  }

  /** The last load or reload attempt that swapped a set in or failed ('unchanged' reloads leave it). */
  get lastReload(): LastReload | undefined {
    return this.#lastReload;
  }

  #remember(result: 'success' | 'error', r: LoadResult): void {
    this.#lastReload = { result, at: Date.now(), diagnostics: r.diagnostics, rendered: renderDiagnostics(r.diagnostics, r.sources) };
    if (result === 'success') this.#sources = r.sources;
  }

  /**
   * Initial load, then starts watching. Throws a plain Error whose message is the rendered diagnostics
   * when the policies do not load (the CLI prints it and exits). Warnings are logged.
   */
  async load(): Promise<CompiledPolicySet> {
    const r = await this.#build();
    if (!r.set) {
      throw new Error(`policies failed to load (${summarizeDiagnostics(r.diagnostics)}):\n${renderDiagnostics(r.diagnostics, r.sources)}`);
    }
    this.#logWarnings(r);
    this.#current = r.set;
    this.#remember('success', r);
    this.#opts.logger.info({ revision: r.set.revision, policies: r.set.policies.size, files: r.set.files.length }, 'policies loaded');
    if (this.#opts.watch !== false) await this.#syncWatches(r.sources.keys());
    return r.set;
  }

  /**
   * Rebuilds the set from disk (file events and SIGHUP call this). Reloads never overlap: a call during a
   * reload schedules one more run after it (calls in between share that run). Never rejects.
   */
  reload(): Promise<ReloadOutcome> {
    if (this.#closed) return Promise.resolve({ result: 'unchanged', diagnostics: [], revision: this.#current?.revision });
    if (!this.#running) {
      this.#running = this.#reloadOnce().finally(() => { this.#running = undefined; });
      return this.#running;
    }
    this.#next ??= this.#running.then(() => {
      this.#next = undefined;
      return this.reload();
    });
    return this.#next;
  }

  /** Stops watching; pending debounced reloads are dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  #build(): Promise<LoadResult> {
    return loadPolicies(this.#opts.paths, this.#opts.plugins, this.#opts);
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    const log = this.#opts.logger;
    let r: LoadResult;
    try {
      r = await this.#build();
    } catch (e) {
      // loadPolicies does not throw; this guards the watcher against bugs all the same.
      log.error({ err: e }, 'policy reload crashed, keeping the last good policies');
      this.#notify('error', []);
      return { result: 'error', diagnostics: [], revision: this.#current?.revision };
    }
    if (this.#closed) return { result: 'unchanged', diagnostics: r.diagnostics, revision: this.#current?.revision };
    // A directory that appeared since the last load (a new team folder, the folder of a newly named list) is watched
    // from now on; a file written into it before its watcher existed is caught by one more reload.
    if (this.#opts.watch !== false && (await this.#syncWatches(r.sources.keys()))) this.#schedule();
    if (!r.set) {
      const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
      log.error({ errors, warnings: r.diagnostics.length - errors, revision: this.#current?.revision },
        'policy reload failed, keeping the last good policies');
      this.#logDiagnostics(r);
      this.#remember('error', r);
      this.#notify('error', r.diagnostics);
      return { result: 'error', diagnostics: r.diagnostics, revision: this.#current?.revision };
    }
    if (r.set.revision === this.#current?.revision) {
      log.debug({ revision: r.set.revision }, 'policies unchanged');
      return { result: 'unchanged', diagnostics: r.diagnostics, revision: r.set.revision };
    }
    this.#logWarnings(r);
    this.#current = r.set; // the swap: one assignment; requests already running keep their snapshot
    this.#remember('success', r);
    log.info({ revision: r.set.revision, policies: r.set.policies.size, files: r.set.files.length }, 'policies reloaded');
    this.#notify('success', r.diagnostics);
    return { result: 'success', diagnostics: r.diagnostics, revision: r.set.revision };
  }

  /** Calls onReload; a throwing callback is logged, never allowed to break the reload loop. */
  #notify(result: 'success' | 'error', diagnostics: readonly Diagnostic[]): void {
    try {
      this.#opts.onReload?.(result, diagnostics);
    } catch (err) {
      this.#opts.logger.error({ err }, 'policy onReload callback failed');
    }
  }

  #logWarnings(r: LoadResult): void {
    if (r.diagnostics.length) {
      this.#opts.logger.warn({ warnings: r.diagnostics.length }, 'policy warnings');
      this.#logDiagnostics(r);
    }
  }

  /**
   * One log record per diagnostic (`policy diagnostic`: code, severity, `at` as file:line:col, message, notes) —
   * greppable and parseable, never a JSON string full of line breaks; or, when the log goes to a terminal, the
   * rendered text (source line, caret, notes) written there.
   */
  #logDiagnostics(r: LoadResult): void {
    const term = this.#opts.terminal;
    if (term !== undefined) {
      term.write(renderDiagnostics(r.diagnostics, r.sources));
      return;
    }
    const log = this.#opts.logger;
    for (const d of r.diagnostics) {
      const { file, start } = d.span;
      const rec = { code: d.code, severity: d.severity, at: `${file}:${start.line}:${start.col}`, message: d.message, ...(d.notes?.length ? { notes: d.notes } : {}) };
      if (d.severity === 'error') log.error(rec, 'policy diagnostic');
      else log.warn(rec, 'policy diagnostic');
    }
  }

  /**
   * Makes the watchers match what the rule set is read from: every directory given (and each of its subdirectories,
   * dot names skipped as in findPolicyFiles), the directory of a file given, and the directory of every file read
   * (policy files and the files they name). Each directory gets its own non-recursive watcher: a directory watch sees
   * in-place writes, creations and renames of any entry in it, whatever replaced which file before — unlike
   * `fs.watch(dir, { recursive: true })` on Linux, which follows files, so after one save by rename (sed -i, vim,
   * VS Code) later in-place writes to that file went unnoticed. A Kubernetes ConfigMap update renames a new `..data`
   * link in the volume's top directory, which is watched. Returns true when a directory was added.
   */
  async #syncWatches(files: Iterable<string>): Promise<boolean> {
    const want = new Set<string>();
    for (const p of this.#opts.paths) {
      let isDir: boolean;
      try { isDir = (await stat(p)).isDirectory(); } catch { continue; } // reported by the load; nothing to watch
      if (!isDir) { want.add(dirname(resolve(p))); continue; }
      const root = resolve(p);
      want.add(root);
      try {
        for (const ent of await readdir(root, { recursive: true, withFileTypes: true })) {
          if (!ent.isDirectory()) continue;
          const full = join(ent.parentPath, ent.name);
          if (full.slice(root.length).split(/[\\/]/).some((seg) => seg.startsWith('.'))) continue;
          want.add(full);
        }
      } catch { /* a directory that vanished while listing: the next event reloads */ }
    }
    for (const f of files) want.add(dirname(resolve(f)));
    if (this.#closed) return false;
    for (const [dir, w] of this.#watchers) {
      if (!want.has(dir)) { w.close(); this.#watchers.delete(dir); }
    }
    let added = false;
    for (const dir of want) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.#schedule());
        w.on('error', (err) => {
          // A watched directory was removed: drop its watcher; the reload that follows re-syncs the rest.
          w.close();
          if (this.#watchers.get(dir) === w) this.#watchers.delete(dir);
          this.#opts.logger.debug({ err, dir }, 'policy watcher closed');
          this.#schedule();
        });
        this.#watchers.set(dir, w);
        added = true;
      } catch (err) {
        this.#opts.logger.warn({ err, dir }, 'cannot watch policy directory; reload with SIGHUP');
      }
    }
    return added;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload();
    }, this.#opts.debounceMs ?? 100);
    this.#timer.unref();
  }
}
