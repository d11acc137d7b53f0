// Hot reload follows every kind of save (issue 13 item 10), against the real CLI: in-place writes, write-new-then-rename
// (sed -i, vim, VS Code) and in-place again; the same for a policy in a subdirectory and for a phrase list it names; and
// a Kubernetes ConfigMap volume, whose `..data` symlink is atomically replaced by renaming a new link over it.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const policy = (id: string, otherwise: string, extra = '') => `policy "${id}" {\n  respond {\n${extra}    otherwise ${otherwise}\n  }\n}\n`;
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

async function serve(dir: string): Promise<GatewayProcess> {
  const up: FakeUpstream = await startFakeUpstream();
  cleanup.push(() => up.close());
  const gw = await startGateway(['--rules', dir, '--upstream', up.baseUrl]);
  cleanup.push(() => gw.stop());
  return gw;
}

async function decision(gw: GatewayProcess, id: string, content = 'hi'): Promise<string> {
  const r = await fetch(`${gw.url}/policy/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', policy_id: id, messages: [{ role: 'user', content }] }) });
  const j = (await r.json()) as { policy?: { decision: string }; error?: { code: string } };
  return j.policy?.decision ?? j.error?.code ?? `status ${r.status}`;
}

/** Writes `text` to a new file next to `file` and renames it over `file`, as sed -i and most editors do. */
function replaceByRename(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const poll = { timeout: 10_000, interval: 100 };

describe('hot reload follows every kind of save', () => {
  it.each([
    { note: 'a policy at the top of the rules directory', file: 'top.policy' },
    { note: 'a policy in a subdirectory', file: 'team/sub.policy' },
  ])('$note: in-place → rename → in-place → rename → in-place', async ({ file }) => {
    const dir = rulesDir({ [file]: policy('p', 'allow') });
    const gw = await serve(dir);
    const f = path.join(dir, file);
    expect(await decision(gw, 'p')).toBe('allow');
    const steps: [(f: string, t: string) => void, string][] = [
      [writeFileSync, 'refuse'], [replaceByRename, 'allow'], [writeFileSync, 'refuse'], [replaceByRename, 'allow'], [writeFileSync, 'refuse'],
    ];
    for (const [save, want] of steps) {
      save(f, policy('p', want));
      await expect.poll(() => decision(gw, 'p'), poll).toBe(want);
    }
  });

  it('a phrase list the policy names: rename, then in-place', async () => {
    const dir = rulesDir({
      'p.policy': 'policy "p" {\n  topics { deny list "lists/deny.txt" }\n  respond { when denylist refuse; otherwise allow }\n}\n',
      'lists/deny.txt': 'alpha\n',
    });
    const gw = await serve(dir);
    const list = path.join(dir, 'lists/deny.txt');
    expect(await decision(gw, 'p', 'say beta')).toBe('allow');
    replaceByRename(list, 'beta\n');
    await expect.poll(() => decision(gw, 'p', 'say beta'), poll).toBe('refuse');
    writeFileSync(list, 'gamma\n');
    await expect.poll(() => decision(gw, 'p', 'say gamma'), poll).toBe('refuse');
    expect(await decision(gw, 'p', 'say beta')).toBe('allow');
  });

  it('a new subdirectory created after start is watched too', async () => {
    const dir = rulesDir({ 'a.policy': policy('a', 'allow') });
    const gw = await serve(dir);
    mkdirSync(path.join(dir, 'later'));
    writeFileSync(path.join(dir, 'later/b.policy'), policy('b', 'allow'));
    await expect.poll(() => decision(gw, 'b'), poll).toBe('allow');
    writeFileSync(path.join(dir, 'later/b.policy'), policy('b', 'refuse'));
    await expect.poll(() => decision(gw, 'b'), poll).toBe('refuse');
  });

  it('a Kubernetes ConfigMap volume: each update swaps the "..data" link to a new timestamped directory', async () => {
    const dir = rulesDir({});
    let n = 0;
    /** What the kubelet does (atomic_writer.go): write a new dir, point "..data_tmp" at it, rename it over "..data". */
    const publish = (text: string) => {
      const ts = `..2026_01_01_00_00_0${++n}.${n}`;
      mkdirSync(path.join(dir, ts));
      writeFileSync(path.join(dir, ts, 'cm.policy'), text);
      symlinkSync(ts, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      if (n > 1) rmSync(path.join(dir, `..2026_01_01_00_00_0${n - 1}.${n - 1}`), { recursive: true });
    };
    publish(policy('cm', 'allow'));
    symlinkSync('..data/cm.policy', path.join(dir, 'cm.policy'));
    const gw = await serve(dir);
    expect(await decision(gw, 'cm')).toBe('allow');
    for (const want of ['refuse', 'allow', 'refuse']) {
      publish(policy('cm', want));
      await expect.poll(() => decision(gw, 'cm'), poll).toBe(want);
    }
  });
});
