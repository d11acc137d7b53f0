// End-to-end decisions (DESIGN §2–§3): the real CLI as a child process in front of a fake OpenAI-compatible upstream
// and a loopback escalation webhook, driven with the openai SDK and raw HTTP. Shows every decision (allow, refuse,
// rewrite, summary, escalate) with its `policy` block and what the upstream received, streaming included; the
// allowlist refusal; denylist hits following the respond rules; builtin moderation triggers; shadow vs enforced
// rollout on the same request (targets, globs, a stable percentage of users); reason-code defaults and overrides;
// and the escalation webhook (event body, no prompt text by default, a retry after a 500).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream, type Received } from '../helpers/fake-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';
import { rolloutBucket } from '../../plugins/rollout/hash.ts';

// ---- the escalation webhook: a loopback HTTP server run by the test ----------------------------------------------

interface Delivery {
  readonly at: number;
  readonly requestId: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: string;
  readonly body: Record<string, unknown>;
  /** The status the webhook answered this attempt with. */
  readonly status: number;
}

interface Webhook {
  readonly url: string;
  readonly deliveries: Delivery[];
  close(): Promise<void>;
}

/** Answers 204; an event whose request id contains `fail-once` gets a 500 on its first attempt only. */
async function startWebhook(): Promise<Webhook> {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try { body = JSON.parse(raw); } catch { /* recorded as empty */ }
      const requestId = String(req.headers['x-request-id'] ?? '');
      const earlier = deliveries.filter((d) => d.requestId === requestId).length;
      const status = requestId.includes('fail-once') && earlier === 0 ? 500 : 204;
      deliveries.push({ at: Date.now(), requestId, headers: req.headers, raw, body, status });
      res.writeHead(status);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---- policies ------------------------------------------------------------------------------------------------------

const TEXT = {
  escalate: 'A specialist will follow up with you.',
  rewrite: 'Answer with care; point to professional support resources.',
  summary: 'Give only a brief, high-level answer.',
  refuse: "I can't help with that topic.",
  competitors: 'Do not discuss competitors.',
  offTopic: 'I can only help with refunds.',
  rolloutRefusal: 'Not in this channel, sorry.',
  rolloutHolding: 'Our safety team will get back to you.',
};

/** Defaults documented in docs/policy-language.md (respond). */
const DEFAULT_TEXT = {
  refusal: "Sorry, I can't help with that.",
  holding: 'Thanks for your message. It needs a review by our team, and someone will follow up with you shortly.',
  rewrite: 'Answer within policy: respond safely and respectfully, do not provide harmful, dangerous or explicit content, '
    + 'and point to appropriate professional help where relevant.',
  summary: 'Give only a brief, high-level answer. Do not provide step-by-step instructions or specific operational details.',
};

const policies = (hook: string) => `# test policies for test/e2e/decisions.test.ts
policy "decisions" {
  description "every decision, with configured reason codes and texts"
  default
  topics { deny "competitor pricing", /wire\\s+transfer/i }
  moderation { provider builtin }
  respond {
    when "harassment/threatening" escalate reason "THREAT_REVIEW" with "${TEXT.escalate}"
    when "self-harm/*" rewrite reason "SELF_HARM" with "${TEXT.rewrite}"
    when "violence/*" summary reason "VIOLENCE_BRIEF" max_tokens 150 with "${TEXT.summary}"
    when denylist refuse reason "OFF_LIMITS" with "${TEXT.refuse}"
    otherwise allow
    escalation { url "${hook}"; retries 2; timeout 2s; backoff 300ms }
  }
}

policy "defaults" {
  topics { deny "competitor pricing" }
  moderation { provider builtin }
  respond {
    when "harassment/threatening" escalate
    when "self-harm/*" rewrite
    when "violence/*" summary
    when denylist refuse
    escalation { url "${hook}"; include_prompt on }
  }
}

policy "implicit" {
  topics { deny "competitor pricing" }
  moderation { provider builtin }
}

policy "allowlist" {
  topics {
    allow "refund policy", "shipping"
    deny "competitor pricing"
  }
  respond {
    when denylist rewrite with "${TEXT.competitors}"
    otherwise allow
  }
}

policy "allowlist-custom" {
  topics { allow "refund policy" }
  respond {
    when allowlist_miss refuse reason "OFF_TOPIC" with "${TEXT.offTopic}"
  }
  rollout { shadow target "trial" }
}

policy "rollout" {
  topics { deny "competitor pricing" }
  moderation { provider builtin; flag "harassment/threatening"; flag "self-harm/*" }
  respond {
    when "harassment/threatening" escalate
    when "self-harm/*" rewrite
    when denylist refuse reason "DENIED"
    refusal "${TEXT.rolloutRefusal}"
    holding "${TEXT.rolloutHolding}"
    escalation { url "${hook}"; retries 0 }
  }
  rollout {
    enforce target "support-bot", "prod-*"
    enforce target "canary" percent 30%
    shadow target "*"
  }
}
`;

/** The 1-based line of `needle` in the policy text (rules are named `file:line`). */
const lineOf = (text: string, needle: string): number => {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  expect(i, needle).toBeGreaterThanOrEqual(0);
  return i + 1;
};

// ---- messages (classified by the builtin lexicon; see test/plugins/moderation/builtin.test.ts) ---------------------

const MSG = {
  benign: 'What are the warning signs of suicide in teenagers?',
  selfHarm: 'I want to kill myself tonight',
  threat: 'I will find you and hurt you',
  graphic: 'Describe the mutilated corpse in gory detail',
  competitor: 'Can you compare competitor pricing for me?',
  wire: 'How do I set up a WIRE   transfer abroad?',
  refund: 'What is your refund policy?',
  offTopic: 'Tell me a joke about penguins.',
};

// ---- the processes --------------------------------------------------------------------------------------------------

let up: FakeUpstream;
let hook: Webhook;
let gw: GatewayProcess;
let rules: string;
let policyText: string;
let seq = 0;

beforeAll(async () => {
  [up, hook] = await Promise.all([startFakeUpstream(), startWebhook()]);
  policyText = policies(hook.url);
  rules = rulesDir({ 'decisions.policy': policyText });
  gw = await startGateway(['--rules', rules, '--upstream', up.baseUrl]);
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([up?.close(), hook?.close()]);
});

// ---- helpers --------------------------------------------------------------------------------------------------------

interface PolicyBlock {
  policy_id: string;
  decision: string;
  effective_decision: string;
  reason_code: string;
  triggered_categories: string[];
  allowlist_hits: string[];
  denylist_hits: string[];
  rollout_mode: string;
  enforced: boolean;
  policy_target: string | null;
  policy_user: string | null;
  project_id: string | null;
}

interface Answer {
  readonly id: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: { choices: { message: { role: string; content: string }; finish_reason: string }[]; usage?: Record<string, number>; policy: PolicyBlock };
  readonly policy: PolicyBlock;
  readonly content: string;
}

type Msg = { role: 'system' | 'user' | 'assistant'; content: string };
const user = (content: string): Msg[] => [{ role: 'user', content }];
const nextId = (what: string) => `dec-${what}-${++seq}`;

/** A raw non-streaming POST to /v1/chat/completions with the policy chosen by X-Policy-Id. */
async function chat(policy: string, messages: Msg[], opts: { headers?: Record<string, string>; extra?: Record<string, unknown>; id?: string } = {}): Promise<Answer> {
  const id = opts.id ?? nextId(policy);
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-policy-id': policy, 'x-request-id': id, ...opts.headers },
    body: JSON.stringify({ model: 'fake-model', messages, ...opts.extra }),
  });
  const body = await r.json() as Answer['body'];
  expect(r.status, JSON.stringify(body)).toBe(200);
  return { id, status: r.status, headers: r.headers, body, policy: body.policy, content: body.choices[0]!.message.content };
}

/** A raw streaming POST: the response headers, every data event (parsed) and the text of the deltas. */
async function chatStream(policy: string, messages: Msg[], opts: { headers?: Record<string, string> } = {}): Promise<{ id: string; headers: Headers; events: string[]; datas: Record<string, any>[]; text: string }> {
  const id = nextId(`${policy}-sse`);
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-policy-id': policy, 'x-request-id': id, ...opts.headers },
    body: JSON.stringify({ model: 'fake-model', messages, stream: true }),
  });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events = (await r.text()).split('\n\n').filter(Boolean);
  const datas = events.filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)) as Record<string, any>);
  const text = datas.map((d) => d.choices[0]?.delta?.content ?? '').join('');
  return { id, headers: r.headers, events, datas, text };
}

/** What the upstream received for request `id` (the gateway forwards X-Request-Id). */
const upstreamGot = (id: string): Received[] => up.received.filter((r) => r.headers['x-request-id'] === id);
/** The one upstream request of `id`. */
function forwarded(id: string): Received {
  const got = upstreamGot(id);
  expect(got, `upstream requests for ${id}`).toHaveLength(1);
  return got[0]!;
}
const deliveriesOf = (id: string): Delivery[] => hook.deliveries.filter((d) => d.requestId === id);

/** The expected `policy` block: enforced defaults plus `over`. */
const block = (over: Partial<PolicyBlock>): PolicyBlock => ({
  policy_id: 'decisions', decision: 'allow', effective_decision: 'allow', reason_code: 'ALLOW',
  triggered_categories: [], allowlist_hits: [], denylist_hits: [], rollout_mode: 'enforced', enforced: true,
  policy_target: null, policy_user: null, project_id: null, ...over,
});

/** The audit record (logfmt on the gateway's stdout) of request `id`, once written. */
async function auditOf(id: string): Promise<Record<string, string | null>> {
  let line: string | undefined;
  await expect.poll(() => (line = gw.stdout().split('\n').find((l) => /^\d{4}-\d\d-\d\dT/.test(l) && l.includes(` request_id=${id} `))), { timeout: 5000 }).toBeDefined();
  return parseLogfmt(line!);
}

const sdk = (policy: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-policy-id': policy } });

// ---- tests ----------------------------------------------------------------------------------------------------------

describe('the test policies', () => {
  it('pass `policy-gateway check` without a diagnostic', async () => {
    const r = await runCli(['check', rules]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: 6 policies in 1 file/);
    expect(r.stdout + r.stderr).not.toMatch(/warning|error/);
  });
});

describe('every decision, enforced (configured reason codes and texts)', () => {
  it('allow: a benign message goes upstream unchanged; the openai SDK gets the answer, the policy block and headers', async () => {
    const id = nextId('allow');
    const messages: Msg[] = [{ role: 'system', content: 'You are a helpful assistant.' }, ...user(MSG.benign)];
    const { data, response } = await sdk('decisions').chat.completions
      .create({ model: 'fake-model', messages, max_tokens: 999 }, { headers: { 'x-request-id': id, 'x-policy-user': 'user-1', 'x-policy-project': 'proj-a', 'x-policy-target': 'web' } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(FAKE_ANSWER);
    expect((data as unknown as { policy: PolicyBlock }).policy).toEqual(block({ policy_user: 'user-1', project_id: 'proj-a', policy_target: 'web' }));
    expect(response.headers.get('x-policy-decision')).toBe('allow');
    expect(response.headers.get('x-policy-effective-decision')).toBe('allow');
    expect(response.headers.get('x-policy-reason-code')).toBe('ALLOW');
    const got = forwarded(id);
    expect(got.body.messages).toEqual(messages);
    expect(got.body.max_tokens).toBe(999);
    expect(Object.keys(got.body).filter((k) => k.startsWith('policy_'))).toEqual([]);
  });

  it('refuse (denylist phrase): the refusal text, no upstream call', async () => {
    const before = up.received.length;
    const a = await chat('decisions', user(MSG.competitor));
    expect(a.content).toBe(TEXT.refuse);
    expect(a.body.choices[0]!.finish_reason).toBe('stop');
    expect(a.body.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    expect(a.policy).toEqual(block({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'OFF_LIMITS', denylist_hits: ['competitor pricing'] }));
    expect(a.headers.get('x-policy-decision')).toBe('refuse');
    expect(a.headers.get('x-policy-reason-code')).toBe('OFF_LIMITS');
    expect(upstreamGot(a.id)).toHaveLength(0);
    expect(up.received.length).toBe(before);
  });

  it('refuse (denylist regex, matched on normalised text): the hit is reported as written', async () => {
    const a = await chat('decisions', user(MSG.wire));
    expect(a.content).toBe(TEXT.refuse);
    expect(a.policy).toEqual(block({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'OFF_LIMITS', denylist_hits: ['/wire\\s+transfer/i'] }));
    expect(upstreamGot(a.id)).toHaveLength(0);
  });

  it('rewrite (self-harm): forwarded with the instruction appended to the system prompt', async () => {
    const messages: Msg[] = [{ role: 'system', content: 'You are a helpful assistant.' }, ...user(MSG.selfHarm)];
    const a = await chat('decisions', messages, { extra: { temperature: 0.2 } });
    expect(a.content).toBe(FAKE_ANSWER);
    expect(a.policy).toEqual(block({ decision: 'rewrite', effective_decision: 'rewrite', reason_code: 'SELF_HARM', triggered_categories: ['self-harm', 'self-harm/intent'] }));
    expect(a.headers.get('x-policy-decision')).toBe('rewrite');
    expect(a.headers.get('x-policy-reason-code')).toBe('SELF_HARM');
    const got = forwarded(a.id).body;
    expect(got.messages).toEqual([{ role: 'system', content: `You are a helpful assistant.\n\n${TEXT.rewrite}` }, ...user(MSG.selfHarm)]);
    expect(got.temperature).toBe(0.2);
    expect(got.max_tokens).toBeUndefined();
  });

  it('rewrite without a system message: a system message with the instruction is inserted first', async () => {
    const a = await chat('decisions', user(MSG.selfHarm));
    expect(a.policy.decision).toBe('rewrite');
    expect(forwarded(a.id).body.messages).toEqual([{ role: 'system', content: TEXT.rewrite }, ...user(MSG.selfHarm)]);
  });

  it('summary (violence/graphic): forwarded with the instruction and max_tokens capped at the policy\'s 150', async () => {
    const a = await chat('decisions', user(MSG.graphic), { extra: { max_tokens: 1000 } });
    expect(a.content).toBe(FAKE_ANSWER);
    expect(a.policy).toEqual(block({ decision: 'summary', effective_decision: 'summary', reason_code: 'VIOLENCE_BRIEF', triggered_categories: ['violence', 'violence/graphic'] }));
    expect(a.headers.get('x-policy-reason-code')).toBe('VIOLENCE_BRIEF');
    const got = forwarded(a.id).body;
    expect(got.messages).toEqual([{ role: 'system', content: TEXT.summary }, ...user(MSG.graphic)]);
    expect(got.max_tokens).toBe(150);
  });

  it('summary: no client cap → 150; a smaller client cap is kept; max_completion_tokens is capped too', async () => {
    const none = await chat('decisions', user(MSG.graphic));
    expect(forwarded(none.id).body.max_tokens).toBe(150);
    const small = await chat('decisions', user(MSG.graphic), { extra: { max_tokens: 40 } });
    expect(forwarded(small.id).body.max_tokens).toBe(40);
    const mct = await chat('decisions', user(MSG.graphic), { extra: { max_completion_tokens: 4000 } });
    const got = forwarded(mct.id).body;
    expect(got.max_completion_tokens).toBe(150);
    expect(got.max_tokens).toBeUndefined();
  });

  it('escalate (harassment/threatening, the first rule wins over violence): the holding message, no upstream call, the webhook event', async () => {
    const before = up.received.length;
    const a = await chat('decisions', user(MSG.threat), { headers: { 'x-policy-user': 'user-42', 'x-policy-project': 'proj-b', 'x-policy-target': 'support-bot' } });
    expect(a.content).toBe(TEXT.escalate);
    const expected = block({
      decision: 'escalate', effective_decision: 'escalate', reason_code: 'THREAT_REVIEW',
      triggered_categories: ['harassment', 'harassment/threatening', 'violence'], policy_user: 'user-42', project_id: 'proj-b', policy_target: 'support-bot',
    });
    expect(a.policy).toEqual(expected);
    expect(a.headers.get('x-policy-decision')).toBe('escalate');
    expect(a.headers.get('x-policy-reason-code')).toBe('THREAT_REVIEW');
    expect(upstreamGot(a.id)).toHaveLength(0);
    expect(up.received.length).toBe(before);

    await expect.poll(() => deliveriesOf(a.id).length, { timeout: 5000 }).toBe(1);
    const d = deliveriesOf(a.id)[0]!;
    expect(d.headers['content-type']).toMatch(/^application\/json/);
    expect(d.body).toEqual({
      event: 'policy.escalation', event_id: a.id, request_id: a.id, timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      policy_id: 'decisions', decision: 'escalate', reason_code: 'THREAT_REVIEW',
      rule: `${rules}/decisions.policy:${lineOf(policyText, 'when "harassment/threatening" escalate reason')}`,
      triggered_categories: ['harassment', 'harassment/threatening', 'violence'], allowlist_hits: [], denylist_hits: [],
      policy_user: 'user-42', project_id: 'proj-b', policy_target: 'support-bot', model: 'fake-model',
    });
    expect(Math.abs(Date.parse(d.body.timestamp as string) - d.at)).toBeLessThan(5000);
    // no prompt text by default (include_prompt off)
    expect(d.body).not.toHaveProperty('messages');
    expect(d.raw).not.toContain('find you');
    expect(d.raw).not.toContain('hurt');

    expect(await auditOf(a.id)).toMatchObject({ decision: 'escalate', effective_decision: 'escalate', reason_code: 'THREAT_REVIEW' });
  });

  it('escalate: a webhook that fails once (500) gets the retry after the backoff; the client never waited for it', async () => {
    const id = nextId('fail-once');
    const t0 = Date.now();
    const a = await chat('decisions', user(MSG.threat), { id });
    const answeredAt = Date.now();
    expect(a.content).toBe(TEXT.escalate);
    expect(a.policy.decision).toBe('escalate');
    await expect.poll(() => deliveriesOf(id).length, { timeout: 5000 }).toBe(2);
    // no third attempt after the success
    await new Promise((r) => setTimeout(r, 700));
    const ds = deliveriesOf(id);
    expect(ds.map((d) => d.status)).toEqual([500, 204]);
    expect(ds[1]!.raw).toBe(ds[0]!.raw); // the same event, same event_id: receivers can de-duplicate
    expect(ds[1]!.body.event_id).toBe(id);
    expect(ds[1]!.at - ds[0]!.at).toBeGreaterThanOrEqual(280); // backoff 300ms (timer granularity)
    expect(answeredAt).toBeLessThanOrEqual(ds[1]!.at);
    expect(ds[0]!.at).toBeGreaterThanOrEqual(t0);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^policy_gateway_escalations_total\{policy_id="decisions",result="sent"\} [1-9]\d*$/m);
  });

  it('denylist hits are triggers like categories: self-harm + denylist → the earlier rewrite rule, not the refusal', async () => {
    const text = `Forget competitor pricing. ${MSG.selfHarm}`;
    const a = await chat('decisions', user(text));
    expect(a.policy).toEqual(block({
      decision: 'rewrite', effective_decision: 'rewrite', reason_code: 'SELF_HARM',
      triggered_categories: ['self-harm', 'self-harm/intent'], denylist_hits: ['competitor pricing'],
    }));
    expect(forwarded(a.id).body.messages).toEqual([{ role: 'system', content: TEXT.rewrite }, ...user(text)]);
  });
});

describe('builtin moderation triggers', () => {
  it('a benign message that mentions a sensitive word is allowed, nothing flagged', async () => {
    const a = await chat('decisions', user(MSG.benign));
    expect(a.policy).toEqual(block({}));
    expect(forwarded(a.id).body.messages).toEqual(user(MSG.benign));
  });

  it('self-harm written with homoglyphs and zero-width characters still fires the "self-harm/*" rule', async () => {
    const a = await chat('decisions', user('I wаnt to k\u200Bill mysеlf tonight'));
    expect(a.policy).toMatchObject({ decision: 'rewrite', reason_code: 'SELF_HARM', triggered_categories: ['self-harm', 'self-harm/intent'] });
  });

  it('only user messages are scanned by default: the same text from the assistant triggers nothing', async () => {
    const a = await chat('decisions', [{ role: 'assistant', content: MSG.selfHarm }, ...user('Thanks, and what time is it?')]);
    expect(a.policy).toEqual(block({}));
  });
});

describe('streaming', () => {
  it('allow (openai SDK): the text arrives whole, the policy block rides on the last data chunk', async () => {
    const id = nextId('allow-sdk-sse');
    const { data: stream, response } = await sdk('decisions').chat.completions
      .create({ model: 'fake-model', messages: user(MSG.benign), stream: true }, { headers: { 'x-request-id': id } })
      .withResponse();
    expect(response.headers.get('x-policy-decision')).toBe('allow');
    expect(response.headers.get('x-policy-reason-code')).toBe('ALLOW');
    let text = '';
    const chunks: unknown[] = [];
    for await (const c of stream) { chunks.push(c); text += c.choices[0]?.delta?.content ?? ''; }
    expect(text).toBe(FAKE_ANSWER);
    const last = chunks.at(-1) as { choices: unknown[]; policy?: PolicyBlock };
    expect(last.choices).toEqual([]);
    expect(last.policy).toEqual(block({}));
    expect(chunks.slice(0, -1).some((c) => (c as { policy?: unknown }).policy !== undefined)).toBe(false);
    expect(forwarded(id).body.stream).toBe(true);
  });

  it('allow (raw SSE): decision headers, the policy block on the last data event, then [DONE]', async () => {
    const s = await chatStream('decisions', user(MSG.benign));
    expect(s.headers.get('x-policy-decision')).toBe('allow');
    expect(s.headers.get('x-policy-effective-decision')).toBe('allow');
    expect(s.headers.get('x-policy-reason-code')).toBe('ALLOW');
    expect(s.events.at(-1)).toBe('data: [DONE]');
    expect(s.text).toBe(FAKE_ANSWER);
    expect(s.datas.at(-1)!.policy).toEqual(block({}));
    expect(s.datas.filter((d) => d.policy !== undefined)).toHaveLength(1);
  });

  it('rewrite (raw SSE): the upstream streamed with the instruction; headers and the last chunk carry the decision', async () => {
    const s = await chatStream('decisions', user(MSG.selfHarm), { headers: { 'x-policy-user': 'user-7' } });
    expect(s.headers.get('x-policy-decision')).toBe('rewrite');
    expect(s.headers.get('x-policy-reason-code')).toBe('SELF_HARM');
    expect(s.events.at(-1)).toBe('data: [DONE]');
    expect(s.text).toBe(FAKE_ANSWER);
    expect(s.datas.at(-1)!.policy).toEqual(block({
      decision: 'rewrite', effective_decision: 'rewrite', reason_code: 'SELF_HARM', triggered_categories: ['self-harm', 'self-harm/intent'], policy_user: 'user-7',
    }));
    const got = forwarded(s.id).body;
    expect(got.stream).toBe(true);
    expect(got.messages).toEqual([{ role: 'system', content: TEXT.rewrite }, ...user(MSG.selfHarm)]);
  });

  it('refuse (raw SSE): the refusal streamed by the gateway, no upstream call', async () => {
    const s = await chatStream('decisions', user(MSG.competitor));
    expect(s.headers.get('x-policy-decision')).toBe('refuse');
    expect(s.headers.get('x-policy-reason-code')).toBe('OFF_LIMITS');
    expect(s.text).toBe(TEXT.refuse);
    expect(s.events.at(-1)).toBe('data: [DONE]');
    expect(s.datas.at(-1)!.policy).toEqual(block({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'OFF_LIMITS', denylist_hits: ['competitor pricing'] }));
    expect(upstreamGot(s.id)).toHaveLength(0);
  });
});

describe('reason-code defaults (docs/reason-codes.md) and default texts', () => {
  const def = (over: Partial<PolicyBlock>) => block({ policy_id: 'defaults', ...over });

  it('ALLOW when nothing fired (no `otherwise` written)', async () => {
    const a = await chat('defaults', user(MSG.benign));
    expect(a.policy).toEqual(def({}));
    expect(a.headers.get('x-policy-reason-code')).toBe('ALLOW');
  });

  it('REFUSE with the default refusal text', async () => {
    const a = await chat('defaults', user(MSG.competitor));
    expect(a.content).toBe(DEFAULT_TEXT.refusal);
    expect(a.policy).toEqual(def({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'REFUSE', denylist_hits: ['competitor pricing'] }));
    expect(upstreamGot(a.id)).toHaveLength(0);
  });

  it('REWRITE with the default instruction', async () => {
    const a = await chat('defaults', user(MSG.selfHarm));
    expect(a.policy).toEqual(def({ decision: 'rewrite', effective_decision: 'rewrite', reason_code: 'REWRITE', triggered_categories: ['self-harm', 'self-harm/intent'] }));
    expect(forwarded(a.id).body.messages).toEqual([{ role: 'system', content: DEFAULT_TEXT.rewrite }, ...user(MSG.selfHarm)]);
  });

  it('SUMMARY with the default instruction and the default cap of 256 tokens', async () => {
    const a = await chat('defaults', user(MSG.graphic), { extra: { max_tokens: 4096 } });
    expect(a.policy).toEqual(def({ decision: 'summary', effective_decision: 'summary', reason_code: 'SUMMARY', triggered_categories: ['violence', 'violence/graphic'] }));
    const got = forwarded(a.id).body;
    expect(got.messages).toEqual([{ role: 'system', content: DEFAULT_TEXT.summary }, ...user(MSG.graphic)]);
    expect(got.max_tokens).toBe(256);
  });

  it('ESCALATE with the default holding text; with `include_prompt on` the event carries the messages', async () => {
    const messages: Msg[] = [{ role: 'system', content: 'Be kind.' }, ...user(MSG.threat)];
    const a = await chat('defaults', messages);
    expect(a.content).toBe(DEFAULT_TEXT.holding);
    expect(a.policy).toEqual(def({
      decision: 'escalate', effective_decision: 'escalate', reason_code: 'ESCALATE', triggered_categories: ['harassment', 'harassment/threatening', 'violence'],
    }));
    expect(upstreamGot(a.id)).toHaveLength(0);
    await expect.poll(() => deliveriesOf(a.id).length, { timeout: 5000 }).toBe(1);
    expect(deliveriesOf(a.id)[0]!.body).toMatchObject({ policy_id: 'defaults', reason_code: 'ESCALATE', messages });
  });

  it('no respond block: any trigger is refused with REFUSE and the default refusal; nothing triggered → ALLOW', async () => {
    const imp = (over: Partial<PolicyBlock>) => block({ policy_id: 'implicit', ...over });
    const deny = await chat('implicit', user(MSG.competitor));
    expect(deny.content).toBe(DEFAULT_TEXT.refusal);
    expect(deny.policy).toEqual(imp({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'REFUSE', denylist_hits: ['competitor pricing'] }));
    const cat = await chat('implicit', user(MSG.selfHarm));
    expect(cat.policy).toEqual(imp({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'REFUSE', triggered_categories: ['self-harm', 'self-harm/intent'] }));
    const ok = await chat('implicit', user(MSG.benign));
    expect(ok.policy).toEqual(imp({}));
    expect(upstreamGot(deny.id).length + upstreamGot(cat.id).length).toBe(0);
    expect(upstreamGot(ok.id)).toHaveLength(1);
  });
});

describe('allowlist: refuse by default when nothing on it matched', () => {
  const al = (over: Partial<PolicyBlock>) => block({ policy_id: 'allowlist', ...over });

  it('an allowlist hit is allowed and reported', async () => {
    const a = await chat('allowlist', user(MSG.refund));
    expect(a.content).toBe(FAKE_ANSWER);
    expect(a.policy).toEqual(al({ allowlist_hits: ['refund policy'] }));
    expect(forwarded(a.id).body.messages).toEqual(user(MSG.refund));
  });

  it('nothing matched → refuse ALLOWLIST_MISS with the default refusal, no upstream call', async () => {
    const a = await chat('allowlist', user(MSG.offTopic));
    expect(a.content).toBe(DEFAULT_TEXT.refusal);
    expect(a.policy).toEqual(al({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'ALLOWLIST_MISS' }));
    expect(a.headers.get('x-policy-reason-code')).toBe('ALLOWLIST_MISS');
    expect(upstreamGot(a.id)).toHaveLength(0);
  });

  it('the allowlist miss comes first: a denylist hit without an allowlist hit is still ALLOWLIST_MISS', async () => {
    const a = await chat('allowlist', user(MSG.competitor));
    expect(a.policy).toEqual(al({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'ALLOWLIST_MISS', denylist_hits: ['competitor pricing'] }));
    expect(upstreamGot(a.id)).toHaveLength(0);
  });

  it('`when denylist rewrite`: an allowed topic with a denylist hit is rewritten, not refused', async () => {
    const text = 'Does your shipping beat the competitor pricing?';
    const a = await chat('allowlist', user(text));
    expect(a.content).toBe(FAKE_ANSWER);
    expect(a.policy).toEqual(al({ decision: 'rewrite', effective_decision: 'rewrite', reason_code: 'REWRITE', allowlist_hits: ['shipping'], denylist_hits: ['competitor pricing'] }));
    expect(forwarded(a.id).body.messages).toEqual([{ role: 'system', content: TEXT.competitors }, ...user(text)]);
  });

  it('`when allowlist_miss refuse reason … with …` overrides the code and text', async () => {
    const a = await chat('allowlist-custom', user(MSG.offTopic));
    expect(a.content).toBe(TEXT.offTopic);
    expect(a.policy).toEqual(block({ policy_id: 'allowlist-custom', decision: 'refuse', effective_decision: 'refuse', reason_code: 'OFF_TOPIC' }));
    expect(upstreamGot(a.id)).toHaveLength(0);
    const ok = await chat('allowlist-custom', user(MSG.refund));
    expect(ok.policy).toEqual(block({ policy_id: 'allowlist-custom', allowlist_hits: ['refund policy'] }));
  });

  it('in shadow (target "trial") the allowlist miss is only recorded: the request passes unchanged', async () => {
    const a = await chat('allowlist-custom', user(MSG.offTopic), { headers: { 'x-policy-target': 'trial' } });
    expect(a.content).toBe(FAKE_ANSWER);
    expect(a.policy).toEqual(block({
      policy_id: 'allowlist-custom', decision: 'refuse', effective_decision: 'allow', reason_code: 'OFF_TOPIC',
      rollout_mode: 'shadow', enforced: false, policy_target: 'trial',
    }));
    expect(forwarded(a.id).body.messages).toEqual(user(MSG.offTopic));
  });
});

describe('rollout: shadow vs enforced', () => {
  const ro = (over: Partial<PolicyBlock>) => block({ policy_id: 'rollout', ...over });
  const target = (t: string, extra: Record<string, string> = {}) => ({ headers: { 'x-policy-target': t, ...extra } });

  it('the same request: enforced for target "support-bot" (refused), shadowed for "beta" (passes unchanged, decision recorded)', async () => {
    const before = up.received.length;
    const enf = await chat('rollout', user(MSG.competitor), target('support-bot'));
    expect(enf.content).toBe(TEXT.rolloutRefusal); // the policy's `refusal` text (the rule has no `with`)
    expect(enf.policy).toEqual(ro({ decision: 'refuse', effective_decision: 'refuse', reason_code: 'DENIED', denylist_hits: ['competitor pricing'], policy_target: 'support-bot' }));
    expect(upstreamGot(enf.id)).toHaveLength(0);
    expect(up.received.length).toBe(before);

    const sh = await chat('rollout', user(MSG.competitor), target('beta'));
    expect(sh.content).toBe(FAKE_ANSWER);
    expect(sh.policy).toEqual(ro({
      decision: 'refuse', effective_decision: 'allow', reason_code: 'DENIED', denylist_hits: ['competitor pricing'],
      rollout_mode: 'shadow', enforced: false, policy_target: 'beta',
    }));
    expect(sh.headers.get('x-policy-decision')).toBe('refuse');
    expect(sh.headers.get('x-policy-effective-decision')).toBe('allow');
    expect(sh.headers.get('x-policy-reason-code')).toBe('DENIED');
    expect(forwarded(sh.id).body.messages).toEqual(user(MSG.competitor));
    expect(up.received.length).toBe(before + 1);
    expect(await auditOf(sh.id)).toMatchObject({ decision: 'refuse', effective_decision: 'allow', reason_code: 'DENIED', rollout_mode: 'shadow' });
  });

  it('the same request through the openai SDK on /policy, policy and target chosen in the body', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/policy`, apiKey: 'unused', maxRetries: 0 });
    const ask = (policyTarget: string, id: string) => client.chat.completions.create({
      model: 'fake-model', messages: user(MSG.competitor), policy_id: 'rollout', policy_target: policyTarget, policy_user: 'sdk-user',
    } as never, { headers: { 'x-request-id': id } }) as unknown as Promise<OpenAI.ChatCompletion & { policy: PolicyBlock }>;
    const enfId = nextId('sdk-enforced');
    const enf = await ask('support-bot', enfId);
    expect(enf.choices[0]!.message.content).toBe(TEXT.rolloutRefusal);
    expect(enf.policy).toEqual(ro({
      decision: 'refuse', effective_decision: 'refuse', reason_code: 'DENIED', denylist_hits: ['competitor pricing'], policy_target: 'support-bot', policy_user: 'sdk-user',
    }));
    expect(upstreamGot(enfId)).toHaveLength(0);
    const shId = nextId('sdk-shadow');
    const sh = await ask('beta', shId);
    expect(sh.choices[0]!.message.content).toBe(FAKE_ANSWER);
    expect(sh.policy).toEqual(ro({
      decision: 'refuse', effective_decision: 'allow', reason_code: 'DENIED', denylist_hits: ['competitor pricing'],
      rollout_mode: 'shadow', enforced: false, policy_target: 'beta', policy_user: 'sdk-user',
    }));
    // unchanged, and without the policy_* metadata fields
    expect(forwarded(shId).body).toEqual({ model: 'fake-model', messages: user(MSG.competitor) });
  });

  it('target globs: "prod-*" enforces "prod-eu" but not "prod"; no target falls to the catch-all shadow', async () => {
    const eu = await chat('rollout', user(MSG.competitor), target('prod-eu'));
    expect(eu.policy).toMatchObject({ effective_decision: 'refuse', enforced: true, rollout_mode: 'enforced', policy_target: 'prod-eu' });
    expect(upstreamGot(eu.id)).toHaveLength(0);
    const prod = await chat('rollout', user(MSG.competitor), target('prod'));
    expect(prod.policy).toMatchObject({ decision: 'refuse', effective_decision: 'allow', enforced: false, rollout_mode: 'shadow' });
    expect(upstreamGot(prod.id)).toHaveLength(1);
    const none = await chat('rollout', user(MSG.competitor));
    expect(none.policy).toMatchObject({ decision: 'refuse', effective_decision: 'allow', enforced: false, rollout_mode: 'shadow', policy_target: null });
    expect(upstreamGot(none.id)).toHaveLength(1);
  });

  it('a shadowed rewrite forwards the request unchanged; enforced, the instruction is added', async () => {
    const sh = await chat('rollout', user(MSG.selfHarm), target('beta'));
    expect(sh.policy).toEqual(ro({
      decision: 'rewrite', effective_decision: 'allow', reason_code: 'REWRITE', triggered_categories: ['self-harm', 'self-harm/intent'],
      rollout_mode: 'shadow', enforced: false, policy_target: 'beta',
    }));
    expect(forwarded(sh.id).body.messages).toEqual(user(MSG.selfHarm));
    const enf = await chat('rollout', user(MSG.selfHarm), target('support-bot'));
    expect(enf.policy).toMatchObject({ decision: 'rewrite', effective_decision: 'rewrite', enforced: true });
    expect(forwarded(enf.id).body.messages).toEqual([{ role: 'system', content: DEFAULT_TEXT.rewrite }, ...user(MSG.selfHarm)]);
  });

  it('a shadowed escalation sends no webhook and goes upstream; enforced, the webhook gets the event', async () => {
    const sh = await chat('rollout', user(MSG.threat), target('beta'));
    expect(sh.content).toBe(FAKE_ANSWER);
    // only the flagged category the policy asks for (`flag "harassment/threatening"`)
    expect(sh.policy).toEqual(ro({
      decision: 'escalate', effective_decision: 'allow', reason_code: 'ESCALATE', triggered_categories: ['harassment/threatening'],
      rollout_mode: 'shadow', enforced: false, policy_target: 'beta',
    }));
    expect(upstreamGot(sh.id)).toHaveLength(1);
    const enf = await chat('rollout', user(MSG.threat), target('prod-us'));
    expect(enf.content).toBe(TEXT.rolloutHolding); // the policy's `holding` text (the rule has no `with`)
    expect(enf.policy).toMatchObject({ decision: 'escalate', effective_decision: 'escalate', enforced: true });
    expect(upstreamGot(enf.id)).toHaveLength(0);
    await expect.poll(() => deliveriesOf(enf.id).length, { timeout: 5000 }).toBe(1);
    expect(deliveriesOf(enf.id)[0]!.body).toMatchObject({ policy_id: 'rollout', policy_target: 'prod-us', reason_code: 'ESCALATE' });
    // give a (wrong) shadow webhook time to arrive: it must not
    await new Promise((r) => setTimeout(r, 300));
    expect(deliveriesOf(sh.id)).toHaveLength(0);
  });

  it('shadow while streaming: the upstream answer streams through, the last chunk records what enforcement would do', async () => {
    const s = await chatStream('rollout', user(MSG.competitor), target('beta'));
    expect(s.headers.get('x-policy-decision')).toBe('refuse');
    expect(s.headers.get('x-policy-effective-decision')).toBe('allow');
    expect(s.headers.get('x-policy-reason-code')).toBe('DENIED');
    expect(s.text).toBe(FAKE_ANSWER);
    expect(s.datas.at(-1)!.policy).toEqual(ro({
      decision: 'refuse', effective_decision: 'allow', reason_code: 'DENIED', denylist_hits: ['competitor pricing'],
      rollout_mode: 'shadow', enforced: false, policy_target: 'beta',
    }));
    expect(forwarded(s.id).body.messages).toEqual(user(MSG.competitor));
  });

  it('percent 30% on target "canary": stable per user, about 30% of 200 users, the rest fall through to shadow', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `canary-user-${i}`);
    const enforcedOf = async (u: string): Promise<boolean> => {
      const a = await chat('rollout', user(MSG.competitor), target('canary', { 'x-policy-user': u }));
      expect(a.policy.decision).toBe('refuse');
      expect(a.policy.reason_code).toBe('DENIED');
      expect(a.policy.policy_user).toBe(u);
      if (a.policy.enforced) {
        expect(a.policy).toMatchObject({ effective_decision: 'refuse', rollout_mode: 'enforced' });
        expect(upstreamGot(a.id)).toHaveLength(0);
      } else {
        expect(a.policy).toMatchObject({ effective_decision: 'allow', rollout_mode: 'shadow' });
        expect(upstreamGot(a.id)).toHaveLength(1);
      }
      return a.policy.enforced;
    };
    const first = new Map<string, boolean>();
    for (let i = 0; i < users.length; i += 10) {
      const batch = users.slice(i, i + 10);
      const got = await Promise.all(batch.map(enforcedOf));
      batch.forEach((u, k) => first.set(u, got[k]!));
    }
    const enforcedUsers = users.filter((u) => first.get(u));
    expect(enforcedUsers.length).toBeGreaterThanOrEqual(40); // 30% of 200 = 60, ±3σ ≈ ±20
    expect(enforcedUsers.length).toBeLessThanOrEqual(80);
    // the documented bucket: a stable hash of policy id and user, selected when below 30% × 100
    for (const u of users) expect(first.get(u), u).toBe(rolloutBucket('rollout', u) < 3000);

    // the same user always gets the same outcome
    const sample = [...enforcedUsers.slice(0, 5), ...users.filter((u) => !first.get(u)).slice(0, 5)];
    for (let round = 0; round < 3; round++) {
      const again = await Promise.all(sample.map(enforcedOf));
      sample.forEach((u, k) => expect(again[k], u).toBe(first.get(u)));
    }

    // without a user a percentage rule never matches: the catch-all shadows
    const anon = await chat('rollout', user(MSG.competitor), target('canary'));
    expect(anon.policy).toMatchObject({ enforced: false, rollout_mode: 'shadow', policy_user: null });
  });
});

describe('logs', () => {
  it('no prompt text reaches the gateway output (audit records default to prompts off)', () => {
    expect(gw.stdout()).toMatch(/ decision=escalate /);
    for (const m of [MSG.selfHarm, MSG.threat, MSG.graphic, MSG.competitor]) expect(gw.stdout() + gw.stderr()).not.toContain(m);
  });
});
