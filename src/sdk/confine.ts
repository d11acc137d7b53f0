// Confinement of files named by policies (keys files, phrase lists) to the policy root and the operator's
// --allow-path directories: real paths, every symlink followed. Used by the loader and by plugins that re-read files.
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';

/** Real paths (symlinks resolved) of the directories given, without duplicates; directories that do not exist are left out. */
export function realDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      const r = realpathSync(d);
      if (!out.includes(r)) out.push(r);
    } catch { /* a missing directory confines to nothing */ }
  }
  return out;
}

/** True when the real path `real` is one of the real directories `dirs` or lies below one of them. */
export function isInside(real: string, dirs: readonly string[]): boolean {
  for (const d of dirs) {
    if (real === d || real.startsWith(d.endsWith(sep) ? d : d + sep)) return true;
  }
  return false;
}
