// Output of `policy-gateway test`: readable text (each failure as an expected/actual diff with the case's file:line),
// JUnit XML and JSON for CI, and the coverage report. Pure functions of the results; the CLI writes them.
import type { CaseResult, Mismatch } from './run-tests.ts';
import type { FileCoverage } from './coverage.ts';

/** Counts over a run. */
export interface Summary {
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly files: number;
  readonly requests: number;
}

export function summarize(results: readonly CaseResult[]): Summary {
  const files = new Set(results.map((r) => r.case.file));
  const passed = results.filter((r) => r.passed).length;
  return { tests: results.length, passed, failed: results.length - passed, files: files.size, requests: results.reduce((n, r) => n + r.requests, 0) };
}

const title = (r: CaseResult) => `${r.case.policyId} › ${r.case.name}`;
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** Column (0-based) of the first difference of two texts, or -1. */
function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** One mismatch as a diff: `- expected` / `+ actual`, with a caret under the first differing character of long values. */
export function renderMismatch(m: Mismatch, requests: number, indent = '    '): string {
  const where = requests > 1 ? `line ${m.line}, request ${m.request} of ${requests}` : `line ${m.line}`;
  const lines = [`  expect ${m.field} (${where})`, `${indent}- expected: ${m.expected}`, `${indent}+ actual:   ${m.actual}`];
  const at = firstDifference(m.expected, m.actual);
  if (at > 8 && m.expected.length > 16 && m.actual.length > 16) lines.push(`${indent}  ${' '.repeat('actual:   '.length + at)}^ differs from here (column ${at + 1})`);
  return lines.join('\n');
}

/** The text report: every failed case with its diffs (passing ones too with `verbose`), then the summary line. */
export function renderText(results: readonly CaseResult[], opts: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const r of results) {
    const head = `${r.case.file}:${r.case.line}: ${title(r)}`;
    if (r.passed) {
      if (opts.verbose) out.push(`PASS ${head} (${plural(r.requests, 'request')})`);
      continue;
    }
    out.push(`FAIL ${head}`);
    if (r.error) out.push(`  ${r.error}`);
    for (const m of r.mismatches) out.push(renderMismatch(m, r.requests));
  }
  const s = summarize(results);
  if (out.length) out.push('');
  out.push(`${s.passed} passed, ${s.failed} failed (${plural(s.tests, 'test')} in ${plural(s.files, 'file')}, ${plural(s.requests, 'request')})`);
  return `${out.join('\n')}\n`;
}

/** Text that is safe inside XML: markup escaped, characters XML 1.0 forbids dropped. */
function xml(s: string): string {
  return s.replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * JUnit XML (the Ant/Surefire dialect CI systems read): one `<testsuite>` per test file, one `<testcase>` per case
 * (`classname` the policy id, `file` and `line` the case's), a `<failure>` holding the diffs, an `<error>` for a case
 * that could not run.
 */
export function renderJunit(results: readonly CaseResult[]): string {
  const files = new Map<string, CaseResult[]>();
  for (const r of results) files.set(r.case.file, [...(files.get(r.case.file) ?? []), r]);
  const s = summarize(results);
  const errors = results.filter((r) => r.error).length;
  const total = results.reduce((t, r) => t + r.durationMs, 0);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="policy-gateway test" tests="${s.tests}" failures="${s.failed - errors}" errors="${errors}" time="${seconds(total)}">`];
  for (const [file, rs] of files) {
    const errs = rs.filter((r) => r.error).length;
    const fails = rs.filter((r) => !r.passed).length - errs;
    out.push(`  <testsuite name="${xml(file)}" tests="${rs.length}" failures="${fails}" errors="${errs}" skipped="0" time="${seconds(rs.reduce((t, r) => t + r.durationMs, 0))}">`);
    for (const r of rs) {
      const attrs = `name="${xml(r.case.name)}" classname="${xml(r.case.policyId)}" file="${xml(file)}" line="${r.case.line}" time="${seconds(r.durationMs)}"`;
      if (r.passed) { out.push(`    <testcase ${attrs}/>`); continue; }
      out.push(`    <testcase ${attrs}>`);
      if (r.error) out.push(`      <error message="${xml(r.error)}" type="error">${xml(`${file}:${r.case.line}: ${r.error}`)}</error>`);
      else {
        const first = r.mismatches[0]!;
        const body = [`${file}:${r.case.line}: ${title(r)}`, ...r.mismatches.map((m) => renderMismatch(m, r.requests))].join('\n');
        out.push(`      <failure message="${xml(`expect ${first.field} (line ${first.line}): expected ${first.expected}, got ${first.actual}`)}" type="mismatch">${xml(body)}</failure>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

/** Exercised / total items of one kind. */
function ratio(items: readonly { kind: string; exercised: boolean }[], kind: string): { exercised: number; total: number } {
  const of = items.filter((i) => i.kind === kind);
  return { exercised: of.filter((i) => i.exercised).length, total: of.length };
}

const KIND_NAMES: Readonly<Record<string, string>> = { respond: 'respond rules', phrase: 'allow/deny phrases', detector: 'redaction detectors' };
const ITEM_NAMES: Readonly<Record<string, string>> = { respond: 'respond rule', phrase: 'phrase', detector: 'redaction detector' };
/** Long rule texts (a rewrite's instruction) cut to keep one item per line. */
const clip = (s: string) => (s.length > 90 ? `${s.slice(0, 89)}…` : s);

/** The coverage report: per file, exercised/total per kind and every item no test exercised (`file:line  text`). */
export function renderCoverage(cov: readonly FileCoverage[]): string {
  const out: string[] = ['coverage:'];
  if (cov.length === 0) out.push('  nothing to cover');
  for (const f of cov) {
    const parts = ['respond', 'phrase', 'detector'].map((k) => ({ k, ...ratio(f.items, k) })).filter((x) => x.total > 0)
      .map((x) => `${KIND_NAMES[x.k]} ${x.exercised}/${x.total}`);
    out.push(`  ${f.file}: ${parts.join(', ')}`);
    for (const it of f.items) {
      if (!it.exercised) out.push(`    ${f.file}:${it.line}: ${ITEM_NAMES[it.kind]} not exercised: ${clip(it.text)} (policy "${it.policyId}")`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The JSON report (`--format json`): the summary, every case with its mismatches, and coverage when asked for. */
export function renderJson(results: readonly CaseResult[], cov: readonly FileCoverage[] | undefined): string {
  return `${JSON.stringify({
    summary: summarize(results),
    tests: results.map((r) => ({
      file: r.case.file, line: r.case.line, policy: r.case.policyId, name: r.case.name, status: r.error ? 'error' : r.passed ? 'pass' : 'fail',
      requests: r.requests, duration_ms: Math.round(r.durationMs * 1000) / 1000, ...(r.error ? { error: r.error } : {}),
      failures: r.mismatches.map((m) => ({ field: m.field, line: m.line, request: m.request, expected: m.expected, actual: m.actual })),
    })),
    ...(cov ? { coverage: cov.map((f) => ({ file: f.file, items: f.items.map((i) => ({ kind: i.kind, policy: i.policyId, line: i.line, text: i.text, exercised: i.exercised })) })) } : {}),
  }, null, 2)}\n`;
}
