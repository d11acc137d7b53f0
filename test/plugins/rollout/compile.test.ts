// Compile checks of the `rollout` block on real .policy text: codes POL0480–POL0487 with positions and notes.
import { describe, expect, it } from 'vitest';
import { rolloutPlugin } from '../../../plugins/rollout/index.ts';
import { compileWith } from '../decide/policy-helpers.ts';

const F = 'rules/test.policy';
const wrap = (lines: string[]): string => `  rollout {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`;

interface Case { note: string; lines: string[]; want: string[]; notes?: string[] }

const cases: Case[] = [
  { note: 'the example of the issue compiles cleanly', lines: [
    'enforce target "support-bot"', 'shadow target "beta-*"', 'enforce target "canary" percent 10%', 'shadow target "*"', 'default enforce',
  ], want: [] },
  { note: 'an unknown mode gets a did-you-mean', lines: ['enforse target "x"'],
    want: ['POL0480 error 3:5 unknown rollout mode "enforse"'], notes: ['did you mean "enforce"?'] },
  { note: 'an unknown default mode gets a did-you-mean', lines: ['default shadw'],
    want: ['POL0480 error 3:13 unknown rollout mode "shadw"'], notes: ['did you mean "shadow"?'] },
  { note: 'an unknown statement is POL0401', lines: ['defualt enforce'],
    want: ['POL0401 error 3:5 unknown statement "defualt" in rollout block'], notes: ['did you mean "default"?'] },
  { note: 'a missing target keyword', lines: ['enforce "x"'],
    want: ['POL0481 error 3:13 expected "target" after "enforce", found "x"'] },
  { note: 'a misspelt target keyword gets a did-you-mean', lines: ['enforce targt "x"'],
    want: ['POL0481 error 3:13 expected "target" after "enforce", found "targt"'], notes: ['did you mean "target"?'] },
  { note: 'a target without a name', lines: ['shadow target'], want: ['POL0481 error 3:12 "target" needs a name'] },
  { note: 'trailing words', lines: ['shadow target "a" please'], want: ['POL0481 error 3:23 unexpected "please" in rollout rule'] },
  { note: 'the same target with different modes conflicts', lines: ['enforce target "a"', 'shadow target "a"'],
    want: ['POL0482 error 4:19 conflicting rollout rules for target "a"'],
    notes: [`"enforce" at ${F}:3, "shadow" here; the first one wins, so this one never applies`] },
  { note: 'the same target and percentage with different modes conflicts', lines: ['enforce target "a" percent 5%', 'shadow target "a" percent 5%'],
    want: ['POL0482 error 4:19 conflicting rollout rules for target "a"'] },
  { note: 'an identical duplicate is a warning', lines: ['shadow target "a"', 'shadow target "a"'],
    want: ['POL0483 warning 4:19 duplicate rollout rule for target "a"'], notes: [`first defined at ${F}:3`] },
  { note: 'rules after a catch-all are unreachable', lines: ['shadow target "*"', 'enforce target "b"'],
    want: ['POL0484 warning 4:20 unreachable rollout rule'], notes: [`it comes after the catch-all "*" at ${F}:3`] },
  { note: 'a catch-all with a percentage does not hide later rules', lines: ['shadow target "*" percent 5%', 'enforce target "b"'], want: [] },
  { note: 'an exact target after a glob that covers it is unreachable', lines: ['shadow target "beta-*"', 'enforce target "beta-eu"'],
    want: ['POL0484 warning 4:20 unreachable rollout rule'] },
  { note: 'a smaller percentage after a larger one on the same target is unreachable', lines: ['shadow target "a" percent 20%', 'enforce target "a" percent 10%'],
    want: ['POL0484 warning 4:20 unreachable rollout rule'] },
  { note: 'a percentage rule after a full rule on the same target is unreachable', lines: ['shadow target "a"', 'enforce target "a" percent 10%'],
    want: ['POL0484 warning 4:20 unreachable rollout rule'] },
  { note: 'a full rule after a percentage rule on the same target is the legitimate "rest of the users"',
    lines: ['enforce target "a" percent 10%', 'shadow target "a"'], want: [] },
  { note: 'a percentage above 100 is an error', lines: ['shadow target "a" percent 150%'],
    want: ['POL0485 error 3:31 percentage 150% is outside 0–100'] },
  { note: 'a percentage must be a number', lines: ['shadow target "a" percent "ten"'],
    want: ['POL0485 error 3:31 "percent" needs a percentage, found "ten"'] },
  { note: 'a duration is not a percentage', lines: ['shadow target "a" percent 10s'],
    want: ['POL0485 error 3:31 "percent" needs a percentage, found 10s'] },
  { note: 'two defaults are an error', lines: ['default enforce', 'default shadow'],
    want: ['POL0486 error 4:5 more than one "default" in rollout block'] },
];

describe('rollout compile diagnostics', () => {
  it.each(cases)('$note', (c) => {
    const r = compileWith(rolloutPlugin, wrap(c.lines));
    expect(r.short).toEqual(c.want);
    if (c.notes) for (const n of c.notes) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(n);
  });

  it('a second rollout block is an error', () => {
    const r = compileWith(rolloutPlugin, '  rollout { default enforce }\n  rollout { default shadow }');
    expect(r.short).toEqual(['POL0487 error 3:3 more than one "rollout" block in this policy']);
  });

  it('compiles to a deep-frozen config with bucket thresholds', () => {
    const c = compileWith(rolloutPlugin, wrap(['enforce target "canary" percent 12.5%', 'shadow target "beta-*"', 'default shadow'])).config!;
    expect(c.rules.map((r) => [r.match, r.target, r.threshold])).toEqual([['exact', 'canary', 1250], ['glob', 'beta-*', -1]]);
    expect(c.fallback).toEqual({ mode: 'shadow', rule: `${F}:5`, source: 'default' });
    const frozen = (o: unknown): boolean => typeof o !== 'object' || o === null || (Object.isFrozen(o) && Object.values(o).every(frozen));
    expect(frozen(c)).toBe(true);
  });
});
