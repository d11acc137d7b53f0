// The replay input side: audit records with the `replay on` capture (built by the auditor's own record builder, written
// as logfmt and JSON) parse back into the prompt view the policy read; the capture is the client's prompt before any
// policy edit and after request-scope redaction; the line reader bounds line length and numbers lines.
import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildChain } from '../../src/chain/build-chain.ts';
import { ChainRunner } from '../../src/chain/run-chain.ts';
import { runRequestPhase } from '../../src/chain/run-policy.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { CompiledPolicy } from '../../src/policy/types.ts';
import type { RequestContext } from '../../src/sdk/context.ts';
import type { PluginHooks } from '../../src/sdk/plugin.ts';
import { readPrompt } from '../../src/sdk/prompt-view.ts';
import { requestRedactorKey } from '../../src/sdk/state-keys.ts';
import type { ApiRequest, ChatRequest, Endpoint } from '../../src/sdk/types.ts';
import { auditHooks, withReplay } from '../../plugins/auditor/index.ts';
import { formatAuditRecord } from '../../plugins/auditor/format.ts';
import { buildAuditRecord } from '../../plugins/auditor/record.ts';
import { MAX_REPLAY_TEXT, replayCapture } from '../../plugins/auditor/replay-capture.ts';
import { parseLine, parseLogfmtRecord, readLines, type ReplayItem } from '../../src/replay/records.ts';
import { ctxFor, publishVerdict } from '../helpers/ctx.ts';

const config = { policyId: 'p', tags: [], prompts: false, replay: true } as const;
const ok = { status: 200, upstreamCalled: true, aborted: false, synthesized: false } as const;

const REQUESTS: { endpoint: Endpoint; request: ApiRequest }[] = [
  { endpoint: 'chat', request: { model: 'm', messages: [{ role: 'system', content: 'Be "brief".\n' }, { role: 'user', content: [{ type: 'text', text: 'héllo = 🙂' }, { type: 'image_url', image_url: { url: 'x' } }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }] } as ChatRequest },
  { endpoint: 'responses', request: { model: 'm', instructions: 'Be kind.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'wire transfer\u2028now' }] }], previous_response_id: 'r1' } },
  { endpoint: 'completions', request: { model: 'm', prompt: ['one', 'two'], suffix: 'end', max_tokens: 9, n: 2 } },
  { endpoint: 'embeddings', request: { model: 'm', input: ['a', 'b\\c'] } },
];

function recordLine(endpoint: Endpoint, request: ApiRequest, format: 'logfmt' | 'json', setup?: (c: RequestContext) => void): string {
  const c = ctxFor(request, { endpoint, id: 'req-7', meta: { policyId: 'p', user: 'u 1', project: null, target: 'beta-x' } });
  publishVerdict(c, { decision: 'refuse', reasonCode: 'DENIED', rolloutMode: 'shadow' });
  setup?.(c);
  return formatAuditRecord(buildAuditRecord(c, ok, config), format);
}

describe('audit records with the replay capture parse back into what the policy read', () => {
  it.each(REQUESTS.flatMap((r) => (['logfmt', 'json'] as const).map((format) => ({ ...r, format }))))('$endpoint, $format', ({ endpoint, request, format }) => {
    const line = recordLine(endpoint, request, format);
    expect(line).not.toContain('\n');
    const item = parseLine(line, 3) as ReplayItem;
    expect(item.kind).toBe('item');
    expect(item).toMatchObject({ id: 'req-7', line: 3, policyId: 'p', endpoint, meta: { user: 'u 1', project: null, target: 'beta-x' }, redactedInput: false });
    expect(item.recorded).toEqual({ decision: 'refuse', effective: 'allow', reason: 'DENIED' });
    expect(item.prompt).toEqual(readPrompt(endpoint, request));
    expect(item.request.model).toBe('m');
  });

  it('the capture is redacted by the policy\'s request-scope redaction, and says so', () => {
    const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'mail bob@example.com now' }] };
    const line = recordLine('chat', request, 'logfmt', (c) => {
      c.set(requestRedactorKey, { redact: (t, _s, counts) => { counts.email = (counts.email ?? 0) + 1; return t.replace(/\S+@\S+/, '[EMAIL]'); } });
    });
    expect(line).not.toContain('bob@example.com');
    const item = parseLine(line, 1) as ReplayItem;
    expect(item.prompt!.segments.map((s) => s.text)).toEqual(['mail [EMAIL] now']);
    expect(item.redactedInput).toBe(true);
  });

  it('a prompt longer than the capture limit is marked truncated and counted as not replayable', () => {
    const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(MAX_REPLAY_TEXT + 1) }] };
    expect(parseLine(recordLine('chat', request, 'json'), 1)).toEqual({ kind: 'skip', id: 'req-7', line: 1, reason: 'input longer than the capture limit' });
  });
});

describe('the capture is the client\'s prompt, before any policy edit', () => {
  const runner = new ChainRunner(createMetrics(new Registry(), [], { defaults: false }), 1000);
  /** A plugin that edits the request as decide does on a rewrite: a system message inserted first. */
  const editor: PluginHooks = { onRequest: (ctx) => { (ctx.request as ChatRequest).messages.unshift({ role: 'system', content: 'policy instruction' }); } };
  const policyWith = (audit: PluginHooks): CompiledPolicy => {
    const plugins = [{ name: 'editor', hooks: editor }, { name: 'auditor', hooks: audit }];
    return { id: 'p', file: 'p.policy', line: 1, description: null, isDefault: false, endpoints: ['chat'], stateless: false, plugins, chain: buildChain(plugins) };
  };

  it.each([
    { note: 'replay on: the chain reads the prompt before the first hook', replay: true, roles: ['user'] },
    { note: 'without it the view is read on first use, after the edit (why the chain must read it first)', replay: false, roles: ['system', 'user'] },
  ])('$note', async ({ replay, roles }) => {
    const policy = policyWith(withReplay({ ...config, replay }, auditHooks({ ...config, replay })));
    expect(policy.chain.promptFirst).toBe(replay);
    const c = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    await runRequestPhase(runner, policy, c);
    expect((c.request as ChatRequest).messages).toHaveLength(2);
    expect(JSON.parse(replayCapture(c)).roles).toEqual(roles);
  });
});

describe('parseLogfmtRecord', () => {
  it('decodes quoted values with their escapes and maps "-" to null', () => {
    expect(parseLogfmtRecord('2026-01-13T10:12:42Z a=- b="-" c="x \\"y\\" \\\\ \\n \\u2028" d=plain')).toEqual(
      Object.assign(Object.create(null), { timestamp: '2026-01-13T10:12:42Z', a: null, b: '-', c: 'x "y" \\ \n \u2028', d: 'plain' }));
  });

  it.each([
    ['2026-01-13T10:12:42Z a="open', /unterminated quoted value of "a"/],
    ['2026-01-13T10:12:42Z novalue', /no "=" after column 22/],
    ['2026-01-13T10:12:42Z a="x"b=1', /expected a space at column 27/],
    ['2026-01-13T10:12:42Z a="\\q"', /bad escape in the value of "a"/],
  ])('%s is malformed', (line, why) => {
    expect(parseLogfmtRecord(line)).toMatch(why);
  });
});

describe('readLines', () => {
  const lines = async (chunks: (string | Buffer)[], max?: number) => {
    const out: { line: number; text: string | null }[] = [];
    for await (const l of readLines(Readable.from(chunks), max)) out.push(l);
    return out;
  };

  it('numbers lines across chunk splits (inside a UTF-8 character too), accepts CRLF and a last line without a newline', async () => {
    const bytes = Buffer.from('ab\r\nçé\n\nlast');
    expect(await lines([bytes.subarray(0, 5), bytes.subarray(5, 6), bytes.subarray(6)])).toEqual([
      { line: 1, text: 'ab' }, { line: 2, text: 'çé' }, { line: 3, text: '' }, { line: 4, text: 'last' },
    ]);
  });

  it('gives a line longer than the limit as null, whatever the chunking, and goes on', async () => {
    expect(await lines(['123456', '789\nok\n', '123456789'], 8)).toEqual([{ line: 1, text: null }, { line: 2, text: 'ok' }, { line: 3, text: null }]);
    expect(await lines(['12345678\n'], 8)).toEqual([{ line: 1, text: '12345678' }]);
  });
});
