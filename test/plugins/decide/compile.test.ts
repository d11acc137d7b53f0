// Compile checks of the `respond` block on real .policy text: every diagnostic code POL0460–POL0474 with its
// position and did-you-mean notes, and the compiled shape (precomputed category tables, frozen config).
import { describe, expect, it } from 'vitest';
import { decidePlugin } from '../../../plugins/decide/index.ts';
import { CATEGORIES as MODERATION_CATEGORIES } from '../../../src/sdk/taxonomy.ts';
import { compileWith } from './policy-helpers.ts';

const F = 'rules/test.policy';
const wrap = (lines: string[]): string => `  respond {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`;
const ESC = 'escalation { url "http://127.0.0.1:1/h" }';

interface Case { note: string; lines: string[]; want: string[]; notes?: string[] }

// Rule lines start at line 3.
const cases: Case[] = [
  { note: 'the example of the issue compiles with one warning: "when denylist refuse" is shadowed by the violence/denylist rule',
    lines: [
      'when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care; point to professional support resources."',
      'when "violence/*", denylist summary max_tokens 150 with "Give only a brief, high-level answer."',
      'when denylist refuse with "I can\'t help with that topic."',
      'when "sexual/minors" escalate reason "CSAM_REVIEW" with "A specialist will follow up."',
      'when allowlist_miss refuse reason "OFF_TOPIC" with "I can only help with refunds and shipping."',
      'otherwise allow',
      'refusal "Sorry, I can\'t help with that."',
      'escalation { url "http://127.0.0.1:9999/hook"; retries 3; timeout 2s; include_prompt off }',
    ],
    want: ['POL0462 warning 5:5 unreachable rule'], notes: [`shadowed by rule at ${F}:4`] },
  { note: 'an unknown pattern gets a did-you-mean', lines: ['when "hate" refuze'],
    want: ['POL0460 error 3:17 unknown response pattern "refuze"'], notes: ['did you mean "refuse"?'] },
  { note: 'an unknown category gets a did-you-mean', lines: ['when "self-harn/intent" rewrite'],
    want: ['POL0461 error 3:10 unknown category "self-harn/intent"'], notes: ['did you mean "self-harm/intent"?'] },
  { note: 'a glob matching no category is an error', lines: ['when "selfharm/*" rewrite'],
    want: ['POL0461 error 3:10 category pattern "selfharm/*" matches no known category'] },
  { note: 'a misspelt trigger keyword gets a did-you-mean', lines: ['when denylst refuse'],
    want: ['POL0461 error 3:10 unknown category "denylst"'], notes: ['did you mean "denylist"?'] },
  { note: 'a rule whose categories earlier rules cover is unreachable, naming every shadowing rule',
    lines: ['when "self-harm" refuse', 'when "self-harm/intent", "self-harm/instructions" rewrite', 'when "self-harm/*" summary'],
    want: ['POL0462 warning 5:5 unreachable rule'], notes: [`shadowed by rules at ${F}:3, ${F}:4`] },
  { note: 'a rule after "when any" is unreachable', lines: ['when any refuse', 'when "hate" rewrite'],
    want: ['POL0462 warning 4:5 unreachable rule'], notes: [`shadowed by rule at ${F}:3`] },
  { note: '"when any" after rules that do not cover every trigger is reachable', lines: ['when "hate" rewrite', 'when any refuse'], want: [] },
  { note: 'a second allowlist_miss rule is unreachable', lines: ['when allowlist_miss refuse', 'when allowlist_miss refuse reason "X"'],
    want: ['POL0462 warning 4:5 unreachable rule'] },
  { note: 'a "when" after "otherwise" is an error', lines: ['otherwise allow', 'when "hate" refuse'],
    want: ['POL0463 error 4:5 "when" rule after "otherwise"'], notes: [`"otherwise" at ${F}:3 must be the last rule`] },
  { note: 'two "otherwise" rules are an error', lines: ['otherwise allow', 'otherwise refuse'],
    want: ['POL0463 error 4:5 more than one "otherwise" rule'] },
  { note: 'a duplicate refusal statement is an error', lines: ['refusal "a"', 'refusal "b"'],
    want: ['POL0464 error 4:5 duplicate "refusal" statement'] },
  { note: 'a duplicate rule option is an error', lines: ['when "hate" refuse reason "A" reason "B"'],
    want: ['POL0464 error 3:35 duplicate option "reason"'] },
  { note: 'an invalid reason code suggests the canonical form', lines: ['when "hate" refuse reason "self-harm"'],
    want: ['POL0465 error 3:31 invalid reason code "self-harm"'], notes: ['did you mean "SELF_HARM"?'] },
  { note: 'max_tokens on a pattern other than summary is an error', lines: ['when "hate" rewrite max_tokens 10'],
    want: ['POL0466 error 3:25 "max_tokens" only applies to "summary", not "rewrite"'] },
  { note: 'max_tokens must be a positive whole number', lines: ['when "hate" summary max_tokens 0'],
    want: ['POL0466 error 3:36 invalid max_tokens 0'] },
  { note: 'an unknown rule option gets a did-you-mean', lines: ['when "hate" refuse wth "x"'],
    want: ['POL0467 error 3:24 unknown rule option "wth"'], notes: ['did you mean "with"?'] },
  { note: '"when" without a trigger is an error', lines: ['when refuse'],
    want: ['POL0467 error 3:10 "when" needs a trigger before the response pattern'] },
  { note: '"otherwise" without a pattern is an error', lines: ['otherwise'],
    want: ['POL0467 error 3:5 "otherwise" needs a response pattern'] },
  { note: 'an option without a value is an error', lines: ['when "hate" refuse with'],
    want: ['POL0467 error 3:24 option "with" needs a value'] },
  { note: 'escalate without an escalation url is an error', lines: ['when "sexual/minors" escalate'],
    want: ['POL0468 error 3:26 "escalate" needs an escalation url'] },
  { note: 'an escalation block without url is an error', lines: ['when "sexual/minors" escalate', 'escalation { retries 2 }'],
    want: ['POL0468 error 4:5 escalation settings without a "url"'] },
  { note: 'an invalid url is an error', lines: ['when "sexual/minors" escalate', 'escalation { url "ftp://x/y" }'],
    want: ['POL0469 error 4:22 invalid escalation url "ftp://x/y"'] },
  { note: 'a relative url is an error', lines: ['when "sexual/minors" escalate', 'escalation { url "/hook" }'],
    want: ['POL0469 error 4:22 invalid escalation url "/hook"'] },
  { note: 'an unknown escalation setting gets a did-you-mean', lines: ['when "sexual/minors" escalate', `escalation { url "http://h/x"; retires 2 }`],
    want: ['POL0470 error 4:36 unknown escalation setting "retires"'], notes: ['did you mean "retries"?'] },
  { note: 'timeout must be a duration', lines: ['when "sexual/minors" escalate', 'escalation { url "http://h/x"; timeout 2 }'],
    want: ['POL0470 error 4:44 "timeout" needs a duration'] },
  { note: 'include_prompt must be on or off', lines: ['when "sexual/minors" escalate', 'escalation { url "http://h/x"; include_prompt yes }'],
    want: ['POL0470 error 4:51 "include_prompt" needs on or off, found "yes"'] },
  { note: 'retries above 10 is an error', lines: ['when "sexual/minors" escalate', 'escalation { url "http://h/x"; retries 11 }'],
    want: ['POL0470 error 4:44 "retries" needs a whole number from 0 to 10'] },
  { note: 'allowlist_miss must refuse', lines: ['when allowlist_miss rewrite'],
    want: ['POL0471 error 3:25 "allowlist_miss" rules must use "refuse", not "rewrite"'] },
  { note: 'allowlist_miss cannot be combined with other triggers', lines: ['when allowlist_miss, denylist refuse'],
    want: ['POL0471 error 3:10 "allowlist_miss" cannot be combined with other triggers'] },
  { note: '"allow" takes no text', lines: ['when "hate" allow with "x"'],
    want: ['POL0472 error 3:23 "allow" takes no text'] },
  { note: 'empty texts are errors', lines: ['when "hate" refuse with ""', 'refusal "  "'],
    want: ['POL0472 error 3:29 empty text', 'POL0472 error 4:13 empty text'] },
  { note: 'escalation settings no rule uses are a warning', lines: ['when "hate" refuse', ESC],
    want: ['POL0473 warning 4:5 escalation settings are unused'] },
  { note: 'an unknown statement is POL0401 with a did-you-mean', lines: ['otherwse allow'],
    want: ['POL0401 error 3:5 unknown statement "otherwse" in respond block'], notes: ['did you mean "otherwise"?'] },
  { note: 'several errors are all reported in one run', lines: ['when "hat" refuse', 'when "hate" refuze', 'otherwise alow'],
    want: [
      'POL0461 error 3:10 unknown category "hat"',
      'POL0460 error 4:17 unknown response pattern "refuze"',
      'POL0460 error 5:15 unknown response pattern "alow"',
    ] },
  { note: 'bare-word categories, lists and every pattern compile cleanly',
    lines: ['when violence/graphic, hate/threatening summary max_tokens 1k', 'when illicit/* escalate', 'when any rewrite', 'otherwise allow', ESC],
    want: [] },
];

describe('respond compile diagnostics', () => {
  it.each(cases)('$note', (c) => {
    const r = compileWith(decidePlugin, wrap(c.lines));
    expect(r.short).toEqual(c.want);
    if (c.notes) for (const n of c.notes) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(n);
    for (const d of r.diagnostics) expect(d.span.file).toBe(F);
  });

  it('a second respond block is an error', () => {
    const r = compileWith(decidePlugin, `  respond { when "hate" refuse }\n  respond { when "hate" rewrite }`);
    expect(r.short).toEqual(['POL0474 error 3:3 more than one "respond" block in this policy']);
  });
});

describe('compiled respond config', () => {
  it('precomputes the first rule per taxonomy category and for the denylist', () => {
    const r = compileWith(decidePlugin, wrap([
      'when "self-harm/*" rewrite', 'when "violence/*", denylist summary', 'when "*" refuse',
    ]));
    expect(r.short).toEqual([]);
    const cfg = r.config!;
    const expected: Record<string, number> = {};
    for (const c of MODERATION_CATEGORIES) expected[c] = c.startsWith('self-harm') ? 0 : c.startsWith('violence') ? 1 : 2;
    expect({ ...cfg.firstRuleByCategory }).toEqual(expected);
    expect(cfg.firstDenylistRule).toBe(1);
    expect(cfg.rules.map((x) => x.outcome.rule)).toEqual([`${F}:3`, `${F}:4`, `${F}:5`]);
  });

  it('is deep-frozen', () => {
    const cfg = compileWith(decidePlugin, wrap(['when "hate" summary', 'when "sexual/minors" escalate', ESC])).config!;
    const frozen = (o: unknown): boolean => typeof o !== 'object' || o === null
      || (Object.isFrozen(o) && Object.values(o).every(frozen));
    expect(frozen(cfg)).toBe(true);
    expect(cfg.escalation).toEqual({ url: 'http://127.0.0.1:1/h', retries: 3, timeoutMs: 5000, backoffMs: 250, includePrompt: false });
  });
});
