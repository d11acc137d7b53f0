// `policy-gateway replay` as a user runs it (the real CLI as a process): a generated record set with a known diff (the
// expectation computed here from the texts, independently of the replay code), the --fail-on exit codes, a git
// revision as --old (a temporary repository), bad lines reported with their numbers, and usage errors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rulesDir, runCli } from '../helpers/gateway-process.ts';

const OLD_RULES = {
  'shop.policy': `policy "shop" {
  default
  topics { deny "competitor pricing" }
  respond { when denylist refuse reason "DENIED"; otherwise allow }
}
`,
  'care.policy': `policy "care" {
  topics { deny "hurt myself" }
  respond { when denylist rewrite reason "CARE" with "Answer with care."; otherwise allow }
  rollout {
    shadow target "beta"
    default enforce
  }
}
`,
};
/** The change under review: "wire transfer" joins the shop's denylist; care refuses instead of rewriting. */
const NEW_RULES = {
  'shop.policy': OLD_RULES['shop.policy'].replace('deny "competitor pricing"', 'deny "competitor pricing", "wire transfer"'),
  'care.policy': OLD_RULES['care.policy'].replace('when denylist rewrite reason "CARE" with "Answer with care."', 'when denylist refuse reason "CARE_REFUSED"'),
};

interface Triple { decision: string; effective: string; reason: string }
interface Bucket { policy: string; changed: boolean; count: number; old: Triple; new: Triple; examples: string[] }
interface Report {
  lines: number; replayed: number; changed: number; buckets: Bucket[];
  not_replayable: { reason: string; count: number }[]; bad_lines: { count: number; listed: { line: number; reason: string }[] };
  gate: { matched: number; terms: { term: string; count: number }[] } | null;
}

const FRAGMENTS = ['What is the competitor pricing?', 'Can I pay by wire transfer?', 'I want to hurt myself', 'Where is my parcel?', 'Thanks a lot'];
const TARGETS = [null, 'beta', 'prod'];

/** The decision a text gets, worked out from the rules above by hand (no gateway code involved). */
function expected(policy: string, text: string, target: string | null, rules: 'old' | 'new'): Triple {
  const t = (decision: string, reason: string, shadow = false): Triple => ({ decision, effective: shadow ? 'allow' : decision, reason });
  if (policy === 'shop') {
    if (text.includes('competitor pricing') || (rules === 'new' && text.includes('wire transfer'))) return t('refuse', 'DENIED');
    return t('allow', 'ALLOW');
  }
  const shadow = target === 'beta';
  if (text.includes('hurt myself')) return rules === 'old' ? t('rewrite', 'CARE', shadow) : t('refuse', 'CARE_REFUSED', shadow);
  return t('allow', 'ALLOW', shadow);
}

let oldDir: string;
let newDir: string;
let records: string;
const expectedBuckets = new Map<string, { count: number; ids: Set<string> }>();
let allowToRefuse = 0;
let rewriteToRefuse = 0;
const N = 240;
const keyOf = (policy: string, o: Triple, n: Triple): string => [policy, o.decision, o.effective, o.reason, n.decision, n.effective, n.reason].join('|');

beforeAll(() => {
  oldDir = rulesDir(OLD_RULES);
  newDir = rulesDir(NEW_RULES);
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const policyChoice = rnd(3); // 0: shop by name, 1: care, 2: no policy named (the default, shop)
    const policy = policyChoice === 1 ? 'care' : 'shop';
    const text = `${FRAGMENTS[rnd(FRAGMENTS.length)]} ${FRAGMENTS[rnd(FRAGMENTS.length)]}`;
    const target = TARGETS[rnd(3)]!;
    const id = `req-${i}`;
    const body: Record<string, unknown> = { model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: text }] };
    if (target !== null) body.policy_target = target;
    if (i % 2 === 0) lines.push(JSON.stringify({ id, ...(policyChoice === 2 ? {} : { policy }), request: body }));
    else lines.push(JSON.stringify({ ...body, ...(policyChoice === 2 ? {} : { policy_id: policy }) }));
    const lineId = i % 2 === 0 ? id : `line-${i + 1}`;
    const o = expected(policy, text, target, 'old');
    const n = expected(policy, text, target, 'new');
    const b = expectedBuckets.get(keyOf(policy, o, n)) ?? { count: 0, ids: new Set<string>() };
    b.count++;
    b.ids.add(lineId);
    expectedBuckets.set(keyOf(policy, o, n), b);
    if ((o.decision === 'allow' && n.decision === 'refuse') || (o.effective === 'allow' && n.effective === 'refuse')) allowToRefuse++;
    if ((o.decision === 'rewrite' && n.decision === 'refuse') || (o.effective === 'rewrite' && n.effective === 'refuse')) rewriteToRefuse++;
  }
  records = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-replay-')), 'records.jsonl');
  writeFileSync(records, `${lines.join('\n')}\n`);
});

async function replayJson(args: string[], opts: { cwd?: string } = {}): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await runCli(['replay', ...args, '--format', 'json'], opts);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

describe('replay: a generated record set with a known diff', () => {
  it('counts every (old -> new) bucket per policy as worked out by hand, with example ids from the right bucket', async () => {
    const { code, report } = await replayJson(['--from', records, '--old', oldDir, '--new', newDir]);
    expect(code).toBe(0);
    expect(report.replayed).toBe(N);
    expect(report.bad_lines.count).toBe(0);
    const got = new Map(report.buckets.map((b) => [keyOf(b.policy, b.old, b.new), b]));
    expect(new Set(got.keys())).toEqual(new Set(expectedBuckets.keys()));
    for (const [k, want] of expectedBuckets) {
      const b = got.get(k)!;
      expect(b.count, k).toBe(want.count);
      expect(b.changed).toBe(!k.endsWith(k.split('|').slice(1, 4).join('|')));
      for (const id of b.examples) expect(want.ids.has(id), `${id} in ${k}`).toBe(true);
      expect(b.examples.length).toBe(Math.min(3, want.count));
    }
    const changed = [...expectedBuckets].filter(([k]) => { const p = k.split('|'); return p.slice(1, 4).join() !== p.slice(4).join(); })
      .reduce((n, [, b]) => n + b.count, 0);
    expect(report.changed).toBe(changed);
    expect(changed).toBeGreaterThan(0);
  });

  it('the text report names each policy and its changed buckets', async () => {
    const r = await runCli(['replay', '--from', records, '--old', oldDir, '--new', newDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^replay: 240 lines read — 240 replayed, 0 not replayable, 0 bad$/m);
    expect(r.stdout).toMatch(/^policy care$/m);
    expect(r.stdout).toMatch(/^ +\d+ +allow ALLOW -> refuse DENIED +e\.g\. /m);
    expect(r.stdout).toMatch(/^ +\d+ +rewrite CARE \(effective allow\) -> refuse CARE_REFUSED \(effective allow\)/m);
    expect(r.stdout).toMatch(/^240 records replayed under both rule sets in \d+\.\d\d s$/m);
  });
});

describe('replay --fail-on', () => {
  it.each([
    { spec: 'refuse->allow', code: 0, matched: () => 0 },
    { spec: 'allow->refuse', code: 1, matched: () => allowToRefuse },
    { spec: 'rewrite->refuse,refuse->allow', code: 1, matched: () => rewriteToRefuse },
    { spec: 'any-flip', code: 1, matched: () => [...expectedBuckets].filter(([k]) => { const p = k.split('|'); return p[1] !== p[4] || p[2] !== p[5]; }).reduce((n, [, b]) => n + b.count, 0) },
  ])('$spec exits $code', async ({ spec, code, matched }) => {
    const r = await replayJson(['--from', records, '--old', oldDir, '--new', newDir, '--fail-on', spec]);
    expect(r.code).toBe(code);
    expect(r.report.gate!.matched).toBe(matched());
  });

  it('the same rules on both sides pass any-change', async () => {
    const r = await replayJson(['--from', records, '--old', newDir, '--new', newDir, '--fail-on', 'any-change']);
    expect([r.code, r.report.changed, r.report.gate!.matched]).toEqual([0, 0, 0]);
  });

  it.each([
    { args: ['--fail-on', 'allow->maybe'], msg: /unknown decision "maybe"/ },
    { args: ['--fail-on', 'allow'], msg: /"allow" is not FROM->TO/ },
    { args: ['--old'], msg: /--old needs a value/ },
    { args: ['stray'], msg: /unexpected argument "stray"/ },
  ])('bad usage exits 2: $args', async ({ args, msg }) => {
    const base = ['replay', '--from', records, '--new', newDir];
    const r = await runCli([...base, ...(args[0] === '--old' ? [] : ['--old', oldDir]), ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  it('rules that do not load exit 2 with their diagnostics', async () => {
    const broken = rulesDir({ 'a.policy': 'policy "a" { respond { when denylist refuse; otherwise alow } }\n' });
    const r = await runCli(['replay', '--from', records, '--old', oldDir, '--new', broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a\.policy:1:\d+: error\[POL\d{4}\]/);
    expect(r.stderr).toMatch(/do not load/);
  });

  it('a missing records file exits 2', async () => {
    const r = await runCli(['replay', '--from', '/nonexistent/records.jsonl', '--old', oldDir, '--new', newDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read "\/nonexistent\/records\.jsonl": no such file/);
  });
});

describe('replay --old with a git revision', () => {
  let repo: string;
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });

  beforeAll(() => {
    repo = mkdtempSync(path.join(tmpdir(), 'pgw-replay-git-'));
    git('init', '-q', '-b', 'main');
    git('config', 'user.email', 't@example.com');
    git('config', 'user.name', 'test');
    for (const [f, t] of Object.entries(OLD_RULES)) { execFileSync('mkdir', ['-p', path.join(repo, 'rules')]); writeFileSync(path.join(repo, 'rules', f), t); }
    git('add', '.');
    git('commit', '-qm', 'old rules');
    for (const [f, t] of Object.entries(NEW_RULES)) writeFileSync(path.join(repo, 'rules', f), t); // the uncommitted change under review
  });

  it('HEAD (the --new path in that revision) gives the same diff as the old directory', async () => {
    const fromGit = await replayJson(['--from', records, '--old', 'HEAD', '--new', 'rules', '--fail-on', 'allow->refuse'], { cwd: repo });
    const fromDir = await replayJson(['--from', records, '--old', oldDir, '--new', newDir, '--fail-on', 'allow->refuse']);
    expect(fromGit.code).toBe(1);
    expect(fromGit.report.buckets).toEqual(fromDir.report.buckets);
    expect(fromGit.report.gate!.matched).toBe(allowToRefuse);
  });

  it('REV:path names the directory explicitly; the committed rules against themselves change nothing', async () => {
    git('stash', '-q');
    try {
      const r = await replayJson(['--from', records, '--old', 'main:rules', '--new', 'rules', '--fail-on', 'any-change'], { cwd: repo });
      expect([r.code, r.report.changed, r.report.replayed]).toEqual([0, 0, N]);
      // Both sides from git: a bare revision on --new means rules/ in it.
      const both = await replayJson(['--from', records, '--old', 'main', '--new', 'HEAD', '--fail-on', 'any-change'], { cwd: repo });
      expect([both.code, both.report.changed, both.report.replayed]).toEqual([0, 0, N]);
    } finally {
      git('stash', 'pop', '-q');
    }
  });

  it('an unknown revision, and a revision outside any repository, exit 2 with a clear error', async () => {
    const unknown = await runCli(['replay', '--from', records, '--old', 'no-such-rev', '--new', 'rules'], { cwd: repo });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown git revision "no-such-rev"/);
    const outside = mkdtempSync(path.join(tmpdir(), 'pgw-replay-norepo-'));
    const r = await runCli(['replay', '--from', records, '--old', 'HEAD~1', '--new', newDir], { cwd: outside });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not inside a git repository/);
  });
});

describe('replay --from - (standard input)', () => {
  it('reads the records from standard input; --policy names the policy of requests that name none', async () => {
    const input = `${JSON.stringify({ id: 's1', policy: 'shop', request: { model: 'm', messages: [{ role: 'user', content: 'wire transfer' }] } })}\n`
      + `${JSON.stringify({ id: 's2', request: { model: 'm', messages: [{ role: 'user', content: 'I want to hurt myself' }] } })}\n`;
    const r = await runCli(['replay', '--from', '-', '--old', oldDir, '--new', newDir, '--policy', 'care', '--format', 'json'], { input });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.buckets.map((b) => [b.policy, b.old.decision, b.new.decision, b.examples])).toEqual([
      ['care', 'rewrite', 'refuse', ['s2']], ['shop', 'allow', 'refuse', ['s1']],
    ]);
  });
});

describe('replay: bad lines', () => {
  it('are reported with their line numbers and skipped; the good lines are replayed', async () => {
    const good = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'wire transfer' }], policy_id: 'shop' });
    const lines = [
      good,
      '{"model": "m", "messages": [',                              // 2: truncated JSON
      '[1, 2, 3]',                                                 // 3: not an object
      JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }), // 4: no model
      '',                                                          // 5: blank, ignored
      '2026-01-13T10:12:42Z policy_id=shop decision=allow reason_code=ALLOW request_id=r1 replay="{\\"v\\":1', // 6: unterminated quote
      JSON.stringify({ id: 'w', request: { model: 'm', input: 'hi' }, endpoint: 'speech' }), // 7: unknown endpoint
      `{"model":"m","messages":[{"role":"user","content":"${'x'.repeat(5 * 1024 * 1024)}"}]}`, // 8: longer than 4 MiB
      good,
    ];
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pgw-replay-bad-')), 'bad.jsonl');
    writeFileSync(file, lines.join('\n')); // no final newline: the last line still counts
    const { code, report } = await replayJson(['--from', file, '--old', oldDir, '--new', newDir, '--fail-on', 'allow->refuse']);
    expect(code).toBe(1);
    expect(report.lines).toBe(9);
    expect(report.replayed).toBe(2);
    expect(report.bad_lines.count).toBe(6);
    expect(report.bad_lines.listed.map((b) => b.line)).toEqual([2, 3, 4, 6, 7, 8]);
    expect(report.bad_lines.listed.map((b) => b.reason)).toEqual([
      'neither JSON nor a logfmt audit record', 'a JSON value that is not an object', 'a request without "model"',
      expect.stringMatching(/^malformed logfmt audit record: unterminated quoted value of "replay"/),
      expect.stringMatching(/^unknown endpoint "speech"/), 'line longer than 4 MiB',
    ]);
  });
});
