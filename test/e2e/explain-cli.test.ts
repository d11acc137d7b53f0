// `policy-gateway explain` as a user runs it (issue 15): the real CLI as a process prints the same explanation as the
// library's golden (text and --format json), reads a stream as SSE text, and answers usage errors with exit 2 and
// explanations it cannot make (unknown policy, invalid request, rules that do not load) with exit 1.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rulesDir, runCli } from '../helpers/gateway-process.ts';

const RULES = 'test/golden/explain/rules';
const golden = (name: string) => readFileSync(path.join('test/golden/explain', name), 'utf8');

function files(contents: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgw-explain-'));
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(contents)) { out[name] = path.join(dir, name); writeFileSync(out[name]!, text); }
  return out;
}

const refuse = files({ 'req.json': JSON.stringify({ model: 'golden-model', messages: [{ role: 'user', content: 'Hi! What is the Competitor  Pricing for plans?' }] }) });

describe('policy-gateway explain', () => {
  it('prints the golden explanation of a refused request, as text and as JSON', async () => {
    const now = ['--now', '2026-03-01T12:00:30Z'];
    const text = await runCli(['explain', '--rules', RULES, '--policy', 'assistant', '--request', refuse['req.json']!, ...now]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(golden('refuse-denylist.txt'));
    const json = await runCli(['explain', '--rules', RULES, '--policy', 'assistant', '--request', refuse['req.json']!, '--format', 'json', ...now]);
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(golden('refuse-denylist.json'));
  });

  it('reads a stream as SSE text and shows the redaction spans with the chunks they came in', async () => {
    const sse = ['Write to sup', 'port@exa', 'mple.com, or pay with 4111 1111', ' 1111 1111 today.'].map((t) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-golden', object: 'chat.completion.chunk', created: 1_772_366_400, model: 'golden-model', choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })}\n\n`).join('')
      + `data: ${JSON.stringify({ id: 'chatcmpl-golden', object: 'chat.completion.chunk', created: 1_772_366_400, model: 'golden-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
    const f = files({ 'req.json': JSON.stringify({ model: 'golden-model', messages: [{ role: 'user', content: 'How do I reach support?' }] }), 'answer.sse': sse });
    const r = await runCli(['explain', '--rules', RULES, '--policy', 'assistant', '--request', f['req.json']!, '--stream', f['answer.sse']!, '--now', '2026-03-01T12:00:30Z']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(golden('stream-redaction.txt'));
  });

  it.each([
    { note: 'no --policy', args: ['--request', 'x.json'], code: 2, err: '--policy is required' },
    { note: 'an unknown option', args: ['--policy', 'p', '--request', 'x.json', '--bogus'], code: 2, err: 'Unknown option' },
    { note: 'both --answer and --stream', args: ['--policy', 'p', '--request', 'x', '--answer', 'a', '--stream', 's'], code: 2, err: 'not both' },
    { note: 'a request file that does not exist', args: ['--policy', 'assistant', '--request', '/nonexistent/req.json'], code: 2, err: 'cannot read the request file' },
  ])('usage error: $note → exit $code', async ({ args, code, err }) => {
    const r = await runCli(['explain', '--rules', RULES, ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(err);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a request file that is not JSON is a usage error naming the file', async () => {
    const f = files({ 'bad.json': '{"model": ' });
    const r = await runCli(['explain', '--rules', RULES, '--policy', 'assistant', '--request', f['bad.json']!]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the request file "${f['bad.json']!}" is not JSON`);
  });

  it('an unknown policy and an invalid request are explained failures: exit 1, the reason on stdout', async () => {
    const unknown = await runCli(['explain', '--rules', RULES, '--policy', 'nope', '--request', refuse['req.json']!]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('no policy "nope" in the rule set (policies: "assistant", "legal", "locked", "staged", "support")');
    const f = files({ 'req.json': JSON.stringify({ model: 'm', messages: 'hello' }) });
    const invalid = await runCli(['explain', '--rules', RULES, '--policy', 'assistant', '--request', f['req.json']!]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('invalid request: "messages" must be an array of { role, content } objects');
  });

  it('rules that do not load: their diagnostics and exit 1', async () => {
    const dir = rulesDir({ 'bad.policy': 'policy "p" {\n  respond { otherwise alow }\n}\n' });
    const r = await runCli(['explain', '--rules', dir, '--policy', 'p', '--request', refuse['req.json']!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[POL0460]: unknown response pattern "alow"');
    expect(r.stderr).toContain('do not load');
  });
});
