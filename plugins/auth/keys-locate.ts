// Finds the keys file a policy's `auth { keys "…" }` names, for `keys create|list|revoke --policy P` without `--file`:
// reads the .policy files under the rules path (bounded walk), parses them, resolves the path against the policy file.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parsePolicy } from '../../src/sdk/ast.ts';

/** At most this many .policy files and directory levels are read: a wrong --rules never walks a whole disk. */
const MAX_FILES = 2000;
const MAX_DEPTH = 8;

/** Where a policy's keys file is, or why it cannot be found (a message for the operator). */
export type KeysFileLookup =
  | { readonly kind: 'found'; readonly file: string; readonly policyFile: string }
  | { readonly kind: 'problem'; readonly message: string };

async function policyFiles(path: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || out.length >= MAX_FILES) return;
    let entries;
    try { entries = await readdir(dir, { withFileTypes: true }); } catch { return; }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      const p = join(dir, e.name);
      if (e.isDirectory() && !e.name.startsWith('.')) await walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.policy')) out.push(p);
    }
  };
  const s = await stat(path);
  if (s.isFile()) return [path];
  await walk(path, 0);
  return out;
}

/**
 * The keys file of each policy in `policyIds`, read from the policies under `rules` (a directory or one file). Found
 * only when every policy exists, has an auth block naming a keys file, and all name the same file.
 */
export async function locateKeysFile(rules: string, policyIds: readonly string[]): Promise<KeysFileLookup> {
  let files: string[];
  try {
    files = await policyFiles(resolve(rules));
  } catch {
    return { kind: 'problem', message: `no policies at "${rules}" (give --rules DIR, or the keys file with --file)` };
  }
  const found = new Map<string, { file: string; policyFile: string } | null>();
  for (const f of files) {
    let text: string;
    try { text = await readFile(f, 'utf8'); } catch { continue; }
    const { ast } = parsePolicy(text, f);
    for (const p of ast?.policies ?? []) {
      if (!policyIds.includes(p.id) || found.has(p.id)) continue;
      const auth = p.blocks.find((b) => b.name === 'auth');
      const st = auth?.statements.find((s) => s.terms[0]?.kind === 'Ident' && s.terms[0].name === 'keys');
      const v = st?.terms[1];
      found.set(p.id, v?.kind === 'String' && v.value !== '' ? { file: resolve(dirname(f), v.value), policyFile: f } : null);
    }
  }
  for (const id of policyIds) {
    const hit = found.get(id);
    if (hit === undefined) return { kind: 'problem', message: `policy "${id}" is not in ${rules} (give --rules DIR, or the keys file with --file)` };
    if (hit === null) return { kind: 'problem', message: `policy "${id}" has no auth { keys "…" } block: it needs no key (add one, or give --file)` };
  }
  const first = found.get(policyIds[0]!)!;
  for (const id of policyIds.slice(1)) {
    if (found.get(id)!.file !== first.file) {
      return { kind: 'problem', message: `policies "${policyIds[0]}" and "${id}" read different keys files: give --file` };
    }
  }
  return { kind: 'found', ...first };
}
