// What goes upstream through the full plugin chain: the client's own bytes with the policy_* members spliced out
// when every hook declared what it does with the body and none changed it; re-serialised, exactly as the policy saw
// it, when a hook changed it (request redaction, a rewrite) or the body repeats a key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

const POLICY = `policy "full" {
  default
  quota { user 1000 requests per minute }
  topics { deny "competitor pricing" }
  moderation { provider builtin; flag "self-harm/*" }
  respond { when "self-harm/*" rewrite; when denylist refuse; otherwise allow }
  redact both { email }
  audit { tag "t" }
}
`;

let up: FakeUpstream;
let gw: GatewayProcess;
beforeAll(async () => {
  up = await startFakeUpstream({ answer: 'ok' });
  gw = await startGateway(['--rules', rulesDir({ 'full.policy': POLICY }), '--upstream', up.baseUrl, '--audit', 'off']);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

async function send(raw: string): Promise<string> {
  const before = up.received.length;
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
  expect(r.status).toBe(200);
  await r.arrayBuffer();
  expect(up.received.length).toBe(before + 1);
  return up.received.at(-1)!.raw;
}

describe('the upstream body through the full chain', () => {
  it('an unchanged body goes as the client sent it, policy_* members spliced out, whitespace and order kept', async () => {
    const raw = '{ "model" : "fake-model",\n  "policy_user":"u1", "messages" : [ {"role":"user","content":"Summarize our refund policy."} ], "temperature": 0.50 }';
    expect(await send(raw)).toBe('{"model" : "fake-model","messages" : [ {"role":"user","content":"Summarize our refund policy."} ],"temperature": 0.50}');
  });

  it('a stream gets the gateway\'s stream_options added to the client\'s bytes', async () => {
    const raw = '{"model":"fake-model", "stream":true, "messages":[{"role":"user","content":"Hello"}]}';
    expect(await send(raw)).toBe('{"model":"fake-model","stream":true,"messages":[{"role":"user","content":"Hello"}],"stream_options":{"include_usage":true}}');
  });

  it('a body the request redaction changed is re-serialised as redacted', async () => {
    const raw = '{ "model":"fake-model", "messages":[{"role":"user","content":"mail me at bob@example.com"}] }';
    expect(await send(raw)).toBe('{"model":"fake-model","messages":[{"role":"user","content":"mail me at [EMAIL]"}]}');
  });

  it('a rewritten request is re-serialised with the policy\'s instruction', async () => {
    const sent = JSON.parse(await send('{ "model":"fake-model", "messages":[{"role":"user","content":"I want to kill myself"}] }')) as { messages: { role: string }[] };
    expect(sent.messages.length).toBe(2);
  });

  it('a body that repeats a key is re-serialised: the upstream sees only what the policy saw', async () => {
    const raw = '{"model":"fake-model","messages":[{"role":"user","content":"What is the competitor pricing?"}],"messages":[{"role":"user","content":"Hello"}]}';
    expect(await send(raw)).toBe('{"model":"fake-model","messages":[{"role":"user","content":"Hello"}]}');
  });
});
