// The console's door: `Authorization: Bearer <policy key>` checked against the --console-keys file (the auth plugin's
// keys-file format, re-read when it changes), and only an entry carrying the `admin` grant opens the console.
// Digests compared in constant time; the key itself is never kept or logged.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { E as CE, GatewayError } from '../errors.ts';
import { digestKey, digestsEqual, keyIdOf, parseKeysFile, type KeyEntry } from '../../plugins/auth/keys-file.ts';
import { KeyRing } from '../../plugins/auth/key-ring.ts';

/** Who opened the console: the key's public id and label (the page shows the label). */
export interface ConsoleUser {
  readonly id: string;
  readonly label: string;
}

/** The admin keys of a console: loaded at start (a bad file stops the gateway), then hot-reloaded like policy keys. */
export class AdminKeys {
  readonly #ring: KeyRing;
  readonly #log: Logger;
  readonly #now: () => number;

  /** Throws a plain Error (shown to the operator) when the file cannot be read or has problems. */
  constructor(path: string, log: Logger, now: () => number = Date.now) {
    let text: string;
    try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`--console-keys: cannot read "${path}": ${(e as Error).message}`); }
    const parsed = parseKeysFile(text);
    if (parsed.problems.length > 0) {
      throw new Error(`--console-keys: "${path}" has problems:\n${parsed.problems.slice(0, 10).map((p) => `  line ${p.line}: ${p.message}`).join('\n')}`);
    }
    if (![...parsed.keys.values()].some(isAdmin)) log.warn({ file: path }, 'no key in the console keys file carries grants=admin: nobody can open the console');
    this.#ring = new KeyRing(path, parsed.keys);
    this.#log = log;
    this.#now = now;
  }

  /**
   * The user an Authorization header opens the console for; throws GatewayError: 401 without a bearer key or with an
   * unknown, wrong or expired one, 403 for a valid key without the admin grant.
   */
  check(authorization: string | undefined): ConsoleUser {
    if (authorization === undefined || !/^Bearer\s+\S/i.test(authorization)) throw new GatewayError(CE.GW_ERR_CONSOLE_KEY_MISSING);
    const token = authorization.replace(/^Bearer\s+/i, '').trim();
    const id = keyIdOf(token);
    const now = this.#now();
    const keys = this.#ring.current(now, this.#log);
    const entry = id === undefined ? undefined : keys.get(id);
    // Digest even for an unknown id, so the answer takes the same time whether or not the id exists.
    const digest = digestKey(token);
    if (entry === undefined || !digestsEqual(digest, entry.digest)) throw new GatewayError(CE.GW_ERR_CONSOLE_KEY_INVALID);
    if (entry.expiresAt !== null && now >= entry.expiresAt) throw new GatewayError(CE.GW_ERR_CONSOLE_KEY_INVALID);
    if (!isAdmin(entry)) throw new GatewayError(CE.GW_ERR_CONSOLE_FORBIDDEN, [entry.label]);
    return { id: entry.id, label: entry.label };
  }
}

/** True when the key entry carries the `admin` grant. */
function isAdmin(e: KeyEntry): boolean {
  return e.grants.includes('admin');
}
