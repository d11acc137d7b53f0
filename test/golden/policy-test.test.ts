// `policy-gateway test` as users run it (the real CLI as a process): goldens of a passing file, a deliberately broken rule
// with its diffs, JUnit XML read back by a JUnit parser (junit2json), JSON, coverage naming what no test exercised, a
// malformed test file's diagnostics; and the bundled rules/ pass their own tests with every respond rule covered.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseJunit } from 'junit2json';
import { runCli } from '../helpers/gateway-process.ts';

const DIR = 'test/golden/policy-test';
const golden = (name: string) => new URL(`./policy-test/${name}`, import.meta.url).pathname;
/** Run times are the one thing that differs between runs. */
const timeless = (s: string) => s.replace(/time="\d+\.\d{3}"/g, 'time="0.000"').replace(/"duration_ms": [\d.]+/g, '"duration_ms": 0');

describe('policy-gateway test (goldens)', () => {
  it('a passing file: every case listed with --verbose, full coverage, exit 0', async () => {
    const r = await runCli(['test', `${DIR}/shop`, '--verbose', '--coverage']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(golden('passing.txt'));
  });

  it('a deliberately broken rule: each failing expectation as an expected/actual diff with its file:line, exit 1', async () => {
    const r = await runCli(['test', `${DIR}/shop`, '--rules', `${DIR}/broken`]);
    expect(r.code).toBe(1);
    await expect(r.stdout).toMatchFileSnapshot(golden('broken.txt'));
    expect(r.stdout).toContain(`FAIL ${DIR}/shop/shop.policy.test:15: shop › asking for a gift card balance check is refused`);
    expect(r.stdout).toContain('    - expected: refuse\n    + actual:   rewrite');
    expect(r.stdout).toMatch(/^1 passed, 2 failed /m);
  });

  it('--format junit: JUnit XML that a JUnit parser reads back with the same counts, names and failures', async () => {
    const r = await runCli(['test', `${DIR}/shop`, '--rules', `${DIR}/broken`, '--format', 'junit']);
    expect(r.code).toBe(1);
    await expect(timeless(r.stdout)).toMatchFileSnapshot(golden('broken.junit.xml'));
    const parsed = await parseJunit(r.stdout);
    expect(parsed).toBeDefined();
    const suites = parsed as { tests?: number; failures?: number; errors?: number; testsuite?: { name?: string; tests?: number; failures?: number; testcase?: { name?: string; classname?: string; failure?: { message?: string; inner?: string }[] }[] }[] };
    expect([suites.tests, suites.failures, suites.errors]).toEqual([3, 2, 0]);
    expect(suites.testsuite).toHaveLength(1);
    const suite = suites.testsuite![0]!;
    expect([suite.name, suite.tests, suite.failures]).toEqual([`${DIR}/shop/shop.policy.test`, 3, 2]);
    expect(suite.testcase!.map((c) => [c.classname, c.name, c.failure?.length ?? 0])).toEqual([
      ['shop', 'an ordinary question is answered, contact details redacted', 0],
      ['shop', 'asking for a gift card balance check is refused', 1],
      ['shop', 'a card dump is refused too', 1],
    ]);
    const failure = suite.testcase![1]!.failure![0]!;
    expect(failure.message).toBe('expect decision (line 18): expected refuse, got rewrite');
    expect(failure.inner).toContain('- expected: "I can\'t help with that."');
  });

  it('a policy file given alone brings its tests; with --format junit, coverage goes to stderr', async () => {
    const r = await runCli(['test', `${DIR}/shop/shop.policy`]);
    expect([r.code, r.stdout]).toEqual([0, '3 passed, 0 failed (3 tests in 1 file, 3 requests)\n']);
    const j = await runCli(['test', `${DIR}/partial`, '--rules', `${DIR}/shop`, '--format', 'junit', '--coverage']);
    expect(j.code).toBe(0);
    expect(j.stdout).toMatch(/^<\?xml /);
    expect(j.stderr).toContain(`${DIR}/shop/shop.policy:7: respond rule not exercised:`);
  });

  it('--run TEXT runs only the tests whose "policy › name" contains it', async () => {
    const r = await runCli(['test', `${DIR}/shop`, '--rules', `${DIR}/broken`, '--run', 'card dump', '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL test/golden/policy-test/shop/shop.policy.test:26: shop › a card dump is refused too');
    expect(r.stdout).toMatch(/^0 passed, 1 failed \(1 test in 1 file, 1 request\)$/m);
    const none = await runCli(['test', `${DIR}/shop`, '--run', 'shop › nothing like this']);
    expect([none.code, none.stdout]).toEqual([0, '0 passed, 0 failed (0 tests in 0 files, 0 requests)\n']);
  });

  it('a parser rejects nothing: names with markup and control characters still give well-formed XML', async () => {
    const { renderJunit } = await import('../../src/testing/report.ts');
    const c = { policyId: 'p<&>', policyIdSpan: undefined as never, name: 'a "b" <c> & \u0001d\'', file: 'x&y.policy.test', line: 1, steps: [] };
    const xml = renderJunit([{ case: c, passed: false, mismatches: [{ field: 'answer', expected: '"<x>"', actual: '"]]>&"', line: 2, request: 1 }], requests: 1, durationMs: 1 }]);
    const parsed = await parseJunit(xml) as { testsuite: { name: string; testcase: { name: string; classname: string; failure: { inner: string }[] }[] }[] };
    expect(parsed.testsuite[0]!.name).toBe('x&y.policy.test');
    expect(parsed.testsuite[0]!.testcase[0]!.name).toBe('a "b" <c> & d\'');
    expect(parsed.testsuite[0]!.testcase[0]!.classname).toBe('p<&>');
    expect(parsed.testsuite[0]!.testcase[0]!.failure[0]!.inner).toContain('+ actual:   "]]>&"');
  });

  it('--format json: the summary and every failure with its field, line, expected and actual value', async () => {
    const r = await runCli(['test', `${DIR}/shop`, '--rules', `${DIR}/broken`, '--format', 'json']);
    expect(r.code).toBe(1);
    await expect(timeless(r.stdout)).toMatchFileSnapshot(golden('broken.json'));
    const j = JSON.parse(r.stdout) as { summary: { passed: number; failed: number }; tests: { status: string; failures: { field: string; line: number; expected: string; actual: string }[] }[] };
    expect(j.summary).toMatchObject({ passed: 1, failed: 2 });
    expect(j.tests.map((t) => t.status)).toEqual(['pass', 'fail', 'fail']);
    expect(j.tests[2]!.failures).toEqual([{ field: 'decision', line: 29, request: 1, expected: 'refuse', actual: 'rewrite' }]);
  });

  it('--coverage names the respond rule, phrases and detector no test exercised, with file:line', async () => {
    const r = await runCli(['test', `${DIR}/partial`, '--rules', `${DIR}/shop`, '--coverage']);
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(golden('coverage.txt'));
    expect(r.stdout).toContain(`${DIR}/shop/shop.policy:7: respond rule not exercised: when denylist refuse reason "FRAUD_RISK"`);
    expect(r.stdout).toContain(`${DIR}/shop/shop.policy:11: redaction detector not exercised: phone`);
    expect(r.stdout).not.toContain('otherwise allow');
  });

  it('coverage and explain agree: the respond rule explain says decided is the one coverage counts as exercised', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-cov-'));
    const req = join(dir, 'req.json');
    writeFileSync(req, JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'Do you ship to Canada?' }] }));
    const explained = await runCli(['explain', '--policy', 'shop', '--request', req, '--rules', `${DIR}/shop`, '--format', 'json']);
    rmSync(dir, { recursive: true, force: true });
    expect(explained.code).toBe(0);
    const decide = (JSON.parse(explained.stdout) as { steps: { plugin: string; rule?: string }[] }).steps.find((st) => st.plugin === 'decide');
    expect(decide?.rule).toBe(`${DIR}/shop/shop.policy:8`);
    const r = await runCli(['test', `${DIR}/partial`, '--rules', `${DIR}/shop`, '--coverage', '--format', 'json']);
    const cov = JSON.parse(r.stdout) as { coverage: { file: string; items: { kind: string; line: number; exercised: boolean }[] }[] };
    const respond = cov.coverage.flatMap((f) => f.items.filter((i) => i.kind === 'respond').map((i) => ({ at: `${f.file}:${i.line}`, exercised: i.exercised })));
    expect(respond.filter((i) => i.exercised).map((i) => i.at)).toEqual([decide!.rule]);
  });

  it('a malformed test file: diagnostics like a .policy file\'s (POL10xx), no test run, exit 2', async () => {
    const r = await runCli(['test', `${DIR}/malformed`, '--rules', `${DIR}/shop`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    await expect(r.stderr).toMatchFileSnapshot(golden('malformed.diag'));
    expect(r.stderr).toContain(`${DIR}/malformed/shop.policy.test:5:15: error[POL1003]: unknown statement "mesage" in request`);
    expect(r.stderr).toMatch(/no test was run\n$/);
  });

  it.each([
    { note: 'an unknown format', args: ['--format', 'xml'], err: '--format must be "text", "junit" or "json"' },
    { note: 'an unknown option', args: ['--coverag'], err: 'unknown option "--coverag"' },
    { note: '--rules without a value', args: ['--rules'], err: '--rules needs a value' },
  ])('bad usage ($note) exits 2 with the usage', async ({ args, err }) => {
    const r = await runCli(['test', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(err);
    expect(r.stderr).toContain('usage: policy-gateway test');
  });
});

describe('the bundled rules ship tests', () => {
  it('policy-gateway test rules/ passes, and every respond rule, phrase and detector of the bundled policies is exercised', async () => {
    const r = await runCli(['test', 'rules', '--coverage', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { summary: { failed: number; tests: number }; coverage: { file: string; items: { kind: string; line: number; text: string; exercised: boolean }[] }[] };
    expect(j.summary.failed).toBe(0);
    expect(j.summary.tests).toBeGreaterThan(10);
    const items = j.coverage.flatMap((f) => f.items.map((i) => ({ ...i, file: f.file })));
    const respond = items.filter((i) => i.kind === 'respond');
    // demo: 5 rules; support-bot: 4; policy-gateway: 3.
    expect(respond).toHaveLength(12);
    expect(items.filter((i) => !i.exercised)).toEqual([]);
    // Tracing for coverage changes no outcome: the same tests pass untraced.
    const plain = await runCli(['test', 'rules']);
    expect([plain.code, plain.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^${j.summary.tests} passed, 0 failed `))]);
  });

  it('check reports a malformed test file like a policy (exit 1), fmt leaves it alone', async () => {
    const check = await runCli(['check', `${DIR}/malformed`]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`${DIR}/malformed/shop.policy.test:7:7: error[POL1003]: unknown statement "decison" in expect`);
    expect(check.stderr).toContain('error[POL1008]: no policy "shop" in the rule set under test');
    const fmt = await runCli(['fmt', '--check', `${DIR}/malformed`]);
    expect([fmt.code, fmt.stdout]).toEqual([0, '']); // syntactically fine and formatted: its mistakes are check's business
  });

  it('check and fmt --check accept the bundled test files', async () => {
    const check = await runCli(['check', 'rules']);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^ok: 3 policies in 2 files, \d+ tests in 2 test files, revision [0-9a-f]{12}\n$/);
    const fmt = await runCli(['fmt', '--check', 'rules']);
    expect([fmt.code, fmt.stdout]).toEqual([0, '']);
  });
});
