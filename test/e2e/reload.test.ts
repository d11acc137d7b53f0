// Hot reload against the running CLI: an edit is picked up by the next request; a broken edit keeps the last
// good rule set serving, logs the diagnostics and counts the failure in /metrics; SIGHUP reloads too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const policy = (otherwise: string) => `policy "live" {\n  default\n  respond {\n    otherwise ${otherwise}\n  }\n}\n`;
let up: FakeUpstream;
let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  up = await startFakeUpstream();
  dir = rulesDir({ 'live.policy': policy('allow') });
  gw = await startGateway(['--rules', dir, '--upstream', up.baseUrl]);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

async function decision(): Promise<string> {
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { policy: { decision: string } }).policy.decision;
}
const metric = async (re: RegExp) => (await (await fetch(`${gw.url}/metrics`)).text()).match(re)?.[1];
/** The `policy diagnostic` log records written so far. */
const diags = () => gw.stdout().split('\n').filter((l) => l.includes('"msg":"policy diagnostic"')).map((l) => JSON.parse(l) as { code: string; at: string; message: string });
/** The serving revision(s) in rules_info and the last successful load time. */
async function rulesFacts(): Promise<{ revisions: string[]; at: number }> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return {
    revisions: [...text.matchAll(/^policy_gateway_rules_info\{revision="([0-9a-f]+)"\} 1$/gm)].map((m) => m[1]!),
    at: Number(/^policy_gateway_rules_last_reload_success_timestamp_seconds (\S+)$/m.exec(text)?.[1]),
  };
}

describe('hot reload', () => {
  it('serves the new rule after an edit, without a restart', async () => {
    expect(await decision()).toBe('allow');
    const before = await rulesFacts();
    expect(before.revisions).toHaveLength(1);
    writeFileSync(path.join(dir, 'live.policy'), policy('refuse'));
    await expect.poll(decision, { timeout: 10_000, interval: 100 }).toBe('refuse');
    // rules_info names the new revision only; the last successful load moved forward.
    const after = await rulesFacts();
    expect(after.revisions).toHaveLength(1);
    expect(after.revisions[0]).not.toBe(before.revisions[0]);
    expect(after.at).toBeGreaterThan(before.at);
  });

  it('a broken edit keeps the last good rules serving, logs the diagnostic and counts the failure', async () => {
    writeFileSync(path.join(dir, 'live.policy'), 'policy "live" {\n  respond { otherwise refuse\n');
    const good = await rulesFacts();
    await expect.poll(() => metric(/policy_gateway_policy_reloads_total\{result="error"\} (\d+)/), { timeout: 10_000, interval: 100 }).toBe('1');
    expect(await decision()).toBe('refuse');
    // The failed reload changes neither the serving revision nor the last success time.
    expect(await rulesFacts()).toEqual(good);
    // One JSON record per diagnostic (the child's stdout is a pipe, not a terminal), no rendered text in a string.
    expect(diags().some((d) => /^POL02\d\d$/.test(d.code) && /live\.policy:\d+:\d+$/.test(d.at))).toBe(true);
    expect(gw.stdout()).not.toMatch(/\\n\s*\|/);
    // fixing the file recovers
    writeFileSync(path.join(dir, 'live.policy'), policy('allow'));
    await expect.poll(decision, { timeout: 10_000, interval: 100 }).toBe('allow');
  });

  it('an unknown block name in an edit is caught at load time, not at request time', async () => {
    writeFileSync(path.join(dir, 'live.policy'), 'policy "live" {\n  default\n  respnd { otherwise refuse }\n}\n');
    await expect.poll(() => metric(/policy_gateway_policy_reloads_total\{result="error"\} (\d+)/), { timeout: 10_000, interval: 100 }).toBe('2');
    await expect.poll(() => diags().some((d) => JSON.stringify(d).includes('did you mean \\"respond\\"?')), { timeout: 5000, interval: 50 }).toBe(true);
    expect(await decision()).toBe('allow');
  });
});
