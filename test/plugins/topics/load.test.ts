// The topics and moderation blocks through the real policy loader: a .policy file on disk with a list file next to it
// (paths relative to the policy file), the compiled hooks run in chain order, and load errors for a missing list.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicies } from '../../../src/policy/index.ts';
import { topicsKey, topicsPlugin } from '../../../plugins/topics/index.ts';
import { moderationKey, moderationPlugin } from '../../../plugins/moderation/index.ts';
import { ctxFor } from '../../helpers/ctx.ts';

const POLICY = `# support bot policy
policy "support-bot" {
  topics {
    allow "refund policy", "shipping"
    deny "competitor pricing", /wire\\s+transfer/i
    deny list "lists/competitors.txt"   # one phrase per line
  }
  moderation {
    provider builtin
    flag "self-harm/*" above 0.5
    flag violence/graphic
    on_error open
  }
}
`;

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-topics-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('topics and moderation through loadPolicies', () => {
  it('loads a policy whose list file sits next to it and runs both hooks in chain order', async () => {
    const dir = dirWith({ 'support.policy': POLICY, 'lists/competitors.txt': '# rivals\nAcme Corp\nGlobex\n' });
    const r = await loadPolicies([dir], [topicsPlugin, moderationPlugin]);
    expect(r.diagnostics).toEqual([]);
    const policy = r.set!.policies.get('support-bot')!;
    expect(policy.plugins.map((p) => p.name)).toEqual(['topics', 'moderation']);
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'Is the Acme\u200B Corp refund policy better? I want to kill myself' }] });
    for (const p of policy.plugins) expect(p.hooks.onRequest!(ctx)).toBeUndefined();
    expect(ctx.get(topicsKey)).toEqual({ allowlistConfigured: true, allowlistHits: ['refund policy'], denylistHits: ['Acme Corp'], denyRule: `${join(dir, 'support.policy')}:6` });
    expect(ctx.get(moderationKey)!.flagged).toEqual(['self-harm', 'self-harm/intent']);
    expect(ctx.verdict).toMatchObject({ allowlistHits: ['refund policy'], denylistHits: ['Acme Corp'], triggeredCategories: ['self-harm', 'self-harm/intent'] });
  });

  it('a missing list file fails the load with POL0310 at the path', async () => {
    const dir = dirWith({ 'support.policy': POLICY });
    const r = await loadPolicies([dir], [topicsPlugin, moderationPlugin]);
    expect(r.set).toBeUndefined();
    expect(r.diagnostics.map((d) => `${d.code} ${d.span.start.line}:${d.span.start.col}`)).toEqual(['POL0310 6:15']);
  });
});
