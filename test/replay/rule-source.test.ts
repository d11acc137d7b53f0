// Which policies replay may evaluate once for both sides: same id, same file text (by path relative to the rules
// root) and every other file read unchanged — for two directories and for a directory against a git revision of it.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { loadRules, unchangedPolicies } from '../../src/replay/rule-source.ts';
import { rulesDir } from '../helpers/gateway-process.ts';

const A = 'policy "a" {\n  topics { deny list "lists/words.txt" }\n  respond { when denylist refuse; otherwise allow }\n}\n';
const B = 'policy "b" {\n  respond { otherwise allow }\n}\n';
const C = 'policy "c" {\n  respond { otherwise rewrite with "Be kind." }\n}\n';

async function unchanged(before: Record<string, string>, after: Record<string, string>): Promise<string[]> {
  const x = await loadRules(rulesDir(before), '', ALL_PLUGINS);
  const y = await loadRules(rulesDir(after), '', ALL_PLUGINS);
  return [...unchangedPolicies(x, y)].sort();
}

describe('unchangedPolicies', () => {
  const base = { 'a.policy': A, 'more/bc.policy': B + C, 'lists/words.txt': 'spam\n' };

  it('identical rules: every policy', async () => {
    expect(await unchanged(base, { ...base })).toEqual(['a', 'b', 'c']);
  });

  it('an edited file: only the policies of the other files', async () => {
    expect(await unchanged(base, { ...base, 'more/bc.policy': B + C.replace('Be kind.', 'Be brief.') })).toEqual(['a']);
  });

  it('a changed phrase list (read by a policy): none, whichever policy read it', async () => {
    expect(await unchanged(base, { ...base, 'lists/words.txt': 'spam\neggs\n' })).toEqual([]);
  });

  it('a policy moved to another file: not the same', async () => {
    expect(await unchanged(base, { 'a.policy': A, 'more/b.policy': B, 'more/c.policy': C, 'lists/words.txt': 'spam\n' })).toEqual(['a']);
  });

  it('a directory against a git revision of it: the same names', async () => {
    const dir = rulesDir(base);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'empty');
    git('add', '.');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'rules');
    writeFileSync(path.join(dir, 'a.policy'), A.replace('refuse', 'rewrite with "No."'));
    const now = await loadRules(dir, dir, ALL_PLUGINS);
    const head = await loadRules('HEAD', dir, ALL_PLUGINS, { cwd: dir });
    try {
      expect([...unchangedPolicies(head, now)].sort()).toEqual(['b', 'c']);
    } finally {
      await head.dispose();
    }
  });
});
