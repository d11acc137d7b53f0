// Rollout selection over real compiled `rollout` blocks: exact, glob and catch-all targets, the default, first match
// wins, requests without target/user, and percentage rollouts that are stable per user and hit the right share.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { rolloutPlugin, selectRollout, rolloutKey } from '../../../plugins/rollout/index.ts';
import { rolloutBucket, BUCKETS } from '../../../plugins/rollout/hash.ts';
import { ctxFor } from '../../helpers/ctx.ts';
import { compileClean } from '../decide/policy-helpers.ts';

const F = 'rules/test.policy';
const cfg = compileClean(rolloutPlugin, `  rollout {
    enforce target "support-bot"
    shadow target "beta-*"
    enforce target "canary" percent 10%
    shadow target "canary-??"
    default enforce
  }`);

describe('target matching', () => {
  it.each([
    { note: 'an exact target', target: 'support-bot', user: 'u', want: ['enforced', `${F}:3`, 'rule'] },
    { note: 'a glob target', target: 'beta-eu', user: 'u', want: ['shadow', `${F}:4`, 'rule'] },
    { note: '? matches exactly one character', target: 'canary-01', user: null, want: ['shadow', `${F}:6`, 'rule'] },
    { note: 'a target no rule names gets the written default', target: 'other', user: 'u', want: ['enforced', `${F}:7`, 'default'] },
    { note: 'no target matches only catch-alls and the default', target: null, user: 'u', want: ['enforced', `${F}:7`, 'default'] },
    { note: 'a percentage rule without a user falls through', target: 'canary', user: null, want: ['enforced', `${F}:7`, 'default'] },
  ])('$note', ({ target, user, want }) => {
    const r = selectRollout(cfg, target, user);
    expect([r.mode, r.rule, r.source]).toEqual(want);
  });

  it('first match wins, and a catch-all also matches requests without a target', () => {
    const c = compileClean(rolloutPlugin, `  rollout {
    shadow target "beta-*"
    enforce target "*"
    default shadow
  }`);
    expect(selectRollout(c, 'beta-x', null).mode).toBe('shadow');
    expect(selectRollout(c, 'prod', null).mode).toBe('enforced');
    expect(selectRollout(c, null, null)).toEqual({ mode: 'enforced', rule: `${F}:4`, source: 'rule' });
  });

  it('without a default statement the default is enforced, naming no rule', () => {
    const c = compileClean(rolloutPlugin, '  rollout { shadow target "beta" }');
    expect(selectRollout(c, 'prod', 'u')).toEqual({ mode: 'enforced', rule: null, source: 'default' });
    expect(selectRollout(c, 'beta', 'u')).toEqual({ mode: 'shadow', rule: `${F}:2`, source: 'rule' });
  });

  it('a rule may list several targets', () => {
    const c = compileClean(rolloutPlugin, '  rollout {\n    shadow target "a", "b-*"\n    default enforce\n  }');
    expect(['a', 'b-1', 'c'].map((t) => selectRollout(c, t, null).mode)).toEqual(['shadow', 'shadow', 'enforced']);
  });
});

describe('percentage rollout', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  it('is stable per user: the same user always lands on the same side', () => {
    for (const u of users.slice(0, 200)) {
      const first = selectRollout(cfg, 'canary', u).mode;
      for (let k = 0; k < 50; k++) expect(selectRollout(cfg, 'canary', u).mode).toBe(first);
    }
  });

  it('enforces roughly 10% of 10,000 users; the rest fall through to later rules', () => {
    let enforced = 0;
    for (const u of users) {
      const r = selectRollout(cfg, 'canary', u);
      if (r.rule === `${F}:5`) enforced++;
      else expect(r).toEqual({ mode: 'enforced', rule: `${F}:7`, source: 'default' });
    }
    // Binomial(10000, 0.1): sd = 30; ±4 sd.
    expect(enforced).toBeGreaterThan(880);
    expect(enforced).toBeLessThan(1120);
  });

  it.each([1, 25, 50, 90])('hits a %i%% share within 4 standard deviations over 10,000 users', (p) => {
    const c = compileClean(rolloutPlugin, `  rollout {\n    shadow target "t" percent ${p}%\n  }`);
    const n = users.filter((u) => selectRollout(c, 't', u).mode === 'shadow').length;
    const sd = Math.sqrt(10_000 * (p / 100) * (1 - p / 100));
    expect(Math.abs(n - 100 * p)).toBeLessThan(4 * sd);
  });

  it('0% selects nobody and 100% everybody', () => {
    const c = compileClean(rolloutPlugin, '  rollout {\n    shadow target "a" percent 0%\n    shadow target "b" percent 100%\n  }');
    expect(users.slice(0, 2000).some((u) => selectRollout(c, 'a', u).mode === 'shadow')).toBe(false);
    expect(users.slice(0, 2000).every((u) => selectRollout(c, 'b', u).mode === 'shadow')).toBe(true);
  });

  it('percentages on one target are cumulative over the same bucket (ramps: 10% enforced, next 10% shadow)', () => {
    const c = compileClean(rolloutPlugin, `  rollout {
    enforce target "t" percent 10%
    shadow target "t" percent 20%
    default enforce
  }`);
    for (const u of users.slice(0, 3000)) {
      const b = rolloutBucket('test-policy', u);
      const r = selectRollout(c, 't', u);
      expect(r.rule).toBe(b < 1000 ? `${F}:3` : b < 2000 ? `${F}:4` : `${F}:5`);
    }
  });
});

describe('rolloutBucket', () => {
  /** Reference: the documented algorithm over TextEncoder's UTF-8 bytes. */
  function reference(policy: string, user: string): number {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(`${policy}\0${user}`)) h = Math.imul(h ^ b, 0x01000193);
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
    return (h >>> 0) % BUCKETS;
  }

  it('equals FNV-1a + fmix32 over the UTF-8 bytes of policy "\\0" user, for any strings (emoji, lone surrogates)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (p, u) => rolloutBucket(p, u) === reference(p, u)),
      { numRuns: 2000 });
    expect(rolloutBucket('p', 'ünïcødé 👋')).toBe(reference('p', 'ünïcødé 👋'));
    expect(rolloutBucket('p', '\ud800x')).toBe(reference('p', '\ud800x'));
  });

  it('depends on the policy id: the same user may land differently under another policy', () => {
    const differs = Array.from({ length: 100 }, (_, i) => `u${i}`).filter((u) => rolloutBucket('a', u) !== rolloutBucket('b', u));
    expect(differs.length).toBeGreaterThan(90);
  });
});

describe('rollout onRequest', () => {
  const hooks = rolloutPlugin.hooks(cfg);
  it.each([
    { note: 'enforced target', target: 'support-bot', mode: 'enforced', enforced: true },
    { note: 'shadow target', target: 'beta-1', mode: 'shadow', enforced: false },
  ])('$note: sets the verdict mode and publishes the rule', ({ target, mode, enforced }) => {
    const ctx = ctxFor({ model: 'm', messages: [] }, { meta: { policyId: 'test-policy', target, user: 'u' } });
    expect(ctx.verdict.rolloutMode).toBe('enforced'); // nothing published yet
    void hooks.onRequest!(ctx);
    expect([ctx.verdict.rolloutMode, ctx.verdict.enforced]).toEqual([mode, enforced]);
    expect(ctx.get(rolloutKey)?.mode).toBe(mode);
  });

  it('a policy without a rollout block turns the plugin off', () => {
    expect(rolloutPlugin.compile([], { policyId: 'p', file: F, dir: '.', report: () => undefined, readText: () => undefined })).toBeUndefined();
  });
});
