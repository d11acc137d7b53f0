// `policy-gateway keys create|list|revoke` (runKeys): the printed key authenticates through the auth plugin,
// only digests are written, list never shows secrets, revoke removes the key; usage errors exit 2.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runKeys } from '../../../plugins/auth/keys-command.ts';
import authPlugin from '../../../plugins/auth/index.ts';
import type { RequestAction } from '../../../src/sdk/plugin.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compilePolicyText, hooksOf, show, tempDir } from './helpers.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } };
}

async function keys(args: string[]) {
  const t = io();
  const code = await runKeys(args, t.io);
  return { code, stdout: t.out.join(''), stderr: t.err.join('') };
}

function authenticate(dir: string, key: string, opts: { policyId?: string; project?: string } = {}): RequestAction {
  const r = compilePolicyText(`policy "support-bot" {\n  auth { keys "keys/support.keys" }\n}\npolicy "billing" {\n  auth { keys "keys/support.keys" }\n}\n`, [authPlugin], dir);
  expect(r.diagnostics.map(show)).toEqual([]);
  const policyId = opts.policyId ?? 'support-bot';
  const ctx = ctxFor({ model: 'm', messages: [] }, {
    services: testServices(), headers: { authorization: `Bearer ${key}` }, meta: { policyId, project: opts.project ?? null },
  });
  return hooksOf(r, policyId, 'auth').onRequest!(ctx) as RequestAction;
}

describe('keys create', () => {
  it('prints a new key once; the file holds only its digest; the key authenticates for its policy only', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys/support.keys');
    const r = await keys(['create', '--label', 'support-bot-prod', '--policy', 'support-bot', '--file', file]);
    expect(r.code).toBe(0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^pgk_[A-Za-z0-9]{12}_[A-Za-z0-9]{40}$/);
    expect(r.stderr).toContain(`created key ${key.slice(0, 16)} (label "support-bot-prod")`);
    expect(r.stderr).not.toContain(key);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(key.slice(17));
    expect(text).toMatch(new RegExp(`^${key.slice(0, 16)} sha256:[0-9a-f]{64} label=support-bot-prod policies=support-bot$`, 'm'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(authenticate(dir, key)).toBeUndefined();
    const other = authenticate(dir, key, { policyId: 'billing' });
    expect(other && other.kind === 'reject' && other.error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
  });

  it('appends to an existing file and keeps what was there; projects and expiry are written', async () => {
    const dir = tempDir({ 'keys/support.keys': '# existing comment, no trailing newline' });
    const file = join(dir, 'keys/support.keys');
    const a = await keys(['create', '--label', 'a', '--policy', 'support-bot,billing', '--project', 'support-bot', '--expires', '2099-01-01', '--file', file]);
    const b = await keys(['create', '--label', 'b', '--policy', '*', '--file', file]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('# existing comment, no trailing newline');
    expect(lines[1]).toMatch(/ label=a policies=support-bot,billing projects=support-bot expires=2099-01-01T00:00:00Z$/);
    expect(lines[2]).toMatch(/ label=b policies=\*$/);
    expect(authenticate(dir, a.stdout.trim(), { policyId: 'billing', project: 'support-bot' })).toBeUndefined();
    expect(authenticate(dir, b.stdout.trim(), { policyId: 'billing' })).toBeUndefined();
  });

  it('refuses to touch a keys file that has problems', async () => {
    const dir = tempDir({ 'k.keys': 'garbage line\n' });
    const r = await keys(['create', '--label', 'a', '--policy', 'p', '--file', join(dir, 'k.keys')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('k.keys:1: expected a key id');
    expect(readFileSync(join(dir, 'k.keys'), 'utf8')).toBe('garbage line\n');
  });

  it.each([
    { note: 'no label', args: ['--policy', 'p'], msg: '--label is required' },
    { note: 'no policy', args: ['--label', 'a'], msg: '--policy is required' },
    { note: 'a label with a space', args: ['--label', 'a b', '--policy', 'p'], msg: 'invalid label "a b"' },
    { note: 'an impossible date', args: ['--label', 'a', '--policy', 'p', '--expires', '2027-02-30'], msg: 'invalid --expires "2027-02-30"' },
    { note: 'a date in the past', args: ['--label', 'a', '--policy', 'p', '--expires', '2001-01-01'], msg: 'is in the past' },
    { note: '"*" mixed with names', args: ['--label', 'a', '--policy', '*,p'], msg: 'give it alone' },
    { note: 'an unknown option', args: ['--label', 'a', '--policy', 'p', '--bogus'], msg: "Unknown option '--bogus'" },
  ])('usage error: $note → exit 2, nothing written', async ({ args, msg }) => {
    const dir = tempDir();
    const r = await keys(['create', ...args, '--file', join(dir, 'k.keys')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(msg);
    expect(() => statSync(join(dir, 'k.keys'))).toThrow();
  });
});

describe('keys list and revoke', () => {
  it('lists ids, labels, policies, projects and expiry (no digests); revoke removes one key', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys/support.keys');
    const a = (await keys(['create', '--label', 'alpha', '--policy', 'support-bot', '--file', file])).stdout.trim();
    const b = (await keys(['create', '--label', 'beta', '--policy', '*', '--project', 'x,y', '--expires', '2099-06-01T12:00:00Z', '--grant', 'debug', '--grant', 'admin', '--file', file])).stdout.trim();
    const list = await keys(['list', '--file', file]);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+LABEL\s+POLICIES\s+PROJECTS\s+EXPIRES\s+GRANTS\s+STATUS$/);
    expect(list.stdout).toMatch(new RegExp(`${a.slice(0, 16)}\\s+alpha\\s+support-bot\\s+-\\s+never\\s+-\\s+active`));
    expect(list.stdout).toMatch(new RegExp(`${b.slice(0, 16)}\\s+beta\\s+\\*\\s+x,y\\s+2099-06-01T12:00:00Z\\s+debug,admin\\s+active`));
    expect(list.stdout).not.toContain('sha256');
    const json = JSON.parse((await keys(['list', '--json', '--file', file])).stdout);
    expect(json.map((k: { label: string }) => k.label)).toEqual(['alpha', 'beta']);
    expect(json.map((k: { grants: string }) => k.grants)).toEqual(['-', 'debug,admin']);
    expect(readFileSync(file, 'utf8')).toMatch(/label=beta .* grants=debug,admin\n/);
    const badGrant = await keys(['create', '--label', 'gamma', '--policy', '*', '--grant', 'root', '--file', file]);
    expect(badGrant.code).toBe(2);
    expect(badGrant.stderr).toContain('unknown grant "root"');

    const rv = await keys(['revoke', '--id', a.slice(0, 16), '--file', file]);
    expect(rv.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(new RegExp(`^# revoked \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z: ${a.slice(0, 16)} label=alpha$`, 'm'));
    const after = await keys(['list', '--json', '--file', file]);
    expect(JSON.parse(after.stdout).map((k: { label: string }) => k.label)).toEqual(['beta']);
    const denied = authenticate(dir, a);
    expect(denied && denied.kind === 'reject' && denied.error.code).toBe('GW_ERR_AUTH_INVALID');
    expect(authenticate(dir, b, { project: 'x' })).toBeUndefined();
  });

  it('revoke accepts the bare 12-character id; an unknown id exits 1 and changes nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'k.keys');
    const a = (await keys(['create', '--label', 'alpha', '--policy', 'p', '--file', file])).stdout.trim();
    const before = readFileSync(file, 'utf8');
    const miss = await keys(['revoke', '--id', 'AAAAAAAAAAAA', '--file', file]);
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain('no key pgk_AAAAAAAAAAAA');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect((await keys(['revoke', '--id', a.slice(4, 16), '--file', file])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toMatch(/^pgk_/m);
  });

  it('list exits 1 on a missing file and reports broken lines', async () => {
    const dir = tempDir();
    expect((await keys(['list', '--file', join(dir, 'none.keys')])).code).toBe(1);
    writeFileSync(join(dir, 'bad.keys'), 'nonsense\n');
    const r = await keys(['list', '--file', join(dir, 'bad.keys')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.keys:1:');
  });

  it('no subcommand prints help and exits 2; an unknown subcommand exits 2', async () => {
    expect((await keys([])).code).toBe(2);
    const u = await keys(['rotate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('unknown subcommand "rotate"');
    const h = await keys(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('policy-gateway keys');
  });
});
