// The quota block's compile step on real .policy text: the compiled config of a full block, and every
// diagnostic (POL0410–POL0419) with its message and did-you-mean notes.
import { describe, expect, it } from 'vitest';
import quotaPlugin from '../../../plugins/quota/index.ts';
import type { QuotaConfig } from '../../../plugins/quota/block.ts';
import { compilePolicyText, show } from '../auth/helpers.ts';

function compile(body: string) {
  return compilePolicyText(`policy "support-bot" {\n  quota {\n${body}\n  }\n}\n`, [quotaPlugin]);
}

describe('quota block compile', () => {
  it('compiles the full example block into limits, prices, reserve and fail mode', () => {
    const r = compile(`
    user 60 requests per minute
    user 200k tokens per day
    project 5M tokens per month
    project 100 usd per month                   # cost budget from the price table
    price "gpt-4o*" input 2.50 output 10.00      # USD per 1M tokens, model glob
    price "*" input 1 output 2
    reserve 1024
    on_error closed`);
    expect(r.diagnostics.map(show)).toEqual([]);
    const p = r.set!.policies.get('support-bot')!;
    expect(p.plugins.map((x) => x.name)).toEqual(['quota']);
    expect(Object.keys(p.plugins[0]!.hooks).sort()).toEqual(['onComplete', 'onRequest', 'requestAccess']);
  });

  it('a policy without a quota block has the plugin off', () => {
    const r = compilePolicyText('policy "open" {\n}\n', [quotaPlugin]);
    expect(r.set!.policies.get('open')!.plugins).toEqual([]);
  });

  it('produces the documented config values', () => {
    let config: QuotaConfig | undefined;
    const spy = { ...quotaPlugin, compile: (b: Parameters<typeof quotaPlugin.compile>[0], e: Parameters<typeof quotaPlugin.compile>[1]) => (config = quotaPlugin.compile(b, e)) };
    const r = compilePolicyText(`policy "support-bot" {
  quota {
    user 60 requests per minute
    user 200k tokens per day
    project 5M tokens per month
    project 100 usd per month
    project 1 request per second
    price "gpt-4o*" input 2.50 output 10.00
  }
}
`, [spy]);
    expect(r.diagnostics.map(show)).toEqual(['POL0418 warning models that match no price count as free against "project 100 usd per month"']);
    expect(config).toMatchObject({
      policyId: 'support-bot', reserve: 1024, onError: 'open', needsEstimate: true, hasUserLimits: true, hasProjectLimits: true,
      prices: [{ pattern: 'gpt-4o*', input: 2.5, output: 10 }],
      limits: [
        { subject: 'user', kind: 'requests', limit: 60, window: 'minute', scope: 'user_requests', name: 'user 60 requests per minute', keyPrefix: 'pgw:q:support-bot:user_requests:minute:' },
        { subject: 'user', kind: 'tokens', limit: 200_000, window: 'day', scope: 'user_tokens', name: 'user 200k tokens per day' },
        { subject: 'project', kind: 'tokens', limit: 5_000_000, window: 'month', scope: 'project_tokens' },
        { subject: 'project', kind: 'cost', limit: 100_000_000, window: 'month', scope: 'project_cost', name: 'project 100 usd per month' },
        { subject: 'project', kind: 'requests', limit: 1, window: 'second', scope: 'project_requests', name: 'project 1 requests per second' },
      ],
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config!.limits[0]!.rule).toMatch(/test\.policy:3$/);
  });

  const cases = [
    { note: 'a misspelt unit suggests the right one', body: 'user 200k tokns per day', want: ['POL0411 error unknown unit "tokns" in user limit'], hint: 'did you mean "tokens"?' },
    { note: 'a misspelt window suggests the right one', body: 'user 60 requests per minut', want: ['POL0412 error unknown window "minut"'], hint: 'did you mean "minute"?' },
    { note: 'a plural window is not a window', body: 'user 60 requests per hours', want: ['POL0412 error unknown window "hours"'], hint: 'did you mean "hour"?' },
    { note: '"5m" is five minutes, not five million', body: 'project 5m tokens per month', want: ['POL0413 error a token limit must be a count, not "5m"'], hint: 'did you mean "5M" (millions)? "m" means minutes' },
    { note: 'a fractional request limit', body: 'user 1.5 requests per second', want: ['POL0413 error a request limit must be a whole number from 1 to 9007199254740991, found "1.5"'] },
    { note: 'a zero limit', body: 'user 0 tokens per day', want: ['POL0413 error a token limit must be a whole number from 1 to 9007199254740991, found "0"'] },
    { note: 'a limit without "per"', body: 'user 60 requests a minute', want: ['POL0410 error expected "per" after the unit, found "a"'] },
    { note: 'a limit with too few words', body: 'user 60 requests', want: ['POL0410 error malformed user limit "user 60 requests"'] },
    { note: 'a limit given as a string', body: 'user "60" requests per minute', want: ['POL0413 error expected a number for a request limit, found "60"'] },
    { note: 'the same limit twice', body: 'user 60 requests per minute\n    user 100 requests per minute', want: ['POL0414 error duplicate limit: user requests per minute is already limited'] },
    { note: 'a cost budget without prices', body: 'project 100 usd per month', want: ['POL0418 error cost budget "project 100 usd per month" needs a price table'] },
    { note: 'prices without a cost budget', body: 'user 1 requests per second\n    price "*" input 1 output 1', want: ['POL0418 warning the price table is unused: no limit counts usd'] },
    { note: 'a price shadowed by an earlier catch-all', body: 'project 1 usd per day\n    price "*" input 1 output 1\n    price "gpt-4o" input 2 output 3', want: ['POL0415 warning price "gpt-4o" is never used: the price "*" before it matches every model'] },
    { note: 'a price missing its output', body: 'project 1 usd per day\n    price "*" input 1', want: ['POL0415 error malformed price "price "*" input 1"'] },
    { note: 'a price with a misspelt part', body: 'project 1 usd per day\n    price "*" inptu 1 output 2', want: ['POL0415 error expected "input" or "output" in price, found "inptu"'] },
    { note: 'a negative-looking price as a word', body: 'project 1 usd per day\n    price "*" input free output 2', want: ['POL0415 error expected a price in US dollars per 1M tokens, found "free"'] },
    { note: 'reserve must be a whole number', body: 'user 1 requests per second\n    reserve 0.5', want: ['POL0416 error reserve must be a whole number from 1 to 10000000, found "0.5"'] },
    { note: 'reserve takes one number', body: 'user 1 requests per second\n    reserve', want: ['POL0416 error expected one number after "reserve"'] },
    { note: 'on_error takes open or closed', body: 'user 1 requests per second\n    on_error close', want: ['POL0417 error expected "open" or "closed" after "on_error", found "close"'], hint: 'did you mean "closed"?' },
    { note: 'on_error given twice', body: 'user 1 requests per second\n    on_error open\n    on_error closed', want: ['POL0419 error "on_error" is given more than once'] },
    { note: 'an empty block is a warning', body: '', want: ['POL0419 warning the quota block has no limits'] },
    { note: 'an unknown statement', body: 'users 60 requests per minute', want: ['POL0401 error unknown statement "users" in quota block'], hint: 'did you mean "user"?' },
  ];
  it.each(cases)('$note', ({ body, want, hint }) => {
    const r = compile(`    ${body}`);
    expect(r.diagnostics.map(show)).toEqual(want);
    if (hint) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(hint);
    if (want.some((w) => w.includes(' error '))) expect(r.set).toBeUndefined();
  });

  it('points each diagnostic at the offending term', () => {
    const r = compile('    user 200k tokens per fortnight');
    const d = r.diagnostics[0]!;
    expect(d.span.start.line).toBe(3);
    expect(d.span.start.col).toBe(26);
    expect(d.span.end.col).toBe(35);
  });
});
