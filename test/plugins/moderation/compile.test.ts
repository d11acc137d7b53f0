// Compile checks of the `moderation` block on real .policy text: every diagnostic code POL0430–POL0439, defaults, and
// the compiled flag tables (category globs with the family rule, thresholds, rule references).
import { describe, expect, it } from 'vitest';
import { moderationPlugin, CATEGORIES, type ModerationConfig } from '../../../plugins/moderation/index.ts';
import { compileClean, compileWith } from '../topics/policy.ts';

const wrap = (lines: string[]): string => `  moderation {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`;

interface Case { note: string; lines: string[]; want: string[]; notes?: string[] }

// Statement lines start at line 3, column 5.
const cases: Case[] = [
  { note: 'the example of the brief compiles cleanly', lines: ['provider builtin', 'flag "self-harm/*" above 0.5', 'flag violence/graphic', 'on_error open'], want: [] },
  { note: 'an unknown provider gets a did-you-mean', lines: ['provider openia'], want: ['POL0430 error 3:14 unknown moderation provider "openia"'], notes: ['did you mean "openai"?'] },
  { note: 'provider takes one name', lines: ['provider openai llama_guard'], want: ['POL0430 error 3:21 "provider" takes one provider name'] },
  { note: 'builtin takes no settings', lines: ['provider builtin { url "http://x" }'], want: ['POL0433 error 3:14 provider "builtin" takes no settings'] },
  { note: 'a remote provider needs a url', lines: ['provider openai { model "m" }'], want: ['POL0433 error 3:14 provider "openai" needs a url'] },
  { note: 'a url must be http(s)', lines: ['provider openai { url "ftp://x/y" }'], want: ['POL0433 error 3:27 invalid url "ftp://x/y"'] },
  { note: 'a literal key is refused', lines: ['provider openai { url "http://127.0.0.1:1/v1/moderations"; key "sk-123" }'],
    want: ['POL0433 error 3:68 API keys cannot be written in a policy'], notes: ['write key env "OPENAI_API_KEY": the key is read from that environment variable at request time'] },
  { note: 'an unknown provider setting gets a did-you-mean', lines: ['provider openai { url "http://x"; modle "m" }'],
    want: ['POL0433 error 3:39 unknown provider setting "modle"'], notes: ['did you mean "model"?'] },
  { note: 'a duplicate provider setting is an error', lines: ['provider openai { url "http://x"; url "http://y" }'], want: ['POL0436 error 3:39 duplicate provider setting "url"'] },
  { note: 'template only applies to llama_guard', lines: ['provider openai { url "http://x"; template server }'], want: ['POL0433 error 3:39 "template" only applies to provider "llama_guard"'] },
  { note: 'an unknown template is an error', lines: ['provider llama_guard { url "http://x"; template both }'], want: ['POL0433 error 3:53 unknown template "both"'] },
  { note: 'a timeout needs a duration', lines: ['provider openai { url "http://x"; timeout 5 }'], want: ['POL0439 error 3:47 invalid timeout 5'] },
  { note: 'a timeout above 60s is an error', lines: ['provider openai { url "http://x"; timeout 2m }'], want: ['POL0439 error 3:47 invalid timeout 2m'] },
  { note: 'an unknown category gets a did-you-mean', lines: ['flag "self-harn/intent"'], want: ['POL0431 error 3:10 unknown category "self-harn/intent"'], notes: ['did you mean "self-harm/intent"?'] },
  { note: 'a glob that matches nothing is an error', lines: ['flag "selfharm/*"'], want: ['POL0431 error 3:10 category pattern "selfharm/*" matches no known category'] },
  { note: '"flag" needs a category', lines: ['flag'], want: ['POL0431 error 3:5 "flag" needs a category'] },
  { note: 'a threshold of 1 or more is an error', lines: ['flag hate above 1'], want: ['POL0432 error 3:21 invalid threshold 1'] },
  { note: 'a misspelt "above" gets a did-you-mean', lines: ['flag hate abve 0.4'], want: ['POL0432 error 3:15 unexpected "abve" in flag rule'], notes: ['did you mean "above"?'] },
  { note: 'a rule covered by an earlier lower threshold is a warning', lines: ['flag "self-harm/*" above 0.4', 'flag self-harm/intent above 0.6'],
    want: ['POL0437 warning 4:5 flag rule never flags anything new'], notes: ['every category it covers is already flagged at the same or a lower threshold by the rule at rules/test.policy:3'] },
  { note: 'an unknown on_error value gets a did-you-mean', lines: ['on_error close'], want: ['POL0434 error 3:14 unknown on_error value "close"'], notes: ['did you mean "closed"?'] },
  { note: 'an invalid cache size is an error', lines: ['provider openai { url "http://x" }', 'cache 1.5'], want: ['POL0435 error 4:11 invalid cache size 1.5'] },
  { note: 'cache with builtin is a warning', lines: ['cache 100'], want: ['POL0437 warning 3:5 "cache" has no effect with provider "builtin"'] },
  { note: 'a duplicate statement is an error', lines: ['on_error open', 'on_error closed'], want: ['POL0436 error 4:5 duplicate "on_error" statement'] },
  { note: 'an unknown scan mode gets a did-you-mean', lines: ['scan al'], want: ['POL0438 error 3:10 unknown scan mode "al"'], notes: ['did you mean "all"?'] },
  { note: 'an unknown statement (shared POL0401) gets a did-you-mean', lines: ['flagg hate'],
    want: ['POL0401 error 3:5 unknown statement "flagg" in moderation block'], notes: ['did you mean "flag"?'] },
  { note: 'timeout outside the provider body is an unknown statement', lines: ['timeout 2s'], want: ['POL0401 error 3:5 unknown statement "timeout" in moderation block'] },
];

const flaggedAt = (c: ModerationConfig, cat: string): string[] =>
  c.flags[CATEGORIES.indexOf(cat as (typeof CATEGORIES)[number])]!.map((r) => `${r.threshold}@${r.rule}`);

describe('moderation block compile', () => {
  it.each(cases)('$note', ({ lines, want, notes }) => {
    const r = compileWith(moderationPlugin, wrap(lines));
    expect(r.short).toEqual(want);
    if (notes) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toEqual(expect.arrayContaining(notes));
    if (want.some((w) => w.includes(' error '))) expect(r.config).toBeUndefined();
  });

  it('defaults: builtin, every category above 0.5 (rule: the block), fail open, cache 10000, scan user', () => {
    const c = compileClean(moderationPlugin, '  moderation { }');
    expect(c).toMatchObject({ provider: 'builtin', remote: null, onError: 'open', cacheSize: 10_000, scan: 'user', policyId: 'test-policy' });
    for (const cat of CATEGORIES) expect(flaggedAt(c, cat)).toEqual(['0.5@rules/test.policy:2']);
  });

  it('expands globs with the family rule and keeps rules per category in file order', () => {
    const c = compileClean(moderationPlugin, wrap(['flag "self-harm/*" above 0.3', 'flag violence/graphic', 'flag "hate", harassment above 70%', 'flag violence/graphic above 0.2']));
    expect(flaggedAt(c, 'self-harm')).toEqual(['0.3@rules/test.policy:3']);
    expect(flaggedAt(c, 'self-harm/intent')).toEqual(['0.3@rules/test.policy:3']);
    expect(flaggedAt(c, 'self-harm/instructions')).toEqual(['0.3@rules/test.policy:3']);
    expect(flaggedAt(c, 'violence/graphic')).toEqual(['0.5@rules/test.policy:4', '0.2@rules/test.policy:6']);
    expect(flaggedAt(c, 'hate')).toEqual(['0.7@rules/test.policy:5']);
    expect(flaggedAt(c, 'harassment')).toEqual(['0.7@rules/test.policy:5']);
    expect(flaggedAt(c, 'violence')).toEqual([]);
    expect(flaggedAt(c, 'sexual/minors')).toEqual([]);
  });

  it('compiles remote provider settings with defaults', () => {
    const c = compileClean(moderationPlugin, wrap(['provider openai { url "http://127.0.0.1:9000/v1/moderations"; key env "OPENAI_API_KEY"; timeout 1500ms }', 'on_error closed', 'cache 50k', 'scan last_user']));
    expect(c.remote).toEqual({ kind: 'openai', url: 'http://127.0.0.1:9000/v1/moderations', keyEnv: 'OPENAI_API_KEY', model: 'omni-moderation-latest', timeoutMs: 1500, template: 'gateway' });
    expect(c).toMatchObject({ provider: 'openai', onError: 'closed', cacheSize: 50_000, scan: 'last_user' });
    const g = compileClean(moderationPlugin, wrap(['provider llama_guard { url "http://127.0.0.1:9001/v1/chat/completions"; model "llama-guard-3"; template server }', 'cache off']));
    expect(g.remote).toMatchObject({ kind: 'llama_guard', model: 'llama-guard-3', template: 'server', keyEnv: null, timeoutMs: 2000 });
    expect(g.cacheSize).toBe(0);
    expect(Object.isFrozen(g) && Object.isFrozen(g.remote) && Object.isFrozen(g.flags)).toBe(true);
  });
});
