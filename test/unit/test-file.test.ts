// Policy test files (src/testing/test-file.ts): what each statement reads into a case, how a send's request and
// expectations combine with the case's, and the POL10xx diagnostic each mistake gets (never a throw).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTestFile, type Step } from '../../src/testing/test-file.ts';

const one = (body: string) => parseTestFile(`policy "p" {\n  test "t" {\n${body}\n  }\n}\n`, 'a.policy.test');
const sends = (steps: readonly Step[]) => steps.filter((s) => s.kind === 'send');

describe('parseTestFile', () => {
  it('reads a case: request fields, the answer and its expectations, one implicit send', () => {
    const f = one(`    request {
      endpoint responses
      model "m1"
      message system "Be brief."
      message user "Hi"
      body """{ "temperature": 0 }"""
      user "u"; project "pr"; target "tg"; key "pgk_x"
      header "X-Trace" "1"
    }
    answer "Hello a@b.example"
    expect {
      decision allow
      reason ALLOW
      denylist_hits "x", /y+/i
      categories "b", "a"
      redacted phone, email
      instruction none
      max_tokens 120
      answer "Hello [EMAIL]"
      status 200
      rule none
      header "X-RateLimit-Remaining-Requests" "59"
      header "retry-after" none
    }`);
    expect(f.diagnostics).toEqual([]);
    expect(f.cases).toHaveLength(1);
    const c = f.cases[0]!;
    expect([c.policyId, c.name, c.file, c.line]).toEqual(['p', 't', 'a.policy.test', 2]);
    const [s] = sends(c.steps);
    expect(s).toMatchObject({
      times: 1,
      request: { endpoint: 'responses', model: 'm1', messages: [{ role: 'system', text: 'Be brief.' }, { role: 'user', text: 'Hi' }],
        body: { temperature: 0 }, user: 'u', project: 'pr', target: 'tg', key: 'pgk_x', headers: { 'x-trace': '1' } },
      answer: { kind: 'text', text: 'Hello a@b.example' },
    });
    expect(s!.kind === 'send' && s.expects.map((e) => [e.field, e.expected])).toEqual([
      ['decision', 'allow'], ['reason', 'ALLOW'], ['denylist_hits', '["x", "/y+/i"]'], ['categories', '["a", "b"]'],
      ['redacted', '["email", "phone"]'], ['instruction', 'none'], ['max_tokens', '120'], ['answer', '"Hello [EMAIL]"'],
      ['status', '200'], ['rule', 'none'], ['header', '"59"'], ['header', 'none'],
    ]);
    expect(s!.kind === 'send' && s.expects.filter((e) => e.field === 'header').map((e) => e.name)).toEqual(['x-ratelimit-remaining-requests', 'retry-after']);
  });

  it('combines each send with the case: request fields override, expectations add up; at and wait stay in order', () => {
    const f = one(`    request { user "u"; message user "base" }
    expect decision allow
    at "2026-03-02T09:00:00Z"
    send 3 { expect status 200 }
    wait 90s
    send {
      request { message user "other" }
      answer stream "a", "b"
      expect { status 429 }
    }`);
    expect(f.diagnostics).toEqual([]);
    const steps = f.cases[0]!.steps;
    expect(steps.map((s) => s.kind)).toEqual(['at', 'send', 'wait', 'send']);
    expect(steps[0]).toMatchObject({ time: Date.UTC(2026, 2, 2, 9) });
    expect(steps[2]).toMatchObject({ ms: 90_000 });
    expect(steps[1]).toMatchObject({ times: 3, request: { user: 'u', messages: [{ role: 'user', text: 'base' }] } });
    expect(steps[3]).toMatchObject({ times: 1, request: { user: 'u', messages: [{ role: 'user', text: 'other' }] }, answer: { kind: 'stream', chunks: ['a', 'b'] } });
    const fields = (s: Step) => (s.kind === 'send' ? s.expects.map((e) => `${e.field}=${e.expected}`) : []);
    expect(fields(steps[1]!)).toEqual(['decision=allow', 'status=200']);
    expect(fields(steps[3]!)).toEqual(['decision=allow', 'status=429']);
  });

  it.each([
    { note: 'a block that is not a test', text: 'policy "p" {\n  tset "t" { expect status 200 }\n}\n', code: 'POL1001', message: 'expected a test, found "tset"' },
    { note: 'a setting in a test section', text: 'policy "p" {\n  default\n}\n', code: 'POL1001', message: 'expected a test, found "default"' },
    { note: 'a test without a name', text: 'policy "p" {\n  test { expect status 200 }\n}\n', code: 'POL1002', message: 'a test needs a name' },
    { note: 'two tests of one name', text: 'policy "p" {\n  test "t" { expect status 200 }\n  test "t" { expect status 200 }\n}\n', code: 'POL1002', message: 'duplicate test name "t"' },
    { note: 'a misspelt expectation', text: 'policy "p" {\n  test "t" { expect { statsu 200 } }\n}\n', code: 'POL1003', message: 'unknown statement "statsu" in expect' },
    { note: 'a misspelt request field', text: 'policy "p" {\n  test "t" { request { modle "m" }; expect status 200 }\n}\n', code: 'POL1003', message: 'unknown statement "modle" in request' },
    { note: 'an unknown decision', text: 'policy "p" {\n  test "t" { expect decision deny }\n}\n', code: 'POL1004', message: 'expected a decision, found "deny"' },
    { note: 'a message without its role', text: 'policy "p" {\n  test "t" { request { message "hi" }; expect status 200 }\n}\n', code: 'POL1004', message: '"message" takes 2 values' },
    { note: 'a send count of zero', text: 'policy "p" {\n  test "t" { send 0 { expect status 200 } }\n}\n', code: 'POL1004', message: '"send" takes an optional count from 1 to 10000' },
    { note: 'a header without its value', text: 'policy "p" {\n  test "t" { expect header "retry-after" }\n}\n', code: 'POL1004', message: '"header" takes a header name and its value (or none)' },
    { note: 'a bare word as a hit', text: 'policy "p" {\n  test "t" { expect denylist_hits refund }\n}\n', code: 'POL1004', message: 'expected strings, found "refund"' },
    { note: 'a test without expectations (a warning)', text: 'policy "p" {\n  test "t" { request { message user "hi" } }\n}\n', code: 'POL1005', message: 'test "t" expects nothing' },
    { note: 'a body that is not JSON', text: 'policy "p" {\n  test "t" { request { body "{x" }; expect status 200 }\n}\n', code: 'POL1006', message: 'invalid JSON' },
    { note: 'a JSON answer that is an array', text: 'policy "p" {\n  test "t" { answer json "[1]"; expect status 200 }\n}\n', code: 'POL1006', message: 'expected a JSON object' },
    { note: 'a time that is not ISO 8601', text: 'policy "p" {\n  test "t" { at "March 2"; expect status 200 }\n}\n', code: 'POL1007', message: 'invalid time' },
    { note: 'a time without a zone (it would depend on the machine)', text: 'policy "p" {\n  test "t" { at "2026-03-02T09:00:00"; expect status 200 }\n}\n', code: 'POL1007', message: 'invalid time' },
    { note: 'a wait without a unit', text: 'policy "p" {\n  test "t" { wait 5; expect status 200 }\n}\n', code: 'POL1007', message: 'invalid wait' },
    { note: 'a syntax error (as in .policy files)', text: 'policy "p" {\n  test "t" { expect status 200 \n', code: 'POL0201', message: '' },
  ])('reports $note as $code', ({ text, code, message }) => {
    const f = parseTestFile(text, 'a.policy.test');
    const d = f.diagnostics.find((x) => x.code === code);
    expect(d, JSON.stringify(f.diagnostics)).toBeDefined();
    expect(d!.message).toContain(message);
    expect(d!.severity).toBe(code === 'POL1005' ? 'warning' : 'error');
  });

  it('never throws, and every diagnostic lies inside the text, on any input', () => {
    const alphabet = fc.constantFrom('policy "p" {', 'test "t" {', '}', '{', 'expect', 'send', '3', 'request', 'answer', 'stream',
      'json', '"x"', '"""{}"""', '/r/i', 'decision', 'allow', 'none', 'at', 'wait', '1m', ',', ';', '\n', ' ', 'message', 'user');
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 60 }), (parts) => {
      const text = parts.join(' ');
      const f = parseTestFile(text, 'x.policy.test');
      for (const d of f.diagnostics) {
        expect(d.span.start.offset).toBeGreaterThanOrEqual(0);
        expect(d.span.end.offset).toBeLessThanOrEqual(text.length);
      }
    }), { numRuns: 300 });
  });
});
