// End-to-end conformance with OpenAI's published schemas (issue 18): the real CLI in front of the every-endpoint fake
// upstream; every object the gateway writes — for chat completions, the Responses API, legacy completions and
// embeddings: its own refuse / escalate / allowlist-miss answers (JSON and streamed), passed-through and redacted
// answers with the policy block, every error it can be made to write, /v1/models — is validated against the spec, and
// so is every body it forwards upstream.
// Known violations of today's gateway are asserted exactly (KNOWN_VIOLATIONS), so this passes now and fails, asking
// for the entry to be removed, the moment the gateway is fixed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FAKE_ANSWER, startOpenAIUpstream, type OpenAIUpstream } from '../helpers/openai-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { validateOpenAI, type OpenAISchemaName } from '../helpers/openai-schema.ts';
import { parseSseText } from '../helpers/sse-text.ts';

/**
 * Where the gateway breaks the spec, by case name: the exact problems it shows. Each must still be seen exactly; once
 * the gateway is fixed the case reports no problem, the assertion fails, and its entry must go. Empty since issue 18
 * fixed the chat completions the gateway writes (logprobs and refusal on its own answers, `n` choices on a refusal,
 * the policy block on the usage chunk); a violation found later is listed here with its exact problems until fixed.
 */
export const KNOWN_VIOLATIONS: Readonly<Record<string, readonly string[]>> = {};

// ---- processes --------------------------------------------------------------------------------------------------

const TEXT = { refuse: 'I cannot discuss that.', holding: 'A specialist will follow up.', offTopic: 'Only refunds here.' };
const MSG = { benign: 'What is the capital of France?', denied: 'Compare competitor pricing for me', threat: 'I will find you and hurt you', selfHarm: 'I want to kill myself tonight', graphic: 'Describe the mutilated corpse in gory detail', refund: 'What is your refund policy?' };

const policies = (hook: string, keys: string) => `# conformance test policies
policy "conf" {
  default
  topics { deny "competitor pricing" }
  moderation { provider builtin }
  respond {
    when "harassment/threatening" escalate with "${TEXT.holding}"
    when "self-harm/*" rewrite
    when "violence/*" summary
    when denylist refuse with "${TEXT.refuse}"
    otherwise allow
    escalation { url "${hook}"; retries 0 }
  }
}
policy "allow-only" {
  topics { allow "refund policy" }
  respond { when allowlist_miss refuse with "${TEXT.offTopic}" }
}
policy "redact" {
  redact response { email }
}
policy "locked" {
  auth { keys ${JSON.stringify(keys)} }
}
policy "locked-other" {
  auth { keys ${JSON.stringify(keys)} }
}
policy "limited" {
  quota { user 1 requests per day }
}
policy "chat-only" {
  routes chat
}
policy "stateless" {
  stateless
}
`;

let up: OpenAIUpstream;
let gw: GatewayProcess;
let hook: http.Server;
let key: string;
let seq = 0;

beforeAll(async () => {
  hook = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(204); res.end(); }); });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const keysDir = mkdtempSync(path.join(tmpdir(), 'pgw-conf-keys-')); // outside the rules: allowed with --allow-path
  const keys = path.join(keysDir, 'conf.keys');
  const made = await runCli(['keys', 'create', '--label', 'conf', '--policy', 'locked', '--file', keys]);
  expect(made.code, made.stderr).toBe(0);
  key = made.stdout.trim();
  up = await startOpenAIUpstream({ slowMs: 3000 });
  const rules = rulesDir({ 'conf.policy': policies(`http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, keys) });
  // Routed by model: the fake's special models, an unreachable upstream, and nothing for `unrouted-*`.
  const routes = ['fake-*', 'fail-*', 'not-json', 'slow*', 'split-sse'].flatMap((g) => ['--upstream', `${g}=${up.baseUrl}`]);
  gw = await startGateway(['--rules', rules, '--allow-path', keysDir, ...routes, '--upstream', `dead-*=http://127.0.0.1:${deadPort}/v1`,
    '--upstream-timeout', '1500ms', '--connect-timeout', '1s', '--body-limit', '64kb']);
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
});

// ---- helpers ----------------------------------------------------------------------------------------------------

type Body = Record<string, unknown>;
const user = (content: string) => [{ role: 'user', content }];

async function post(body: Body | string, headers: Record<string, string> = {}, route = '/v1/chat/completions'): Promise<Response> {
  return fetch(`${gw.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': `conf-${++seq}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The data events of an SSE body: JSON chunks and whether `[DONE]` ended it. */
function chunksOf(text: string): { chunks: Record<string, any>[]; done: boolean } {
  const messages = parseSseText(text);
  const done = messages.at(-1)?.data === '[DONE]';
  return { chunks: messages.filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as Record<string, any>), done };
}

/** Schema errors of `value`, prefixed with `what` when there are several values. */
const schemaProblems = (schema: OpenAISchemaName, value: unknown, what = ''): string[] =>
  validateOpenAI(schema, value).errors.map((e) => (what ? `${what}: ${e}` : e));

/** Problems of a JSON chat completion answering `req`: schema errors, and a choice count other than `n`. */
function completionProblems(req: Body, body: Record<string, any>): string[] {
  const out = schemaProblems('CreateChatCompletionResponse', body);
  const n = typeof req.n === 'number' ? req.n : 1;
  if (!Array.isArray(body.choices) || body.choices.length !== n) out.push(`the answer has ${body.choices?.length} choice(s), the request asked for n = ${n}`);
  return out;
}

/**
 * Problems of a streamed chat completion answering `req`: each chunk's schema errors; `[DONE]` last; the policy block
 * on exactly one chunk; with include_usage, the usage chunk last (and carrying no choices); every index 0..n-1 seen.
 */
function streamProblems(req: Body, text: string): string[] {
  const { chunks, done } = chunksOf(text);
  const out = chunks.flatMap((c, i) => schemaProblems('CreateChatCompletionStreamResponse', c, `chunk ${i}`));
  if (!done) out.push('the stream does not end with [DONE]');
  const withPolicy = chunks.filter((c) => c.policy !== undefined).length;
  if (withPolicy !== 1) out.push(`${withPolicy} chunks carry the policy block`);
  const wantsUsage = (req.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const usageAt = chunks.findIndex((c) => c.usage);
  if (wantsUsage) {
    if (usageAt < 0) out.push('no usage chunk although include_usage was asked for');
    else if (usageAt !== chunks.length - 1) out.push(`the usage chunk is followed by ${chunks.length - 1 - usageAt} more chunk(s) before [DONE]`);
  } else if (usageAt >= 0) out.push('a usage chunk although include_usage was not asked for');
  const n = typeof req.n === 'number' ? req.n : 1;
  const indexes = [...new Set(chunks.flatMap((c) => (c.choices as { index: number }[]).map((x) => x.index)))].sort();
  if (indexes.length !== n) out.push(`the stream has choice indexes [${indexes.join(', ')}], the request asked for n = ${n}`);
  return out;
}

/** Asserts a case shows exactly its known violations (none when it is not listed). */
function expectConforms(name: string, problems: string[]): void {
  const known = KNOWN_VIOLATIONS[name];
  if (known === undefined) expect(problems, `${name} must conform to the OpenAI spec`).toEqual([]);
  else expect(problems, `${name}: known violations (remove the entry from KNOWN_VIOLATIONS once fixed)`).toEqual([...known]);
}

// ---- answers the gateway writes ---------------------------------------------------------------------------------

interface AnswerCase { readonly name: string; readonly policy: string; readonly req: Body; readonly decision: string }
const base = (content: string, extra: Body = {}): Body => ({ model: 'fake-model', messages: user(content), ...extra });

const JSON_CASES: AnswerCase[] = [
  { name: 'refuse, JSON', policy: 'conf', req: base(MSG.denied), decision: 'refuse' },
  { name: 'escalate, JSON', policy: 'conf', req: base(MSG.threat), decision: 'escalate' },
  { name: 'allowlist miss, JSON', policy: 'allow-only', req: base(MSG.benign), decision: 'refuse' },
  { name: 'refuse with n = 2, JSON', policy: 'conf', req: base(MSG.denied, { n: 2 }), decision: 'refuse' },
  { name: 'allowlist miss with n = 3, JSON', policy: 'allow-only', req: base(MSG.benign, { n: 3 }), decision: 'refuse' },
  { name: 'allow (upstream answer spliced with the policy block), JSON', policy: 'conf', req: base(MSG.benign), decision: 'allow' },
  { name: 'allow with n = 2, JSON', policy: 'conf', req: base(MSG.benign, { n: 2 }), decision: 'allow' },
  { name: 'rewrite, JSON', policy: 'conf', req: base(MSG.selfHarm), decision: 'rewrite' },
  { name: 'summary, JSON', policy: 'conf', req: base(MSG.graphic), decision: 'summary' },
  { name: 'redacted (re-serialised), JSON', policy: 'redact', req: base(MSG.benign), decision: 'allow' },
];

const STREAM_CASES: AnswerCase[] = [
  { name: 'refuse, streamed', policy: 'conf', req: base(MSG.denied, { stream: true }), decision: 'refuse' },
  { name: 'refuse, streamed with include_usage', policy: 'conf', req: base(MSG.denied, { stream: true, stream_options: { include_usage: true } }), decision: 'refuse' },
  { name: 'escalate, streamed', policy: 'conf', req: base(MSG.threat, { stream: true }), decision: 'escalate' },
  { name: 'allowlist miss, streamed', policy: 'allow-only', req: base(MSG.benign, { stream: true }), decision: 'refuse' },
  { name: 'refuse with n = 2, streamed', policy: 'conf', req: base(MSG.denied, { stream: true, n: 2 }), decision: 'refuse' },
  { name: 'allow, streamed', policy: 'conf', req: base(MSG.benign, { stream: true }), decision: 'allow' },
  { name: 'allow, streamed with include_usage', policy: 'conf', req: base(MSG.benign, { stream: true, stream_options: { include_usage: true } }), decision: 'allow' },
  { name: 'allow, split SSE upstream', policy: 'conf', req: { ...base(MSG.benign, { stream: true }), model: 'split-sse' }, decision: 'allow' },
  { name: 'redacted, streamed', policy: 'redact', req: base(MSG.benign, { stream: true }), decision: 'allow' },
  { name: 'redacted, streamed with include_usage', policy: 'redact', req: base(MSG.benign, { stream: true, stream_options: { include_usage: true } }), decision: 'allow' },
  { name: 'escalate with n = 3, streamed with include_usage', policy: 'conf', req: base(MSG.threat, { stream: true, n: 3, stream_options: { include_usage: true } }), decision: 'escalate' },
];

describe('chat completions the gateway writes', () => {
  it.each(JSON_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy });
    const body = await r.json() as Record<string, any>;
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.policy.decision).toBe(decision);
    expectConforms(name, completionProblems(req, body));
  });

  it.each(STREAM_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await r.text();
    expect(chunksOf(text).chunks.find((c) => c.policy)?.policy.decision).toBe(decision);
    expectConforms(name, streamProblems(req, text));
  });

  it('every known violation names a case that exists here', () => {
    const names = new Set([...JSON_CASES, ...STREAM_CASES, ...RESPONSE_CASES, ...RESPONSE_STREAM_CASES, ...TEXT_CASES, ...TEXT_STREAM_CASES].map((c) => c.name));
    for (const k of Object.keys(KNOWN_VIOLATIONS)) expect(names, k).toContain(k);
  });

  it('the redacted answers really were rewritten (so the re-serialised path was the one checked)', async () => {
    const body = await (await post(base(MSG.benign), { 'x-policy-id': 'redact' })).json() as Record<string, any>;
    expect(body.choices[0].message.content).toBe(FAKE_ANSWER.replace('alice@example.com', '[EMAIL]'));
  });
});

// ---- the other endpoints ------------------------------------------------------------------------------------------

/** Problems of a streamed Response: each event's schema errors, numbering, the terminal event last with the policy block. */
function responseStreamProblems(text: string): string[] {
  const messages = parseSseText(text);
  const events = messages.map((m) => JSON.parse(m.data) as Record<string, any>);
  const out = events.flatMap((e, i) => schemaProblems('ResponseStreamEvent', e, `event ${i} (${String(e.type)})`));
  messages.forEach((m, i) => { if (m.event !== events[i]!.type) out.push(`event ${i}: the SSE event name ${JSON.stringify(m.event)} is not its type ${events[i]!.type}`); });
  if (events[0]?.type !== 'response.created') out.push(`the stream starts with ${events[0]?.type}, not response.created`);
  const numbers = events.map((e) => e.sequence_number);
  if (numbers.some((n, i) => n !== i)) out.push(`sequence numbers ${numbers.join(',')} are not 0…${events.length - 1}`);
  const last = events.at(-1);
  if (!['response.completed', 'response.incomplete', 'response.failed'].includes(last?.type)) out.push(`the stream ends with ${last?.type}`);
  const withPolicy = events.filter((e) => e.policy !== undefined).length;
  if (withPolicy !== 1 || last?.policy === undefined || last?.response?.policy === undefined) out.push('the policy block is not on the terminal event (and its response) alone');
  if (messages.some((m) => m.data === '[DONE]')) out.push('a Responses stream has [DONE]');
  return out;
}

/** Problems of a streamed legacy completion: chunk schemas, [DONE] last, one policy chunk, usage last when asked. */
function textStreamProblems(req: Body, text: string): string[] {
  const { chunks, done } = chunksOf(text);
  const out = chunks.flatMap((c, i) => schemaProblems('CreateCompletionStreamResponse', c, `chunk ${i}`));
  if (!done) out.push('the stream does not end with [DONE]');
  if (chunks.filter((c) => c.policy !== undefined).length !== 1) out.push('the policy block is not on exactly one chunk');
  const usageAt = chunks.findIndex((c) => c.usage);
  if ((req.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
    if (usageAt !== chunks.length - 1) out.push('the usage chunk is not the last');
  } else if (usageAt >= 0) out.push('a usage chunk although include_usage was not asked for');
  return out;
}

const rbase = (input: unknown, extra: Body = {}): Body => ({ model: 'fake-model', input, ...extra });
const TOOLS = [{ type: 'function', name: 'save_note', strict: false, parameters: { type: 'object', properties: { note: { type: 'string' } } } }];

const RESPONSE_CASES: AnswerCase[] = [
  { name: 'Responses refuse, JSON', policy: 'conf', req: rbase(MSG.denied), decision: 'refuse' },
  { name: 'Responses escalate, JSON', policy: 'conf', req: rbase([{ role: 'user', content: [{ type: 'input_text', text: MSG.threat }] }]), decision: 'escalate' },
  { name: 'Responses allowlist miss, JSON', policy: 'allow-only', req: rbase(MSG.benign, { instructions: 'Be brief.' }), decision: 'refuse' },
  { name: 'Responses allow (spliced), JSON', policy: 'conf', req: rbase(MSG.benign, { tools: TOOLS }), decision: 'allow' },
  { name: 'Responses rewrite, JSON', policy: 'conf', req: rbase(MSG.selfHarm), decision: 'rewrite' },
  { name: 'Responses summary, JSON', policy: 'conf', req: rbase(MSG.graphic), decision: 'summary' },
  { name: 'Responses redacted (re-serialised), JSON', policy: 'redact', req: rbase(MSG.benign, { tools: TOOLS }), decision: 'allow' },
];
const RESPONSE_STREAM_CASES: AnswerCase[] = [
  { name: 'Responses refuse, streamed', policy: 'conf', req: rbase(MSG.denied, { stream: true }), decision: 'refuse' },
  { name: 'Responses escalate, streamed', policy: 'conf', req: rbase(MSG.threat, { stream: true }), decision: 'escalate' },
  { name: 'Responses allowlist miss, streamed', policy: 'allow-only', req: rbase(MSG.benign, { stream: true }), decision: 'refuse' },
  { name: 'Responses allow, streamed', policy: 'conf', req: rbase(MSG.benign, { stream: true, tools: TOOLS }), decision: 'allow' },
  { name: 'Responses redacted, streamed', policy: 'redact', req: rbase(MSG.benign, { stream: true, tools: TOOLS }), decision: 'allow' },
  { name: 'Responses redacted, split SSE upstream', policy: 'redact', req: { ...rbase(MSG.benign, { stream: true }), model: 'split-sse' }, decision: 'allow' },
];
const cbase = (prompt: unknown, extra: Body = {}): Body => ({ model: 'fake-model', prompt, ...extra });
const TEXT_CASES: AnswerCase[] = [
  { name: 'completions refuse with 2 prompts and n = 2, JSON', policy: 'conf', req: cbase(['hi', MSG.denied], { n: 2 }), decision: 'refuse' },
  { name: 'completions allow, JSON', policy: 'conf', req: cbase(MSG.benign), decision: 'allow' },
  { name: 'completions redacted, JSON', policy: 'redact', req: cbase(MSG.benign), decision: 'allow' },
];
const TEXT_STREAM_CASES: AnswerCase[] = [
  { name: 'completions refuse, streamed with include_usage', policy: 'conf', req: cbase(MSG.denied, { stream: true, stream_options: { include_usage: true } }), decision: 'refuse' },
  { name: 'completions escalate, streamed', policy: 'conf', req: cbase(MSG.threat, { stream: true }), decision: 'escalate' },
  { name: 'completions allow, streamed', policy: 'conf', req: cbase(MSG.benign, { stream: true }), decision: 'allow' },
  { name: 'completions redacted, streamed with include_usage', policy: 'redact', req: { ...cbase(MSG.benign, { stream: true, stream_options: { include_usage: true } }), model: 'split-sse' }, decision: 'allow' },
];

describe('Responses, legacy completions and embeddings the gateway writes', () => {
  it.each(RESPONSE_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy }, '/v1/responses');
    const body = await r.json() as Record<string, any>;
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.policy.decision).toBe(decision);
    expectConforms(name, schemaProblems('Response', body));
  });

  it.each(RESPONSE_STREAM_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy }, '/v1/responses');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await r.text();
    expect(JSON.parse(parseSseText(text).at(-1)!.data).policy.decision).toBe(decision);
    expectConforms(name, responseStreamProblems(text));
  });

  it.each(TEXT_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy }, '/v1/completions');
    const body = await r.json() as Record<string, any>;
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.policy.decision).toBe(decision);
    const prompts = Array.isArray(req.prompt) ? req.prompt.length : 1;
    const problems = schemaProblems('CreateCompletionResponse', body);
    if (body.choices.length !== prompts * (typeof req.n === 'number' ? req.n : 1)) problems.push(`${body.choices.length} choices`);
    expectConforms(name, problems);
  });

  it.each(TEXT_STREAM_CASES)('$name', async ({ name, policy, req, decision }) => {
    const r = await post(req, { 'x-policy-id': policy }, '/v1/completions');
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(chunksOf(text).chunks.find((c) => c.policy)?.policy.decision).toBe(decision);
    expectConforms(name, textStreamProblems(req, text));
  });

  it('embeddings allowed: a spec-valid embeddings list with the policy block spliced in', async () => {
    const r = await post({ model: 'fake-embed', input: ['a', 'b'] }, { 'x-policy-id': 'conf' }, '/v1/embeddings');
    const body = await r.json() as Record<string, any>;
    expect(body.policy.decision).toBe('allow');
    expectConforms('embeddings allow', schemaProblems('CreateEmbeddingResponse', body));
  });

  it('embeddings refused: an OpenAI-shaped 403 error (with the policy block beside it)', async () => {
    const r = await post({ model: 'fake-embed', input: MSG.denied }, { 'x-policy-id': 'conf' }, '/v1/embeddings');
    expect(r.status).toBe(403);
    const body = await r.json() as Record<string, any>;
    expect(body.policy.decision).toBe('refuse');
    expectConforms('embeddings refuse', schemaProblems('ErrorResponse', body));
  });

  it('the redacted Responses answers really were rewritten', async () => {
    const body = await (await post(rbase(MSG.benign, { tools: TOOLS }), { 'x-policy-id': 'redact' }, '/v1/responses')).json() as Record<string, any>;
    const message = body.output.find((o: { type: string }) => o.type === 'message');
    expect(message.content[0].text).toBe(FAKE_ANSWER.replace('alice@example.com', '[EMAIL]'));
    expect(body.output.find((o: { type: string }) => o.type === 'function_call').arguments).not.toContain('alice@example.com');
  });

  it('a Responses stream the upstream stalls ends with a spec-valid error event', async () => {
    const r = await post({ ...rbase(MSG.benign, { stream: true }), model: 'slow-stream' }, {}, '/v1/responses');
    const messages = parseSseText(await r.text());
    const last = messages.at(-1)!;
    expect(last.event).toBe('error');
    const e = JSON.parse(last.data) as Record<string, any>;
    expect(e).toMatchObject({ type: 'error', code: 'upstream_timeout', error: { code: 'upstream_timeout' } });
    expectConforms('Responses mid-stream error', schemaProblems('ResponseStreamEvent', e));
    expect(e.sequence_number).toBe(messages.length - 1);
  });
});

// ---- errors -----------------------------------------------------------------------------------------------------

interface ErrorCase { readonly note: string; readonly status: number; readonly code: string; readonly send: () => Promise<Response> }

const ERROR_CASES: ErrorCase[] = [
  { note: 'missing API key', status: 401, code: 'missing_api_key', send: () => post(base(MSG.benign), { 'x-policy-id': 'locked' }) },
  { note: 'malformed Authorization header', status: 401, code: 'invalid_api_key', send: () => post(base(MSG.benign), { 'x-policy-id': 'locked', authorization: 'Basic eDp5' }) },
  { note: 'invalid policy key', status: 401, code: 'invalid_api_key', send: () => post(base(MSG.benign), { 'x-policy-id': 'locked', authorization: 'Bearer pgk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' }) },
  { note: 'a key for another policy', status: 403, code: 'forbidden', send: () => post(base(MSG.benign), { 'x-policy-id': 'locked-other', authorization: `Bearer ${key}` }) },
  { note: 'unknown route', status: 404, code: 'unknown_url', send: () => post(base(MSG.benign), {}, '/v1/chat/complete') },
  { note: 'unknown policy_id', status: 404, code: 'policy_not_found', send: () => post(base(MSG.benign, { policy_id: 'nope' })) },
  { note: 'no upstream serves the model', status: 404, code: 'model_not_found', send: () => post({ ...base(MSG.benign), model: 'unrouted-model' }) },
  { note: 'GET on the chat route', status: 405, code: 'method_not_allowed', send: () => fetch(`${gw.url}/v1/chat/completions`) },
  { note: 'bad JSON', status: 400, code: 'invalid_json', send: () => post('{"model": ') },
  { note: 'a body that is not an object', status: 400, code: 'invalid_body', send: () => post('[1]') },
  { note: 'missing model', status: 400, code: 'invalid_model', send: () => post({ messages: user('hi') }) },
  { note: 'messages not an array', status: 400, code: 'invalid_messages', send: () => post({ model: 'fake-model', messages: 'hi' }) },
  { note: 'header and body metadata disagree', status: 400, code: 'metadata_conflict', send: () => post(base(MSG.benign, { policy_user: 'a' }), { 'x-policy-user': 'b' }) },
  { note: 'metadata too long', status: 400, code: 'invalid_metadata', send: () => post(base(MSG.benign), { 'x-policy-user': 'u'.repeat(300) }) },
  { note: 'the /policy route without policy_id', status: 400, code: 'missing_policy_id', send: () => post(base(MSG.benign), {}, '/policy/chat/completions') },
  { note: 'body over the limit', status: 413, code: 'request_too_large', send: () => post(base('x'.repeat(70_000))) },
  { note: 'not JSON content type', status: 415, code: 'unsupported_media_type', send: () => post('a=1', { 'content-type': 'application/x-www-form-urlencoded' }) },
  { note: 'rate limit', status: 429, code: 'rate_limit_exceeded', send: async () => {
    const h = { 'x-policy-id': 'limited', 'x-policy-user': `rl-${Date.now()}` };
    expect((await post(base(MSG.benign), h)).status).toBe(200);
    return post(base(MSG.benign), h);
  } },
  { note: 'upstream 500', status: 502, code: 'upstream_bad_response', send: () => post({ ...base(MSG.benign), model: 'fail-500' }) },
  { note: 'upstream answers HTML', status: 502, code: 'upstream_bad_response', send: () => post({ ...base(MSG.benign), model: 'not-json' }) },
  { note: 'upstream unreachable', status: 502, code: 'upstream_unreachable', send: () => post({ ...base(MSG.benign), model: 'dead-model' }) },
  { note: 'upstream unreachable, streamed request', status: 502, code: 'upstream_unreachable', send: () => post({ ...base(MSG.benign, { stream: true }), model: 'dead-model' }) },
  { note: 'upstream timeout', status: 504, code: 'upstream_timeout', send: () => post({ ...base(MSG.benign), model: 'slow' }) },
  { note: "upstream 400 passed through (the upstream's own error)", status: 400, code: '', send: () => post({ ...base(MSG.benign), model: 'fail-400' }) },
  { note: 'Responses input of the wrong shape', status: 400, code: 'invalid_input', send: () => post({ model: 'fake-model', input: 7 }, {}, '/v1/responses') },
  { note: 'embeddings without input', status: 400, code: 'invalid_input', send: () => post({ model: 'fake-embed' }, {}, '/v1/embeddings') },
  { note: 'token ids to a policy that reads the prompt', status: 400, code: 'unreadable_input', send: () => post({ model: 'fake-model', prompt: [1, 2] }, {}, '/v1/completions') },
  { note: 'an endpoint the policy does not serve', status: 404, code: 'endpoint_not_served', send: () => post({ model: 'fake-model', input: 'x', policy_id: 'chat-only' }, {}, '/policy/responses') },
  { note: 'previous_response_id under a stateless policy', status: 400, code: 'stateful_request', send: () => post({ model: 'fake-model', input: 'x', previous_response_id: 'resp_1' }, { 'x-policy-id': 'stateless' }, '/v1/responses') },
  { note: 'GET on the Responses route', status: 405, code: 'method_not_allowed', send: () => fetch(`${gw.url}/v1/responses`) },
  { note: 'retrieving a stored Response (not proxied: it would bypass redaction)', status: 404, code: 'unknown_url', send: () => fetch(`${gw.url}/v1/responses/resp_1`) },
  { note: 'Responses upstream unreachable', status: 502, code: 'upstream_unreachable', send: () => post({ model: 'dead-model', input: 'x' }, {}, '/v1/responses') },
];

describe('errors the gateway writes', () => {
  it.each(ERROR_CASES)('$note → $status', async ({ status, code, send }) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    const body = await r.json() as { error: { code: string | null } };
    expectConforms(`error: ${status} ${code}`, schemaProblems('ErrorResponse', body));
    if (code) expect(body.error.code).toBe(code);
  });

  it('an upstream that stalls mid-stream ends the stream with an OpenAI-shaped error event', async () => {
    const r = await post({ ...base(MSG.benign, { stream: true }), model: 'slow-stream' });
    expect(r.status).toBe(200);
    const { chunks } = chunksOf(await r.text());
    const errors = chunks.filter((c) => c.error !== undefined);
    expect(errors).toHaveLength(1);
    expect(chunks.at(-1)).toBe(errors[0]);
    expectConforms('mid-stream error', schemaProblems('ErrorResponse', errors[0]));
    expect(errors[0]!.error.code).toBe('upstream_timeout');
    // What came before the error is spec-valid chunks.
    for (const c of chunks.slice(0, -1)) expect(schemaProblems('CreateChatCompletionStreamResponse', c)).toEqual([]);
  });
});

// ---- models and what went upstream ------------------------------------------------------------------------------

describe('/v1/models and the bodies forwarded upstream', () => {
  it.each(['/v1/models', '/policy/models'])('GET %s is a spec-valid model list', async (route) => {
    const r = await fetch(`${gw.url}${route}`);
    expect(r.status).toBe(200);
    const body = await r.json() as { data: { id: string }[] };
    expectConforms(`models ${route}`, schemaProblems('ListModelsResponse', body));
    expect(body.data.map((m) => m.id)).toContain('fake-model');
  });

  it('every body the gateway forwarded was a spec-valid request without policy fields', () => {
    for (const e of ['responses', 'embeddings', 'completions'] as const) expect(up.received.filter((r) => r.endpoint === e).length, e).toBeGreaterThanOrEqual(1);
    const chat = up.received.filter((r) => r.endpoint === 'chat');
    // allow, rewrite, summary, redact, n = 2, streams, failures routed upstream, …
    expect(chat.length).toBeGreaterThanOrEqual(15);
    expect(up.problems()).toEqual([]);
    // The gateway's own changes are among them: rewrite adds a system message, summary a token cap.
    expect(chat.some((r) => (r.body.messages as { role: string }[])[0]?.role === 'system')).toBe(true);
  });
});
