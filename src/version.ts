// The gateway's own version, read once from package.json (the `version` of build_info, traces' service.version).
// Falls back to "unknown" when the file cannot be read, so a stripped install still starts.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' && /^[0-9A-Za-z.+-]{1,64}$/.test(pkg.version) ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** This gateway's version (package.json), e.g. `0.1.0`. */
export const VERSION: string = readVersion();
