// The live key set of one auth block: starts from the keys parsed at compile time and re-reads the keys file
// when it changes (an async stat at most once per interval, started from the request path, never awaited by it);
// remembers the keys it verified, keyed by the presented credential, until the key set changes.
import { readFile, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { isInside } from '../../src/sdk/block-helpers.ts';
import { parseKeysFile, type KeyEntry } from './keys-file.ts';

/** How often (ms, by the request clock) the keys file is checked for changes. */
export const KEYS_CHECK_INTERVAL_MS = 1000;
/** Most verified credentials remembered per keys file (least recently used go first). */
export const VERIFIED_CACHE_SIZE = 4096;

/**
 * Keys of one keys file, reloaded without restart. A file that fails to read or parse keeps the last good keys
 * and is logged once (per version of the file), not per request.
 */
export class KeyRing {
  readonly path: string;
  readonly #intervalMs: number;
  readonly #roots: readonly string[] | undefined;
  #keys: ReadonlyMap<string, KeyEntry>;
  #nextCheck = -Infinity;
  /** mtime/size/inode of the version last read (good or bad); undefined until the first check. */
  #signature: string | undefined;
  #running: Promise<void> | undefined;
  /**
   * Credentials that verified against the current keys, by the presented token: a hit skips the digest. Only
   * verified tokens go in (a flood of wrong ones cannot grow or churn it); emptied whenever the key set is replaced,
   * so a revoked or changed key is never served from it. docs/security.md argues why it keeps auth constant-time.
   */
  readonly #verified = new LRUCache<string, KeyEntry>({ max: VERIFIED_CACHE_SIZE });

  /**
   * `roots`: real directories the file must resolve into, symlinks followed (the policy root and --allow-path
   * directories); a file that resolves elsewhere on a later check is not read and the last good keys stay.
   */
  constructor(path: string, keys: ReadonlyMap<string, KeyEntry>, intervalMs = KEYS_CHECK_INTERVAL_MS, roots?: readonly string[]) {
    this.path = path;
    this.#keys = keys;
    this.#intervalMs = intervalMs;
    this.#roots = roots;
  }

  /**
   * The current keys. When at least one interval has passed since the last check (by `now`), starts a background
   * check of the file; the request that triggers it still uses the keys held now. O(1) otherwise.
   */
  current(now: number, log: Logger): ReadonlyMap<string, KeyEntry> {
    if (now >= this.#nextCheck && this.#running === undefined) {
      this.#nextCheck = now + this.#intervalMs;
      this.#running = this.#check(log).finally(() => { this.#running = undefined; });
    }
    return this.#keys;
  }

  /** The entry a credential verified as against the current keys, if it did since they were loaded. */
  verified(token: string): KeyEntry | undefined {
    return this.#verified.get(token);
  }

  /** Remembers that `token` verified as `entry` against the current keys (`current()`'s result, not an older one). */
  rememberVerified(token: string, entry: KeyEntry, keys: ReadonlyMap<string, KeyEntry>): void {
    if (keys === this.#keys) this.#verified.set(token, entry);
  }

  /** Checks the file now (waiting for a check already running); resolves when any reload is done. For tests and tools. */
  async refresh(log: Logger): Promise<void> {
    if (this.#running) await this.#running;
    this.#running = this.#check(log).finally(() => { this.#running = undefined; });
    await this.#running;
  }

  async #check(log: Logger): Promise<void> {
    let sig: string;
    try {
      sig = signatureOf(await stat(this.path));
    } catch (err) {
      this.#unreadable(log, err);
      return;
    }
    if (sig === this.#signature) return;
    let text: string;
    try {
      let file = this.path;
      if (this.#roots !== undefined) {
        file = await realpath(this.path);
        if (!isInside(file, this.#roots)) {
          this.#signature = sig;
          log.warn({ plugin: 'auth', file: this.path, resolvesTo: file }, 'keys file is outside the policy root (see --allow-path), keeping the last good keys');
          return;
        }
      }
      text = await readFile(file, 'utf8');
      // A file being rewritten in place can be read half-way: if it changed while we read it, try again next time.
      if (signatureOf(await stat(this.path)) !== sig) return;
    } catch (err) {
      this.#unreadable(log, err);
      return;
    }
    const first = this.#signature === undefined;
    this.#signature = sig;
    if (text.length === 0) {
      // An editor that truncates before writing shows a zero-byte file for a moment: never take that as "no keys".
      log.warn({ plugin: 'auth', file: this.path }, 'keys file is empty, keeping the last good keys');
      return;
    }
    const parsed = parseKeysFile(text);
    if (parsed.problems.length > 0) {
      log.warn({
        plugin: 'auth', file: this.path,
        problems: parsed.problems.slice(0, 5).map((p) => `line ${p.line}: ${p.message}`),
      }, 'keys file invalid, keeping the last good keys');
      return;
    }
    this.#keys = parsed.keys;
    this.#verified.clear();
    if (!first) log.info({ plugin: 'auth', file: this.path, keys: parsed.keys.size }, 'keys file reloaded');
  }

  #unreadable(log: Logger, err: unknown): void {
    if (this.#signature === 'unreadable') return;
    this.#signature = 'unreadable';
    log.warn({ plugin: 'auth', file: this.path, err: (err as Error).message }, 'keys file unreadable, keeping the last good keys');
  }
}

function signatureOf(st: Stats): string {
  return `${st.mtimeMs}:${st.size}:${st.ino}:${st.ctimeMs}`;
}
