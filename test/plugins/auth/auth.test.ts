// The auth plugin: compile diagnostics from real .policy text, every 401/403 case through onRequest, expiry,
// reload of the keys file without restart, and that no key ever reaches logs or metrics.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import authPlugin, { bearerToken, findKey, principalKey } from '../../../plugins/auth/index.ts';
import { formatKeyLine, generateKey, parseKeysFile, digestKey } from '../../../plugins/auth/keys-file.ts';
import type { RequestAction, PluginHooks } from '../../../src/sdk/plugin.ts';
import type { GatewayServices } from '../../../src/sdk/context.ts';
import { compilePolicyText, hooksOf, show, tempDir } from './helpers.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const alice = generateKey();
const projKey = generateKey();
const oldKey = generateKey();
const otherKey = generateKey();
const allKey = generateKey();

const KEYS = [
  '# support team keys',
  formatKeyLine({ id: alice.id, key: alice.key, label: 'alice-laptop', policies: ['support-bot', 'other'] }),
  formatKeyLine({ id: projKey.id, key: projKey.key, label: 'proj-only', policies: ['support-bot'], projects: ['support-bot'] }),
  formatKeyLine({ id: oldKey.id, key: oldKey.key, label: 'old-key', policies: '*', expiresAt: Date.parse('2026-01-01T00:00:00Z') }),
  formatKeyLine({ id: otherKey.id, key: otherKey.key, label: 'other-team', policies: ['other'] }),
  formatKeyLine({ id: allKey.id, key: allKey.key, label: 'admin', policies: '*', projects: '*' }),
  '',
].join('\n');

const POLICY = `policy "support-bot" {
  auth { keys "keys/support.keys" }
}
policy "open" {
  description "no auth block: anyone may call it"
}
`;

function setup(keysText = KEYS) {
  const dir = tempDir({ 'keys/support.keys': keysText });
  const r = compilePolicyText(POLICY, [authPlugin], dir);
  return { r, dir, hooks: hooksOf(r, 'support-bot', 'auth') };
}

/** Replaces a file the way editors and `policy-gateway keys` do: write a temp file, then rename it over. */
function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

const req = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function call(hooks: PluginHooks, services: GatewayServices, opts: { auth?: string; project?: string | null; now?: number; policyId?: string } = {}) {
  const ctx = ctxFor(req, {
    services,
    headers: opts.auth === undefined ? {} : { authorization: opts.auth },
    meta: { policyId: opts.policyId ?? 'support-bot', project: opts.project ?? null },
    now: () => opts.now ?? NOW,
  });
  const action = hooks.onRequest!(ctx) as RequestAction;
  return { ctx, action };
}

describe('auth block compile', () => {
  it('compiles a valid block: the policy with auth has the plugin on, the policy without has it off', () => {
    const { r } = setup();
    expect(r.diagnostics.map(show)).toEqual([]);
    expect(r.set!.policies.get('support-bot')!.plugins.map((p) => p.name)).toEqual(['auth']);
    expect(r.set!.policies.get('open')!.plugins).toEqual([]);
  });

  const cases = [
    { note: 'no keys statement', body: 'auth { }', want: ['POL0406 error the auth block needs a keys file'] },
    { note: 'keys without a file name', body: 'auth { keys }', want: ['POL0405 error expected a file name after "keys"'] },
    { note: 'keys with two arguments', body: 'auth { keys "a.keys" "b.keys" }', want: ['POL0405 error expected one file name after "keys", found "a.keys" "b.keys"'] },
    { note: 'keys given a number', body: 'auth { keys 12 }', want: ['POL0405 error expected one file name after "keys", found 12'] },
    { note: 'two keys statements', body: 'auth {\n keys "keys/support.keys"\n keys "keys/support.keys"\n}', want: ['POL0405 error only one keys file per auth block'] },
    { note: 'misspelt statement gets a did-you-mean', body: 'auth { key "keys/support.keys" }', want: ['POL0406 error the auth block needs a keys file', 'POL0401 error unknown statement "key" in auth block'], note0: 'did you mean "keys"?' },
    { note: 'a missing keys file', body: 'auth { keys "keys/missing.keys" }', want: ['POL0310 error cannot read file "keys/missing.keys": no such file or directory'] },
    { note: 'an empty keys file is a warning', body: 'auth { keys "keys/empty.keys" }', want: ['POL0408 warning keys file "keys/empty.keys" has no keys: every request to policy "p" will be rejected'] },
  ];
  it.each(cases)('$note', ({ body, want, ...rest }) => {
    const dir = tempDir({ 'keys/support.keys': KEYS, 'keys/empty.keys': '# nothing yet\n' });
    const r = compilePolicyText(`policy "p" {\n  ${body}\n}\n`, [authPlugin], dir);
    expect(r.diagnostics.map(show)).toEqual(want);
    if ('note0' in rest) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(rest.note0);
  });

  it('reports each broken line of the keys file with its line number, at the keys statement', () => {
    const bad = `${KEYS}pgk_short sha256:00 label=x policies=*\n${formatKeyLine({ id: alice.id, key: alice.key, label: 'dup', policies: '*' })}\n`;
    const dir = tempDir({ 'keys/support.keys': bad });
    const r = compilePolicyText(POLICY, [authPlugin], dir);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map(show)).toEqual([
      'POL0407 error keys file "keys/support.keys" line 7: expected a key id ("pgk_" followed by 12 letters or digits) as the first field',
      `POL0407 error keys file "keys/support.keys" line 8: key "pgk_${alice.id}" is listed twice (first on line 2)`,
    ]);
    expect(r.diagnostics[0]!.span.start.line).toBe(2);
  });
});

describe('keys file format', () => {
  const hex = 'a'.repeat(64);
  const cases = [
    { note: 'a minimal line', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p`, problem: null },
    { note: 'all attributes and a trailing comment', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p,q projects=x expires=2027-01-01T00:00:00Z # note`, problem: null },
    { note: 'a date-only expiry', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=* expires=2027-01-01`, problem: null },
    { note: 'a missing label', line: `pgk_AAAAAAAAAAAA sha256:${hex} policies=p`, problem: 'key "pgk_AAAAAAAAAAAA": missing "label="' },
    { note: 'a missing policies list', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a`, problem: 'key "pgk_AAAAAAAAAAAA": missing "policies=" (a list of policy ids, or "*")' },
    { note: 'an upper-case digest', line: `pgk_AAAAAAAAAAAA sha256:${'A'.repeat(64)} label=a policies=p`, problem: 'key "pgk_AAAAAAAAAAAA": expected "sha256:" followed by 64 lower-case hex digits after the id' },
    { note: 'an unknown attribute (a typo must not widen access)', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p projcts=x`, problem: 'key "pgk_AAAAAAAAAAAA": unknown attribute in field 5 (expected "label=", "policies=", "projects=", "expires=", "grants=")' },
    { note: 'known grants', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p grants=debug,admin` },
    { note: 'an unknown grant (a typo must not grant anything)', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p grants=debug,root`, problem: 'key "pgk_AAAAAAAAAAAA": unknown grant in field 5 (expected a comma-separated list of "debug", "admin")' },
    { note: 'an empty grant in the list', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p grants=debug,`, problem: 'key "pgk_AAAAAAAAAAAA": unknown grant in field 5 (expected a comma-separated list of "debug", "admin")' },
    { note: 'a day that does not exist', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p expires=2027-02-30`, problem: 'key "pgk_AAAAAAAAAAAA": invalid expiry in field 5 (expected 2027-01-01 or 2027-01-01T00:00:00Z)' },
    { note: 'a local time without offset', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=p expires=2027-01-01T00:00:00`, problem: 'key "pgk_AAAAAAAAAAAA": invalid expiry in field 5 (expected 2027-01-01 or 2027-01-01T00:00:00Z)' },
    { note: 'a label with a space-free but invalid character', line: `pgk_AAAAAAAAAAAA sha256:${hex} label=a"b policies=p`, problem: 'key "pgk_AAAAAAAAAAAA": invalid label in field 3 (1 to 64 of A-Z a-z 0-9 . _ : @ / -)' },
  ];
  it.each(cases)('$note', ({ line, problem }) => {
    const r = parseKeysFile(`# header\n\n${line}\n`);
    expect(r.problems.map((p) => p.message)).toEqual(problem ? [problem] : []);
    expect(r.keys.size).toBe(problem ? 0 : 1);
    if (!problem) expect(r.keys.get('AAAAAAAAAAAA')!.line).toBe(3);
  });

  it('grants are kept in order, deduplicated; absent means none', () => {
    const r = parseKeysFile(`pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=* grants=admin,debug,admin\npgk_BBBBBBBBBBBB sha256:${hex} label=b policies=*`);
    expect(r.keys.get('AAAAAAAAAAAA')!.grants).toEqual(['admin', 'debug']);
    expect(r.keys.get('BBBBBBBBBBBB')!.grants).toEqual([]);
  });

  it('an expiry date means 00:00:00Z of that day', () => {
    const r = parseKeysFile(`pgk_AAAAAAAAAAAA sha256:${hex} label=a policies=* expires=2027-01-01`);
    expect(r.keys.get('AAAAAAAAAAAA')!.expiresAt).toBe(Date.parse('2027-01-01T00:00:00Z'));
  });

  it('stores the sha256 digest of the whole key, never the key', () => {
    const k = generateKey();
    expect(k.key).toMatch(/^pgk_[A-Za-z0-9]{12}_[A-Za-z0-9]{40}$/);
    const line = formatKeyLine({ id: k.id, key: k.key, label: 'l', policies: '*' });
    expect(line).not.toContain(k.key.slice(17));
    expect(line).toContain(`sha256:${digestKey(k.key).toString('hex')}`);
  });
});

describe('auth onRequest', () => {
  const bearer = (k: string) => `Bearer ${k}`;
  const wrongSecret = `${alice.key.slice(0, 17)}${'x'.repeat(40)}`;
  const cases: { note: string; auth?: string; project?: string | null; policyId?: string; status: number | null; code?: string; reason?: string; message?: string }[] = [
    { note: 'no Authorization header → 401 missing', status: 401, code: 'GW_ERR_AUTH_MISSING', reason: 'missing' },
    { note: 'an empty Authorization header → 401 missing', auth: '', status: 401, code: 'GW_ERR_AUTH_MISSING', reason: 'missing' },
    { note: 'Basic credentials → 401 malformed', auth: 'Basic dXNlcjpwYXNz', status: 401, code: 'GW_ERR_AUTH_MALFORMED', reason: 'malformed' },
    { note: '"Bearer" without a token → 401 malformed', auth: 'Bearer', status: 401, code: 'GW_ERR_AUTH_MALFORMED', reason: 'malformed' },
    { note: '"Bearer " with only spaces → 401 malformed', auth: 'Bearer    ', status: 401, code: 'GW_ERR_AUTH_MALFORMED', reason: 'malformed' },
    { note: 'two tokens → 401 malformed', auth: `Bearer ${alice.key} extra`, status: 401, code: 'GW_ERR_AUTH_MALFORMED', reason: 'malformed' },
    { note: 'the key without a scheme → 401 malformed', auth: alice.key, status: 401, code: 'GW_ERR_AUTH_MALFORMED', reason: 'malformed' },
    { note: 'an upstream-style key (not ours) → 401 invalid', auth: bearer('sk-proj-abcdef0123456789'), status: 401, code: 'GW_ERR_AUTH_INVALID', reason: 'invalid' },
    { note: 'a well-formed key with an unknown id → 401 invalid', auth: bearer(generateKey().key), status: 401, code: 'GW_ERR_AUTH_INVALID', reason: 'invalid' },
    { note: 'a known id with the wrong secret → 401 invalid', auth: bearer(wrongSecret), status: 401, code: 'GW_ERR_AUTH_INVALID', reason: 'invalid' },
    { note: 'an expired key → 401 expired', auth: bearer(oldKey.key), status: 401, code: 'GW_ERR_AUTH_EXPIRED', reason: 'expired' },
    { note: 'a key for another policy → 403 forbidden', auth: bearer(otherKey.key), status: 403, code: 'GW_ERR_AUTH_FORBIDDEN', reason: 'forbidden', message: 'this policy key may not use policy "support-bot"' },
    { note: 'a project-restricted key with another project → 403', auth: bearer(projKey.key), project: 'billing', status: 403, code: 'GW_ERR_AUTH_FORBIDDEN', reason: 'forbidden', message: 'this policy key may not use project "billing"' },
    { note: 'a project-restricted key with no project → 403', auth: bearer(projKey.key), project: null, status: 403, code: 'GW_ERR_AUTH_FORBIDDEN', reason: 'forbidden' },
    { note: 'projects=* still needs a named project → 403', auth: bearer(allKey.key), project: null, status: 403, code: 'GW_ERR_AUTH_FORBIDDEN', reason: 'forbidden' },
    { note: 'a valid key → admitted', auth: bearer(alice.key), status: null },
    { note: 'the scheme is case-insensitive → admitted', auth: `bearer ${alice.key}`, status: null },
    { note: 'a project-restricted key with its project → admitted', auth: bearer(projKey.key), project: 'support-bot', status: null },
    { note: 'policies=* projects=* with any project → admitted', auth: bearer(allKey.key), project: 'anything', status: null },
  ];
  it.each(cases)('$note', ({ auth, project, policyId, status, code, reason, message }) => {
    const { hooks } = setup();
    const services = testServices();
    const { ctx, action } = call(hooks, services, { auth, project, policyId });
    if (status === null) {
      expect(action).toBeUndefined();
      expect(typeof ctx.get(principalKey)?.label).toBe('string');
      expect(ctx.get(principalKey)).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9]{12}$/), label: expect.any(String), grants: [] });
      return;
    }
    expect(action).toMatchObject({ kind: 'reject' });
    const err = (action as { error: { status: number; code: string; message: string; toJSON(): unknown } }).error;
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    if (message) expect(err.message).toBe(message);
    // OpenAI's error shape on the wire.
    expect(err.toJSON()).toMatchObject({ error: { type: expect.any(String), code: expect.any(String), message: expect.any(String) } });
    expect(ctx.get(principalKey)?.label).toBeUndefined();
    expect(ctx.get(principalKey)).toBeUndefined();
  });

  it('counts every failure by reason in policy_gateway_auth_failures_total', async () => {
    const { hooks } = setup();
    const services = testServices();
    call(hooks, services, {});
    call(hooks, services, { auth: 'Basic x' });
    call(hooks, services, { auth: 'Bearer nope' });
    call(hooks, services, { auth: 'Bearer nope2' });
    call(hooks, services, { auth: `Bearer ${oldKey.key}` });
    call(hooks, services, { auth: `Bearer ${otherKey.key}` });
    call(hooks, services, { auth: `Bearer ${alice.key}` });
    const m = await services.registry.getSingleMetric('policy_gateway_auth_failures_total')!.get();
    const byReason = Object.fromEntries(m.values.map((v) => [v.labels.reason, v.value]));
    expect(byReason).toEqual({ missing: 1, malformed: 1, invalid: 2, expired: 1, forbidden: 1 });
  });

  it('expiry follows the request clock: valid until the instant it expires', () => {
    const k = generateKey();
    const expires = Date.parse('2027-01-01T00:00:00Z');
    const { hooks } = setup(`${KEYS}${formatKeyLine({ id: k.id, key: k.key, label: 'temp', policies: '*', expiresAt: expires })}\n`);
    const services = testServices();
    expect(call(hooks, services, { auth: `Bearer ${k.key}`, now: expires - 1 }).action).toBeUndefined();
    const at = call(hooks, services, { auth: `Bearer ${k.key}`, now: expires }).action;
    expect(at && at.kind === 'reject' && at.error.code).toBe('GW_ERR_AUTH_EXPIRED');
  });

  it('never writes the key (or a wrong one) to logs or metrics, even at debug level', async () => {
    const { hooks } = setup();
    const services = testServices();
    const tried = [alice.key, wrongSecret, oldKey.key, otherKey.key, projKey.key];
    for (const k of tried) call(hooks, services, { auth: `Bearer ${k}`, project: 'billing' });
    const logs = services.logs.join('\n');
    const metrics = await services.registry.metrics();
    expect(services.logs.length).toBeGreaterThan(0); // the failures were logged (debug), so the check below is real
    for (const k of tried) {
      expect(logs).not.toContain(k);
      expect(logs).not.toContain(k.slice(17)); // not even the secret part
      expect(metrics).not.toContain(k.slice(17));
    }
  });
});

describe('timing-safe comparison', () => {
  it('findKey compares equal-length digests: any single differing byte fails, the right key passes', () => {
    const k = generateKey();
    const keys = parseKeysFile(formatKeyLine({ id: k.id, key: k.key, label: 'l', policies: '*' })).keys;
    expect(findKey(keys, k.key)?.label).toBe('l');
    // Same length, same id, secret differing only in the first or only in the last character.
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    expect(findKey(keys, flip(k.key, 17))).toBeUndefined();
    expect(findKey(keys, flip(k.key, k.key.length - 1))).toBeUndefined();
  });

  it('uses crypto.timingSafeEqual on digests, and no other comparison of key material', () => {
    const src = readFileSync(join(import.meta.dirname, '../../../plugins/auth/keys-file.ts'), 'utf8');
    const fn = src.slice(src.indexOf('export function digestsEqual'), src.indexOf('export function randomBase62'));
    expect(fn).toContain('timingSafeEqual(a, b)');
    expect(fn).not.toMatch(/a\s*===\s*b|\.equals\(|\.compare\(/);
    const idx = readFileSync(join(import.meta.dirname, '../../../plugins/auth/index.ts'), 'utf8');
    const find = idx.slice(idx.indexOf('export function findKey'), idx.indexOf('/** The request-path check'));
    expect(find).toContain('digestsEqual(digest,');
    expect(find).not.toMatch(/digest\s*===|===\s*entry\.digest|toString\('hex'\)/);
  });
});

describe('verified-key cache', () => {
  type Ring = { verified(t: string): { label: string } | undefined; refresh(l: unknown): Promise<void> };
  it('remembers a key that verified (by the presented credential), never one that failed, and forgets all on reload', async () => {
    const { hooks, dir } = setup();
    const ring = (hooks as unknown as { ring: Ring }).ring;
    const services = testServices();
    expect(ring.verified(alice.key)).toBeUndefined();
    expect(call(hooks, services, { auth: `Bearer ${alice.key}` }).action).toBeUndefined();
    expect(ring.verified(alice.key)?.label).toBe('alice-laptop');
    // Same key id, wrong secret: rejected, and not remembered (a flood of wrong keys cannot fill the cache).
    const wrong = alice.key.slice(0, -1) + (alice.key.endsWith('a') ? 'b' : 'a');
    const a = call(hooks, services, { auth: `Bearer ${wrong}` }).action;
    expect(a && a.kind === 'reject' && a.error.code).toBe('GW_ERR_AUTH_INVALID');
    expect(ring.verified(wrong)).toBeUndefined();
    // A remembered key is still checked for its policy, project and expiry on every request.
    const forbidden = call(hooks, services, { auth: `Bearer ${alice.key}`, policyId: 'other-policy' }).action;
    expect(forbidden && forbidden.kind === 'reject' && forbidden.error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
    // The keys file changes (alice revoked): the cache is emptied with the reload, and alice is refused.
    await ring.refresh(services.log);
    replaceFile(join(dir, 'keys/support.keys'), KEYS.split('\n').filter((l) => !l.includes(alice.id)).join('\n'));
    await ring.refresh(services.log);
    expect(ring.verified(alice.key)).toBeUndefined();
    const revoked = call(hooks, services, { auth: `Bearer ${alice.key}` }).action;
    expect(revoked && revoked.kind === 'reject' && revoked.error.code).toBe('GW_ERR_AUTH_INVALID');
  });
});

describe('bearer parsing', () => {
  it.each([
    { note: 'plain', header: 'Bearer abc', token: 'abc' },
    { note: 'lower-case scheme', header: 'bearer abc', token: 'abc' },
    { note: 'extra spaces around the token', header: 'Bearer   abc  ', token: 'abc' },
    { note: 'a tab after the scheme', header: 'Bearer\tabc', token: 'abc' },
    { note: 'another scheme', header: 'Token abc', token: '' },
    { note: 'no separator', header: 'Bearerabc', token: '' },
  ])('$note', ({ header, token }) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('keys file reload without restart', () => {
  it('picks up a new key, drops a removed one, keeps the last good keys when the file breaks and logs that once', async () => {
    const { hooks, dir } = setup();
    const file = join(dir, 'keys/support.keys');
    const services = testServices();
    let now = NOW;
    const tick = () => { now += 1000; return now; };
    const newKey = generateKey();
    // The first check after start reads the file (its signature is unknown); settle it.
    expect(call(hooks, services, { auth: `Bearer ${alice.key}`, now: tick() }).action).toBeUndefined();
    replaceFile(file, `${KEYS}${formatKeyLine({ id: newKey.id, key: newKey.key, label: 'new', policies: '*' })}\n`);
    await vi.waitFor(() => {
      expect(call(hooks, services, { auth: `Bearer ${newKey.key}`, now: tick() }).action).toBeUndefined();
    });
    // Break the file: the old keys keep working, and the warning is written once, not per request.
    replaceFile(file, `${KEYS}this line is broken\n`);
    await vi.waitFor(() => {
      expect(call(hooks, services, { auth: `Bearer ${alice.key}`, now: tick() }).action).toBeUndefined();
      expect(services.logs.filter((l) => l.includes('keys file invalid')).length).toBe(1);
    });
    for (let i = 0; i < 20; i++) {
      expect(call(hooks, services, { auth: `Bearer ${newKey.key}`, now: tick() }).action).toBeUndefined();
      await new Promise((r) => setImmediate(r));
    }
    expect(services.logs.filter((l) => l.includes('keys file invalid')).length).toBe(1);
    // Fix it without the new key: the new key stops working.
    replaceFile(file, KEYS);
    await vi.waitFor(() => {
      const a = call(hooks, services, { auth: `Bearer ${newKey.key}`, now: tick() }).action;
      expect(a && a.kind === 'reject' && a.error.code).toBe('GW_ERR_AUTH_INVALID');
    });
    expect(call(hooks, services, { auth: `Bearer ${alice.key}`, now: tick() }).action).toBeUndefined();
    expect(services.logs.some((l) => l.includes('keys file reloaded'))).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(KEYS);
  });

  it('checks the file at most once per second of request time', async () => {
    const { hooks, dir } = setup();
    const services = testServices();
    const newKey = generateKey();
    expect(call(hooks, services, { auth: `Bearer ${alice.key}`, now: NOW }).action).toBeUndefined();
    await (hooks as unknown as { ring: { refresh(l: unknown): Promise<void> } }).ring.refresh(services.log);
    replaceFile(join(dir, 'keys/support.keys'), `${KEYS}${formatKeyLine({ id: newKey.id, key: newKey.key, label: 'n', policies: '*' })}\n`);
    // Same request-clock second as the first check: no re-read, however long we wait.
    for (let i = 0; i < 10; i++) {
      expect(call(hooks, services, { auth: `Bearer ${newKey.key}`, now: NOW + 999 }).action).toMatchObject({ kind: 'reject' });
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => {
      expect(call(hooks, services, { auth: `Bearer ${newKey.key}`, now: NOW + 1000 }).action).toBeUndefined();
    });
  });
});
