// Tests of the benchmark harness's own logic (no timing assertions): statistics, target evaluation, profile
// summaries, deny-phrase generation, the SVG/markdown report, and the fake upstream over real loopback HTTP.
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { median, percentile, Samples } from './stats.ts';
import { evaluateTargets, computeRatios, pairedNote, renderMarkdown, renderSvg, type Row, type Report } from './report.ts';
import { moduleOf, summarise } from './profile.ts';
import { generatePhrases, policyErrors, PROMPT } from './contenders.ts';
import { createUpstream, SSE_EVENT_COUNT } from './upstream.ts';
import { AB_FILES, abVerdict, attachAb, baseChoice, checkoutRev, detectionAb, runAgainstBase, type AbRow } from './detection-ab.ts';

describe('percentile and median', () => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it.each([
    { p: 50, want: 5, note: 'p50 of 1..10 is the 5th value (nearest rank)' },
    { p: 99, want: 10, note: 'p99 of 10 values is the largest' },
    { p: 10, want: 1, note: 'p10 is the first value' },
    { p: 0, want: 1, note: 'p0 clamps to the smallest' },
  ])('$note', ({ p, want }) => {
    expect(percentile(sorted, p)).toBe(want);
  });

  it('percentile of nothing is NaN', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it.each([
    { values: [3, 1, 2], want: 2, note: 'odd count: the middle value' },
    { values: [4, 1, 3, 2], want: 2.5, note: 'even count: mean of the two middle values' },
    { values: [NaN, 5, 7], want: 6, note: 'NaN (an unavailable round) is ignored' },
  ])('median: $note', ({ values, want }) => {
    expect(median(values)).toBe(want);
  });

  it('Samples grows past its initial capacity and sorts numerically', () => {
    const s = new Samples();
    for (let i = 70_000; i > 0; i--) s.push(i / 10);
    const sorted = s.sorted();
    expect(s.length).toBe(70_000);
    expect(sorted[0]).toBe(0.1);
    expect(sorted[69_999]).toBe(7000);
    expect(percentile(sorted, 50)).toBe(3500);
  });
});

function row(role: string, rps: number, p50: number, ttfb?: number, streamErrors = 0): Row {
  return {
    id: role, num: '?', label: role, what: '', role, pinnedTo: 'cpu 1', available: true, rounds: [],
    med: { rps, p50, p99: p50 * 3, p999: p50 * 5, cpuUsPerReq: 100, proxyCorePct: 90, genCorePct: 50, upCorePct: 20 },
    totalOk: 1000, totalNon2xx: 0, totalErrors: 0, statusCodes: { '200': 1000 },
    stream: ttfb === undefined ? undefined : { n: 100, ttfbP50: ttfb, ttfbP99: ttfb * 2, totalP50: ttfb + 16, totalP99: ttfb + 20, errors: streamErrors },
  };
}

describe('targets', () => {
  it('passes when the gateway keeps enough of the bare proxy and adds little latency', () => {
    const rows = [row('bare', 5000, 6.0, 1.0), row('portkey', 400, 60), row('gw-pass', 4700, 6.3, 1.4), row('gw-full', 4400, 6.4, 1.5), row('gw-console', 4200, 6.5)];
    const t = evaluateTargets(rows);
    expect(t.map((x) => [x.name, x.status])).toEqual([
      ['gateway pass-through throughput', 'PASS'],
      ['gateway pass-through added p50', 'PASS'],
      ['full chain throughput', 'PASS'],
      ['full chain added p50', 'PASS'],
      ['full chain vs Portkey', 'PASS'],
      ['console client connected', 'PASS'], // 0.955×
      ['gateway pass-through streaming TTFB', 'PASS'],
      ['full chain streaming TTFB', 'PASS'],
    ]);
  });

  it('fails each threshold it misses, and a stream that failed is never a PASS', () => {
    const rows = [row('bare', 5000, 6.0, 1.0), row('portkey', 500, 60), row('gw-pass', 4400, 6.6, 1.2, 3), row('gw-full', 4000, 7.0, 2.5), row('gw-console', 3700, 7.2)];
    const t = Object.fromEntries(evaluateTargets(rows).map((x) => [x.name, x.status]));
    expect(t).toEqual({
      'gateway pass-through throughput': 'FAIL', // 88% < 90%
      'gateway pass-through added p50': 'FAIL', // +0.6 ms
      'full chain throughput': 'FAIL', // 80% < 85%
      'full chain added p50': 'FAIL',
      'full chain vs Portkey': 'FAIL', // 8×
      'console client connected': 'FAIL', // 0.925×
      'gateway pass-through streaming TTFB': 'FAIL', // 3 failed streams
      'full chain streaming TTFB': 'FAIL', // +1.5 ms
    });
  });

  it('reports N/A with the reason when a configuration did not run', () => {
    const gw: Row = { ...row('gw-full', 0, 0), med: undefined, available: false, reason: 'serve refused: unknown block "quota"' };
    const t = evaluateTargets([row('bare', 5000, 6), gw]);
    const full = t.find((x) => x.name === 'full chain throughput')!;
    expect(full.status).toBe('N/A');
    expect(full.why).toBe('full chain unavailable, see the table');
    const console = t.find((x) => x.name === 'console client connected')!;
    expect(console.status).toBe('N/A');
    expect(console.why).toBe('full chain with a console client not measured');
  });

  it('shows the throughput ratio round by round next to the ratio of medians, which alone decides', () => {
    const bare: Row = { ...row('bare', 6098, 4.8), rounds: [{ rps: 5504 }, { rps: 6226 }, { rps: 6098 }] };
    const gw: Row = { ...row('gw-pass', 5218, 5.5), rounds: [{ rps: 5218 }, { rps: 4425 }, { rps: 6432 }] };
    expect(pairedNote(gw, bare)).toBe('; per round 0.95×, 0.71×, 1.05×, median 0.95×');
    const t = evaluateTargets([bare, gw]).find((x) => x.name === 'gateway pass-through throughput')!;
    expect(t.status).toBe('FAIL'); // 85.6% of medians, although the median round is 0.95×
    expect(t.value).toContain('per round 0.95×, 0.71×, 1.05×, median 0.95×');
    expect(pairedNote(gw, { ...bare, rounds: [{ rps: 5000 }] })).toBe('');
  });

  it('computes ratios against direct, nginx and bare, and added p50 over bare', () => {
    const rows = [row('direct', 20000, 1), row('nginx', 10000, 2), row('bare', 4000, 6), row('gw-pass', 3000, 7)];
    computeRatios(rows);
    expect(rows[3].ratios).toEqual({ direct: 0.15, nginx: 0.3, bare: 0.75 });
    expect(rows[3].addedP50VsBare).toBe(1);
  });
});

describe('report rendering', () => {
  const rep: Report = {
    date: '2026-01-02', startedAt: 'x', command: 'npm run bench', preliminary: true,
    machine: { CPU: 'Test <CPU>' }, options: { connections: 32, 'seconds per measurement': 10, rounds: 3 }, pinning: ['none'],
    rows: [row('bare', 5000, 6, 1), { ...row('gw-full', 0, 0), num: '6', label: 'Gateway & <full>', med: undefined, available: false, reason: 'a|b' }],
    targets: [], extras: [{ title: 'Quota', file: 'bench/quota.ts', status: 'ok', figures: [{ op: 'incr', 'ops/s': 1234.5678 }] }],
    notes: [], loadAvgBefore: '0', loadAvgAfter: '0',
  };

  it('escapes labels in the SVG and marks unavailable rows', () => {
    const svg = renderSvg(rep);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Gateway &amp; &lt;full&gt;');
    expect(svg).toContain('unavailable');
    expect(svg).not.toContain('<full>');
  });

  it('renders an extra section that mixes scalars, lists and nested tables', () => {
    const md = renderMarkdown({ ...rep, extras: [{ title: 'Compile', file: 'bench/policy-compile.ts', status: 'ok',
      figures: { parseMs: 38.16381, unownedBlocks: ['topics', 'quota'], perStore: [{ store: 'memory', us: 6.5 }] } }] }, 'x.svg');
    expect(md).toContain('| parseMs | 38.164 |');
    expect(md).toContain('| unownedBlocks | topics, quota |');
    expect(md).toContain('**perStore**\n\n| store | us |');
  });

  it('renders unavailable rows with their reason (pipes escaped) and extra sections as tables', () => {
    const md = renderMarkdown(rep, 'x.svg');
    expect(md).toContain('**unavailable**: a\\|b');
    expect(md).toContain('| op | ops/s |');
    expect(md).toContain('| incr | 1234.568 |');
    expect(md).toContain('(preliminary)');
  });
});

describe('profile summary', () => {
  it.each([
    { url: '', fn: '(garbage collector)', want: '(garbage collector)' },
    { url: '', fn: 'writev', want: '(native / V8 builtins)' },
    { url: 'node:_http_client', fn: 'ClientRequest', want: 'node:_http_client' },
    { url: 'file:///r/node_modules/@portkey-ai/gateway/build/start-server.js', fn: 'yu', want: '@portkey-ai/gateway' },
    { url: 'file:///r/node_modules/http-proxy-3/dist/lib/x.js', fn: 'stream', want: 'http-proxy-3' },
    { url: 'file:///r/src/server.ts', fn: 'handle', want: 'src/server.ts' },
  ])('module of $fn at "$url" is $want', ({ url, fn, want }) => {
    expect(moduleOf(url, fn, '/r')).toBe(want);
  });

  it('charges each interval to its sample and leaves idle out of busy time', () => {
    const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
    const prof = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('parse', 'file:///r/src/server.ts') },
        { id: 4, callFrame: frame('writev') },
      ],
      // samples: parse, parse, writev, idle, (end); deltas in µs are the time since the previous sample
      samples: [3, 3, 4, 2, 3],
      timeDeltas: [0, 1000, 1000, 2000, 4000],
      startTime: 0,
      endTime: 8000,
    };
    const s = summarise(prof, '/r');
    expect(s.totalMs).toBe(8);
    expect(s.idleMs).toBe(4);
    expect(s.busyMs).toBe(4);
    expect(s.byFunction.map((f) => [f.name, f.ms])).toEqual([
      ['parse src/server.ts:1', 2],
      ['writev', 2],
    ]);
    expect(s.byModule.find((m) => m.name === 'src/server.ts')?.pct).toBe(50);
  });
});

describe('gateway start-up diagnostics', () => {
  it('extracts each policy error once, without the source excerpt', () => {
    const out = [
      '/tmp/x/bench.policy:6:3: error[POL0302]: unknown block "moderation"',
      '   |', ' 6 |   moderation { provider builtin }', '   |   ^^^^^^^^^^', '   = note: expected one of: "rollout"',
      '/tmp/x/bench.policy:12:3: error[POL0302]: unknown block "audit"',
      '/tmp/x/bench.policy:12:3: error[POL0302]: unknown block "audit"',
    ].join('\n');
    expect(policyErrors(out)).toEqual(['POL0302 unknown block "moderation"', 'POL0302 unknown block "audit"']);
    expect(policyErrors('listening')).toEqual([]);
  });
});

describe('deny phrases', () => {
  it('generates 10,000 distinct phrases, none of which occurs in the benchmark prompt', () => {
    const p = generatePhrases(10_000);
    expect(p).toHaveLength(10_000);
    expect(new Set(p).size).toBe(10_000);
    const prompt = PROMPT.toLowerCase();
    expect(p.filter((x) => prompt.includes(x))).toEqual([]);
    expect(generatePhrases(200)).toEqual(p.slice(0, 200));
  });
});

describe('fake upstream', () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = createUpstream({ port: 0, delayMs: 0, sseGapMs: 1 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const post = (path: string, body: string): Promise<{ status: number; type: string; text: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('answers a chat completion with usage', async () => {
    const r = await post('/v1/chat/completions', '{"model":"m","messages":[{"role":"user","content":"hi"}]}');
    expect(r.status).toBe(200);
    const j = JSON.parse(r.text) as { choices: Array<{ message: { content: string } }>; usage: { total_tokens: number } };
    expect(j.choices[0].message.content).toMatch(/refund policy/);
    expect(j.usage.total_tokens).toBeGreaterThan(0);
  });

  it('streams SSE chunks ending with data: [DONE] when stream is true', async () => {
    const r = await post('/v1/chat/completions', '{"model":"m","stream": true,"messages":[]}');
    expect(r.type).toBe('text/event-stream');
    const events = r.text.split('\n\n').filter(Boolean);
    expect(events).toHaveLength(SSE_EVENT_COUNT);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const text = events.slice(0, -1).map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0].delta.content ?? '').join('');
    expect(text).toMatch(/^Our refund policy .* what you ordered\.$/);
  });

  it('answers 404 for other routes', async () => {
    expect((await post('/v1/embeddings', '{}')).status).toBe(404);
  });
});

describe('matcher and redaction against a base checkout (bench/detection-ab.ts)', () => {
  it.each([
    { note: 'no option: the previous commit', v: {}, want: { kind: 'rev', rev: 'HEAD~1' } },
    { note: '--base-ref names a revision', v: { 'base-ref': 'v0.1.0' }, want: { kind: 'rev', rev: 'v0.1.0' } },
    { note: '--base names a directory (made absolute)', v: { base: '/tmp/x/../prev' }, want: { kind: 'dir', dir: '/tmp/prev' } },
    { note: '--no-base turns it off', v: { 'no-base': true }, want: { kind: 'none' } },
  ])('baseChoice: $note', ({ v, want }) => {
    expect(baseChoice(v)).toEqual(want);
  });

  it.each([
    { note: 'a clear slow-down', m: 0.9, p25: 0.85, p75: 0.96, want: 'slower' },
    { note: 'a clear speed-up', m: 1.2, p25: 1.1, p75: 1.3, want: 'faster' },
    { note: 'a small median difference is noise', m: 0.97, p25: 0.94, p75: 0.99, want: 'same within noise' },
    { note: 'a large median with a wide spread is noise', m: 0.9, p25: 0.8, p75: 1.05, want: 'same within noise' },
  ])('abVerdict: $note', ({ m, p25, p75, want }) => {
    expect(abVerdict(m, p25, p75)).toBe(want);
  });

  it('baseChoice refuses two choices at once', () => {
    expect(() => baseChoice({ base: '/tmp/a', 'base-ref': 'HEAD~1' })).toThrow(/exclude each other/);
    expect(() => baseChoice({ 'no-base': true, 'base-ref': 'HEAD~1' })).toThrow(/exclude each other/);
  });

  it('attachAb adds the rows to the matcher and redaction sections, or says why there are none', () => {
    const row = (workload: string): AbRow => ({ workload, unit: 'x', base: 1, head: 1, speed_ratio: 1, ratio_p25: 1, ratio_p75: 1, verdict: 'same within noise', rounds: 1 });
    const extras = [
      { title: 'Redaction', status: 'ok', figures: { mbPerSec: 30 } as unknown },
      { title: 'Topic matcher', status: 'ok', figures: { realistic: [] } as unknown },
      { title: 'Quota', status: 'ok', figures: { a: 1 } as unknown },
    ];
    attachAb(extras, { label: 'HEAD~1 (abc)', rows: [row('topic matcher, 10,000 phrases'), row('redaction, 256 KB ASCII text')] });
    expect(extras[0]!.figures).toEqual({ mbPerSec: 30, 'against HEAD~1 (abc)': [row('redaction, 256 KB ASCII text')] });
    expect(extras[1]!.figures).toEqual({ realistic: [], 'against HEAD~1 (abc)': [row('topic matcher, 10,000 phrases')] });
    expect(extras[2]!.figures).toEqual({ a: 1 });
    attachAb(extras, { label: 'nope', error: 'git: no commit "nope"' });
    expect((extras[0]!.figures as Record<string, unknown>)['against nope']).toBe('unavailable: git: no commit "nope"');
  });

  it('runAgainstBase reports a revision that does not exist instead of throwing', async () => {
    const r = await runAgainstBase({ kind: 'rev', rev: 'no-such-revision-xyz' });
    expect('error' in r && r.error).toMatch(/no commit "no-such-revision-xyz"|not a git repository/);
  });

  it('checks out a revision to a temporary directory, measures both trees, and removes the copy', async () => {
    const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8' });
    if (git.status !== 0) {
      // not a git checkout (a source tarball): the comparison must say so clearly
      expect(() => checkoutRev('HEAD')).toThrow(/git/);
      return;
    }
    const co = checkoutRev('HEAD');
    try {
      expect(co.commit).toBe(git.stdout.trim());
      for (const f of AB_FILES) expect(existsSync(`${co.dir}/${f}`), f).toBe(true);
      const rows = await detectionAb(co.dir, { rounds: 1, quick: true });
      expect(rows.map((r) => r.workload)).toEqual([
        'topic matcher, 10,000 phrases, 4 KB prompt', 'redaction, 256 KB mixed text (CJK, Latin-1)', 'redaction, 256 KB ASCII text',
        'streamed redaction, 20-character pieces',
      ]);
      for (const r of rows) {
        expect(r.base).toBeGreaterThan(0);
        expect(r.head).toBeGreaterThan(0);
        expect(r.speed_ratio).toBeGreaterThan(0);
      }
    } finally {
      co.dispose();
    }
    expect(existsSync(co.dir)).toBe(false);
  });
});
