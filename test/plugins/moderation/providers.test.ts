// The `openai` and `llama_guard` providers against loopback HTTP servers speaking the documented wire formats:
// request shape and auth, score mapping, the S-code table, the result cache, timeouts, fail-open / fail-closed, metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  LLAMA_GUARD_CATEGORIES, moderationErrorKey, moderationKey, moderationPlugin, parseLlamaGuard, parseOpenAIModeration, CATEGORIES,
} from '../../../plugins/moderation/index.ts';
import type { PluginHooks } from '../../../src/sdk/plugin.ts';
import type { ChatRequest } from '../../../src/sdk/types.ts';
import { GatewayError } from '../../../src/errors.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compileClean, compileWith } from '../topics/policy.ts';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: any }
type Reply = (seen: Seen, res: http.ServerResponse) => void;

/** A loopback server that records each request and answers with the current `reply` (which may hold the response). */
class Loopback {
  readonly seen: Seen[] = [];
  reply: Reply = (_s, res) => { res.writeHead(500).end(); };
  readonly #held: http.ServerResponse[] = [];
  readonly #server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { raw += c; });
    req.on('end', () => {
      const seen = { method: req.method!, url: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
      this.seen.push(seen);
      this.reply(seen, res);
    });
  });
  url = '';
  async start(path: string): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }
  /** Never answers (until `release`): for timeouts. */
  hold(): void { this.reply = (_s, res) => { this.#held.push(res); }; }
  release(): void { for (const r of this.#held.splice(0)) r.destroy(); }
  json(status: number, body: unknown): void {
    this.reply = (_s, res) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)); };
  }
  reset(): void { this.seen.length = 0; this.release(); }
  async stop(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

const zeroScores = (): Record<string, number> => Object.fromEntries(CATEGORIES.map((c) => [c, 0.0001]));
/** An OpenAI moderation response (exact wire shape). */
function openaiBody(scores: Record<string, number>): unknown {
  const all = { ...zeroScores(), ...scores };
  return {
    id: 'modr-123', model: 'omni-moderation-latest',
    results: [{
      flagged: Object.values(all).some((v) => v > 0.5),
      categories: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v > 0.5])),
      category_scores: all,
      category_applied_input_types: Object.fromEntries(Object.keys(all).map((k) => [k, ['text']])),
    }],
  };
}
/** A chat completion whose assistant message is `content` (the Llama Guard answer). */
const chatBody = (content: string): unknown => ({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'llama-guard-3',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 100, completion_tokens: 3, total_tokens: 103 },
});

const req = (text: string): ChatRequest => ({ model: 'm', messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: text }] });

async function metric(services: ReturnType<typeof testServices>, name: string): Promise<string> {
  return (await services.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

const oa = new Loopback();
const lg = new Loopback();
beforeAll(async () => { await oa.start('/v1/moderations'); await lg.start('/v1/chat/completions'); });
afterAll(async () => { await oa.stop(); await lg.stop(); });
afterEach(() => { oa.reset(); lg.reset(); });

function openaiHooks(extra: string[] = []): PluginHooks {
  return moderationPlugin.hooks(compileClean(moderationPlugin, `  moderation {
    provider openai { url "${oa.url}"; key env "OPENAI_API_KEY"; model "omni-moderation-latest"; timeout 300ms }
    flag "self-harm/*" above 0.5
    flag violence/graphic
${extra.map((l) => `    ${l}`).join('\n')}
  }`));
}

describe('provider openai', () => {
  it('POSTs {input, model} with the bearer key from the environment and maps category_scores', async () => {
    oa.json(200, openaiBody({ 'self-harm/intent': 0.91, 'self-harm': 0.8, violence: 0.7 }));
    const services = testServices({ env: { OPENAI_API_KEY: 'sk-test-123' } });
    const ctx = ctxFor(req('I want to end it'), { services, meta: { policyId: 'test-policy' } });
    const out = await openaiHooks().onRequest!(ctx);
    expect(out).toBeUndefined();
    expect(oa.seen).toHaveLength(1);
    expect(oa.seen[0]).toMatchObject({ method: 'POST', url: '/v1/moderations', body: { input: 'I want to end it', model: 'omni-moderation-latest' } });
    expect(oa.seen[0]!.headers.authorization).toBe('Bearer sk-test-123');
    expect(oa.seen[0]!.headers['content-type']).toBe('application/json');
    const r = ctx.get(moderationKey)!;
    expect(r.provider).toBe('openai');
    expect(r.flagged).toEqual(['self-harm', 'self-harm/intent']); // violence is not flagged by this policy; violence/graphic is low
    expect(r.scores['self-harm/intent']).toBe(0.91);
    expect(r.rules).toEqual({ 'self-harm': 'rules/test.policy:4', 'self-harm/intent': 'rules/test.policy:4' });
    expect(ctx.verdict.triggeredCategories).toEqual(['self-harm', 'self-harm/intent']);
    expect(await metric(services, 'policy_gateway_moderation_flags_total')).toBe([
      'policy_gateway_moderation_flags_total{policy_id="test-policy",category="self-harm"} 1',
      'policy_gateway_moderation_flags_total{policy_id="test-policy",category="self-harm/intent"} 1',
    ].join('\n'));
    expect(await metric(services, 'policy_gateway_moderation_duration_seconds')).toContain('policy_gateway_moderation_duration_seconds_count{provider="openai"} 1');
  });

  it('uses `categories` booleans when a server sends no score for a category', async () => {
    oa.json(200, { results: [{ flagged: true, categories: { 'violence/graphic': true, hate: false } }] });
    const ctx = ctxFor(req('x'), { services: testServices({ env: { OPENAI_API_KEY: 'k' } }) });
    await openaiHooks().onRequest!(ctx);
    expect(ctx.get(moderationKey)!.flagged).toEqual(['violence/graphic']);
    expect(ctx.get(moderationKey)!.scores.violence).toBe(1); // parent raised to its child
  });

  it('caches by the text: a second identical request does not reach the server, a different text does', async () => {
    oa.json(200, openaiBody({ 'violence/graphic': 0.9 }));
    const hooks = openaiHooks();
    const services = testServices({ env: { OPENAI_API_KEY: 'k' } });
    const first = ctxFor(req('describe the scene'), { services });
    expect(await hooks.onRequest!(first)).toBeUndefined();
    const second = ctxFor(req('describe the scene'), { services });
    const out = hooks.onRequest!(second);
    expect(out).toBeUndefined(); // a cache hit is answered synchronously, not with a promise
    expect(oa.seen).toHaveLength(1);
    expect(second.get(moderationKey)).toEqual(first.get(moderationKey));
    await hooks.onRequest!(ctxFor(req('something else'), { services }));
    expect(oa.seen).toHaveLength(2);
  });

  it('`cache off` calls the server every time', async () => {
    oa.json(200, openaiBody({}));
    const hooks = openaiHooks(['cache off']);
    const services = testServices({ env: { OPENAI_API_KEY: 'k' } });
    await hooks.onRequest!(ctxFor(req('same'), { services }));
    await hooks.onRequest!(ctxFor(req('same'), { services }));
    expect(oa.seen).toHaveLength(2);
  });

  it('times out and fails open by default: not flagged, counted, audited', async () => {
    oa.hold();
    const services = testServices({ env: { OPENAI_API_KEY: 'k' } });
    const ctx = ctxFor(req('slow'), { services });
    expect(await openaiHooks().onRequest!(ctx)).toBeUndefined();
    expect(ctx.get(moderationKey)).toEqual({ flagged: [], scores: {}, provider: 'error', rules: {} });
    expect(ctx.get(moderationErrorKey)).toBe('timeout');
    expect(ctx.verdict.triggeredCategories).toEqual([]);
    expect(await metric(services, 'policy_gateway_moderation_errors_total')).toBe('policy_gateway_moderation_errors_total{provider="openai",result="fail_open"} 1');
    expect(services.logs.join('')).not.toContain('slow'); // the prompt is never logged
  });

  it('times out and fails closed: rejects with GW_ERR_MODERATION_UNAVAILABLE (503)', async () => {
    oa.hold();
    const services = testServices({ env: { OPENAI_API_KEY: 'k' } });
    const ctx = ctxFor(req('slow'), { services });
    const out = await openaiHooks(['on_error closed']).onRequest!(ctx);
    expect(out).toMatchObject({ kind: 'reject' });
    const err = (out as { error: GatewayError }).error;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.code).toBe('GW_ERR_MODERATION_UNAVAILABLE');
    expect(err.status).toBe(503);
    expect(ctx.get(moderationKey)).toBeUndefined();
    expect(await metric(services, 'policy_gateway_moderation_errors_total')).toBe('policy_gateway_moderation_errors_total{provider="openai",result="fail_closed"} 1');
  });

  it.each([
    { note: 'an HTTP 500', setup: () => oa.json(500, { error: { message: 'boom' } }), reason: 'http_status' },
    { note: 'a body that is not JSON', setup: () => { oa.reply = (_s, res) => { res.writeHead(200).end('<html>'); }; }, reason: 'bad_response' },
    { note: 'JSON without results', setup: () => oa.json(200, { id: 'x' }), reason: 'bad_response' },
    { note: 'an answer that never ends (read only up to its 1 MiB bound, not until the timeout)', reason: 'bad_response', setup: () => {
      oa.reply = (_s, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump); };
        pump();
      };
    } },
  ])('fails open on $note', async ({ setup, reason }) => {
    setup();
    const ctx = ctxFor(req('x'), { services: testServices({ env: { OPENAI_API_KEY: 'k' } }) });
    await openaiHooks().onRequest!(ctx);
    expect(ctx.get(moderationKey)!.provider).toBe('error');
    expect(ctx.get(moderationErrorKey)).toBe(reason);
  });

  it('fails open when the server is unreachable (network)', async () => {
    const dead = new Loopback();
    await dead.start('/v1/moderations');
    const url = dead.url;
    await dead.stop();
    const hooks = moderationPlugin.hooks(compileClean(moderationPlugin, `  moderation { provider openai { url "${url}" } }`));
    const ctx = ctxFor(req('x'));
    await hooks.onRequest!(ctx);
    expect(ctx.get(moderationErrorKey)).toBe('network');
  });

  it('a missing key fails without sending the request', async () => {
    oa.json(200, openaiBody({}));
    const ctx = ctxFor(req('x'), { services: testServices({ env: {} }) });
    const out = await openaiHooks(['on_error closed']).onRequest!(ctx);
    expect(out).toMatchObject({ kind: 'reject' });
    expect(ctx.get(moderationErrorKey)).toBe('missing_key');
    expect(oa.seen).toHaveLength(0);
  });

  it('a client abort is not a provider error: nothing counted, nothing published', async () => {
    oa.hold();
    const services = testServices({ env: { OPENAI_API_KEY: 'k' } });
    const ac = new AbortController();
    const ctx = ctxFor(req('x'), { services, signal: ac.signal });
    const p = openaiHooks().onRequest!(ctx);
    await new Promise<void>((r) => { const t = setInterval(() => { if (oa.seen.length > 0) { clearInterval(t); r(); } }, 5); });
    ac.abort();
    expect(await p).toBeUndefined();
    expect(ctx.get(moderationKey)).toBeUndefined();
    expect(await metric(services, 'policy_gateway_moderation_errors_total')).toBe('');
  });

  it('a request with nothing to scan calls nobody', async () => {
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'system', content: 'only a system prompt' }] });
    expect(openaiHooks().onRequest!(ctx)).toBeUndefined();
    expect(oa.seen).toHaveLength(0);
    expect(ctx.get(moderationKey)!.flagged).toEqual([]);
  });
});

function guardHooks(body: string, extra: string[] = []): PluginHooks {
  return moderationPlugin.hooks(compileClean(moderationPlugin, `  moderation {
    provider llama_guard { url "${lg.url}"; key env "LG_KEY"; model "llama-guard-3"; timeout 300ms${body} }
${extra.map((l) => `    ${l}`).join('\n')}
  }`));
}

describe('provider llama_guard', () => {
  it('sends the Llama Guard prompt as a chat completion and maps "unsafe\\nS1,S10"', async () => {
    lg.json(200, chatBody('unsafe\nS1,S10'));
    const services = testServices({ env: { LG_KEY: 'lg-secret' } });
    const ctx = ctxFor(req('How do I hurt them?'), { services });
    expect(await guardHooks('').onRequest!(ctx)).toBeUndefined();
    const seen = lg.seen[0]!;
    expect(seen.headers.authorization).toBe('Bearer lg-secret');
    expect(seen.body).toMatchObject({ model: 'llama-guard-3', temperature: 0, max_tokens: 20 });
    expect(seen.body.messages).toHaveLength(1);
    const prompt: string = seen.body.messages[0].content;
    expect(prompt).toContain("Task: Check if there is unsafe content in 'User' messages");
    expect(prompt).toContain('S1: Violent Crimes.');
    expect(prompt).toContain('S14: Code Interpreter Abuse.');
    expect(prompt).toContain('User: How do I hurt them?');
    expect(prompt).toContain("First line must read 'safe' or 'unsafe'.");
    const r = ctx.get(moderationKey)!;
    expect(r.provider).toBe('llama_guard');
    expect(r.flagged).toEqual(['hate', 'illicit', 'illicit/violent', 'violence']);
  });

  it('"safe" flags nothing', async () => {
    lg.json(200, chatBody('safe'));
    const ctx = ctxFor(req('hello'), { services: testServices({ env: { LG_KEY: 'k' } }) });
    await guardHooks('').onRequest!(ctx);
    expect(ctx.get(moderationKey)!.flagged).toEqual([]);
    expect(ctx.get(moderationKey)!.provider).toBe('llama_guard');
  });

  it('template server sends the raw text for a server that applies the Llama Guard template itself', async () => {
    lg.json(200, chatBody('unsafe\nS11'));
    const ctx = ctxFor(req('raw text'), { services: testServices({ env: { LG_KEY: 'k' } }) });
    await guardHooks('; template server').onRequest!(ctx);
    expect(lg.seen[0]!.body.messages).toEqual([{ role: 'user', content: 'raw text' }]);
    expect(ctx.get(moderationKey)!.flagged).toEqual(['self-harm']);
  });

  it('an answer that is neither safe nor unsafe fails (bad_response), closed here', async () => {
    lg.json(200, chatBody('I cannot help with that.'));
    const services = testServices({ env: { LG_KEY: 'k' } });
    const ctx = ctxFor(req('x'), { services });
    const out = await guardHooks('', ['on_error closed']).onRequest!(ctx);
    expect(out).toMatchObject({ kind: 'reject' });
    expect(ctx.get(moderationErrorKey)).toBe('bad_response');
    expect(await metric(services, 'policy_gateway_moderation_errors_total')).toBe('policy_gateway_moderation_errors_total{provider="llama_guard",result="fail_closed"} 1');
  });

  it('times out and fails open', async () => {
    lg.hold();
    const ctx = ctxFor(req('x'), { services: testServices({ env: { LG_KEY: 'k' } }) });
    expect(await guardHooks('').onRequest!(ctx)).toBeUndefined();
    expect(ctx.get(moderationErrorKey)).toBe('timeout');
    expect(ctx.get(moderationKey)!.provider).toBe('error');
  });

  it('caches: the second identical request is answered without the server', async () => {
    lg.json(200, chatBody('unsafe\nS12'));
    const hooks = guardHooks('');
    const services = testServices({ env: { LG_KEY: 'k' } });
    await hooks.onRequest!(ctxFor(req('same text'), { services }));
    const ctx = ctxFor(req('same text'), { services });
    expect(hooks.onRequest!(ctx)).toBeUndefined();
    expect(lg.seen).toHaveLength(1);
    expect(ctx.get(moderationKey)!.flagged).toEqual(['sexual']);
  });
});

describe('wire-format parsers', () => {
  it.each([
    { answer: 'safe', flagged: [] },
    { answer: 'unsafe\nS1', flagged: ['illicit', 'illicit/violent', 'violence'] },
    { answer: 'unsafe\nS2', flagged: ['illicit'] },
    { answer: 'unsafe\nS3', flagged: ['sexual'] },
    { answer: 'unsafe\nS4', flagged: ['sexual', 'sexual/minors'] },
    { answer: 'unsafe\nS5', flagged: ['harassment'] },
    { answer: 'unsafe\nS9', flagged: ['illicit', 'illicit/violent', 'violence'] },
    { answer: 'unsafe\nS10', flagged: ['hate'] },
    { answer: 'unsafe\nS11', flagged: ['self-harm'] },
    { answer: 'unsafe\nS12', flagged: ['sexual'] },
    { answer: 'unsafe\nS6,S7,S8,S13,S14', flagged: [] },
    { answer: '  UNSAFE \n s10 , s11 ', flagged: ['hate', 'self-harm'] },
    { answer: 'unsafe', flagged: [] },
  ])('llama guard "$answer" → $flagged', ({ answer, flagged }) => {
    const r = parseLlamaGuard(answer);
    expect(CATEGORIES.filter((c) => r.scores[c]! > 0.5)).toEqual(flagged);
    expect(r.safe).toBe(answer.trim().toLowerCase() === 'safe');
  });

  it('documents all 14 S-codes', () => {
    expect(Object.keys(LLAMA_GUARD_CATEGORIES)).toEqual(Array.from({ length: 14 }, (_, i) => `S${i + 1}`));
  });

  it('openai: clamps scores, ignores unknown categories, rejects a wrong shape', () => {
    const s = parseOpenAIModeration({ results: [{ category_scores: { hate: 1.7, violence: -1, 'made/up': 0.9 } }] });
    expect(s.hate).toBe(1);
    expect(s.violence).toBe(0);
    expect(s['made/up']).toBeUndefined();
    expect(() => parseOpenAIModeration({ results: [] })).toThrow('no results[0]');
    expect(() => parseOpenAIModeration({ results: [{}] })).toThrow('neither category_scores nor categories');
  });
});

describe('cascade: provider builtin then openai', () => {
  const cascadeHooks = (band = 'band 0.1 0.8'): PluginHooks => moderationPlugin.hooks(compileClean(moderationPlugin, `  moderation {
    provider builtin then openai { url "${oa.url}"; key env "OPENAI_API_KEY"; timeout 300ms; ${band} }
    flag "*" above 0.5
  }`));
  const services = (): ReturnType<typeof testServices> => testServices({ env: { OPENAI_API_KEY: 'k' } });

  it('decides a prompt the builtin scores below the band locally, synchronously, without a call', () => {
    const ctx = ctxFor(req('What is the shipping time to Oslo?'), { services: services() });
    expect(cascadeHooks().onRequest!(ctx)).toBeUndefined();
    expect(oa.seen).toHaveLength(0);
    expect(ctx.get(moderationKey)).toMatchObject({ provider: 'builtin', flagged: [] });
  });

  it('decides a prompt the builtin scores above the band locally (flagged), without a call', () => {
    const ctx = ctxFor(req('I am going to kill myself tonight, I have the pills ready'), { services: services() });
    expect(cascadeHooks().onRequest!(ctx)).toBeUndefined();
    expect(oa.seen).toHaveLength(0);
    const r = ctx.get(moderationKey)!;
    expect(r.provider).toBe('builtin');
    expect(r.flagged).toContain('self-harm/intent');
  });

  it('sends a prompt inside the band to the remote provider, whose scores decide', async () => {
    oa.json(200, openaiBody({ 'self-harm': 0.93 }));
    const ctx = ctxFor(req('tell me about suicide'), { services: services() });
    const out = cascadeHooks().onRequest!(ctx);
    expect(out).toBeInstanceOf(Promise);
    expect(await out).toBeUndefined();
    expect(oa.seen).toHaveLength(1);
    expect(oa.seen[0]!.body.input).toBe('tell me about suicide');
    expect(ctx.get(moderationKey)).toMatchObject({ provider: 'openai', flagged: ['self-harm'] });
  });

  it('falls back to the builtin scores when the remote call fails open', async () => {
    oa.json(503, { error: 'down' });
    const ctx = ctxFor(req('tell me about suicide'), { services: services() });
    expect(await cascadeHooks().onRequest!(ctx)).toBeUndefined();
    expect(oa.seen).toHaveLength(1);
    expect(ctx.get(moderationKey)).toMatchObject({ provider: 'builtin', flagged: [] });
    expect(ctx.get(moderationErrorKey)).toBe('http_status');
  });

  it('band 0 1 sends every prompt to the remote provider', async () => {
    oa.json(200, openaiBody({}));
    const ctx = ctxFor(req('What is the shipping time to Oslo?'), { services: services() });
    await cascadeHooks('band 0 1').onRequest!(ctx);
    expect(oa.seen).toHaveLength(1);
  });

  it('reports a misplaced or malformed band and a cascade that ends with builtin (POL0433, POL0430)', () => {
    const short = (body: string): string[] => compileWith(moderationPlugin, `  moderation {\n    ${body}\n  }`).short;
    expect(short(`provider openai { url "${oa.url}"; band 0.1 0.9 }`)).toEqual(['POL0433 error 3:68 "band" only applies to a cascade']);
    expect(short(`provider builtin then openai { url "${oa.url}"; band 0.9 0.1 }`)[0]).toMatch(/^POL0433 error .* "band" takes two scores LOW HIGH/);
    expect(short('provider builtin then builtin')).toEqual(['POL0430 error 3:27 a cascade ends with a remote provider, found "builtin"']);
  });
});
