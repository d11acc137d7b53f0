// A plugin added without editing a core file: the prompt-length plugin (test/fixtures/prompt-length/) brings its own
// block, POL range, error, reason code and metric; a CLI entry that registers it serves it. Driven as a user would:
// `check`, then `serve` over HTTP with the openai SDK, the audit stream and /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { ROOT, rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const FIXTURE = path.join(ROOT, 'test/fixtures/prompt-length');
const CLI = path.join(FIXTURE, 'cli.ts');
const POLICY = 'policy "p" {\n  default\n  prompt_length { max 40 }\n  audit { tag "t" }\n}\n';

describe('a plugin registered without editing a core file', () => {
  let up: FakeUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    up = await startFakeUpstream({ answer: 'fine' });
    gw = await startGateway(['--rules', rulesDir({ 'p.policy': POLICY }), '--upstream', up.baseUrl], { cli: CLI });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('is the only place its names appear: no file of the gateway (src, plugins, grammar, docs, README) mentions it', () => {
    const seen: string[] = [];
    const walk = (p: string): void => {
      if (statSync(p).isDirectory()) { for (const e of readdirSync(p)) walk(path.join(p, e)); return; }
      if (/prompt_length|promptlength|PROMPT_TOO_LONG|POL0700/.test(readFileSync(p, 'utf8'))) seen.push(path.relative(ROOT, p));
    };
    for (const p of ['src', 'plugins', 'grammar', 'docs', 'README.md', 'package.json']) walk(path.join(ROOT, p));
    expect(seen).toEqual([]);
    expect(readdirSync(FIXTURE).sort()).toEqual(['cli.ts', 'index.ts']);
  });

  it('check knows its block with it registered, and reports its own diagnostic code', async () => {
    const bad = rulesDir({ 'p.policy': 'policy "p" {\n  prompt_length { max "many" }\n}\n' });
    const withIt = await runCli(['check', bad], { cli: CLI });
    expect(withIt.code).toBe(1);
    expect(withIt.stdout + withIt.stderr).toContain('error[POL0700]: prompt_length takes "max N"');
    const without = await runCli(['check', bad]);
    expect(without.code).toBe(1);
    expect(without.stdout + without.stderr).toContain('error[POL0302]: unknown block "prompt_length"');
    expect((await runCli(['check', rulesDir({ 'p.policy': POLICY })], { cli: CLI })).code).toBe(0);
  });

  it('serves: a short prompt goes through, a long one is refused with its error, reason code, audit record and metric', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ok = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'short question' }] });
    expect(ok.choices[0]!.message.content).toBe('fine');
    const long = 'x'.repeat(41);
    const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: long }] }, { headers: { 'x-request-id': 'too-long-1' } })
      .then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(err?.status).toBe(400);
    expect(err?.code).toBe('prompt_too_long');
    expect(err?.message).toContain('the prompt is 41 characters long; this policy accepts at most 40');
    expect(up.received.some((r) => JSON.stringify(r.body).includes(long))).toBe(false);
    await expect.poll(() => gw.stdout().split('\n').some((l) => l.includes('request_id=too-long-1'))).toBe(true);
    const rec = parseLogfmt(gw.stdout().split('\n').find((l) => l.includes('request_id=too-long-1'))!);
    expect(rec).toMatchObject({ policy_id: 'p', decision: 'reject', reason_code: 'PROMPT_TOO_LONG', code: 'GW_ERR_PROMPT_TOO_LONG', status: '400', tags: 't' });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('# TYPE policy_gateway_prompt_length_rejections_total counter');
    expect(metrics).toContain('policy_gateway_prompt_length_rejections_total{policy_id="p"} 1');
  });

  it('its command-line help is the gateway\'s, with the commands plugins contribute (auth: keys)', async () => {
    const help = await runCli(['--help'], { cli: CLI });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/keys\s+policy-gateway keys create --label L --policy P/);
  });
});
