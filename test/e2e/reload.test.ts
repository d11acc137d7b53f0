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

describe('hot reload', () => {
  it('serves the new rule after an edit, without a restart', async () => {
    expect(await decision()).toBe('allow');
    writeFileSync(path.join(dir, 'live.policy'), policy('refuse'));
    await expect.poll(decision, { timeout: 10_000, interval: 100 }).toBe('refuse');
  });

  it('a broken edit keeps the last good rules serving, logs the diagnostic and counts the failure', async () => {
    writeFileSync(path.join(dir, 'live.policy'), 'policy "live" {\n  respond { otherwise refuse\n');
    await expect.poll(() => metric(/policy_gateway_policy_reloads_total\{result="error"\} (\d+)/), { timeout: 10_000, interval: 100 }).toBe('1');
    expect(await decision()).toBe('refuse');
    expect(gw.stdout()).toMatch(/live\.policy:\d+:\d+: error\[POL02\d\d\]/);
    // fixing the file recovers
    writeFileSync(path.join(dir, 'live.policy'), policy('allow'));
    await expect.poll(decision, { timeout: 10_000, interval: 100 }).toBe('allow');
  });

  it('an unknown block name in an edit is caught at load time, not at request time', async () => {
    writeFileSync(path.join(dir, 'live.policy'), 'policy "live" {\n  default\n  respnd { otherwise refuse }\n}\n');
    await expect.poll(() => metric(/policy_gateway_policy_reloads_total\{result="error"\} (\d+)/), { timeout: 10_000, interval: 100 }).toBe('2');
    expect(gw.stdout()).toContain('did you mean \\"respond\\"?');
    expect(await decision()).toBe('allow');
  });
});
