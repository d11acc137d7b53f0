// `npm run eval:topics`: runs the topic matching suite (test/fixtures/topics/suite.jsonl: cases built to the matching
// rule in README.md, sources in SOURCES.md) through the real compile step and matcher; prints pass/total per rule.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePolicy } from '../../src/sdk/ast.ts';
import type { ChatMessage } from '../../src/sdk/types.ts';
import { compileTopics } from './block.ts';

/** One suite case: a deny phrase, and a text (or a conversation) that must or must not match it. */
export interface TopicCase {
  readonly id: string;
  readonly rule: string;
  readonly phrase: string;
  readonly exact?: boolean;
  /** The text matched (null for conversation cases, which give `messages`). */
  readonly text: string | null;
  readonly messages?: readonly ChatMessage[];
  readonly scope?: 'latest' | 'conversation';
  readonly match: boolean;
  readonly source: string;
}

/** One case's outcome: whether the matcher agreed, or why it could not run (the phrase did not compile). */
export interface CaseResult {
  readonly case: TopicCase;
  readonly ok: boolean;
  readonly got: boolean | null;
  readonly error?: string;
}

/** The shipped suite. */
export function loadSuite(path = fileURLToPath(new URL('../../test/fixtures/topics/suite.jsonl', import.meta.url))): TopicCase[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TopicCase);
}

/** Compiles `topics { deny [exact] "<phrase>"; scope … }` as a policy would and runs the case. */
export function runCase(c: TopicCase): CaseResult {
  const lines = [`deny ${c.exact ? 'exact ' : ''}${JSON.stringify(c.phrase)}`];
  if (c.scope) lines.push(`scope ${c.scope}`);
  const src = `policy "eval" {\n  topics {\n    ${lines.join('\n    ')}\n  }\n}\n`;
  const { ast, diagnostics } = parsePolicy(src, 'eval.policy');
  const problems: string[] = diagnostics.map((d) => d.message);
  const config = problems.length > 0 ? undefined : compileTopics(ast.policies[0]!.blocks.filter((b) => b.name === 'topics'), {
    policyId: 'eval', report: (d) => { if (d.severity === 'error') problems.push(`${d.code} ${d.message}`); }, readText: () => undefined,
  });
  if (config === undefined || problems.length > 0) return { case: c, ok: false, got: null, error: problems.join('; ') || 'no config' };
  const hits = c.messages
    ? config.matcher.matchRequest({ model: 'm', messages: [...c.messages] }, config.scan, config.scope)
    : config.matcher.matchText(c.text ?? '');
  const got = hits.deny.length > 0;
  return { case: c, ok: got === c.match, got };
}

/** Runs every case; returns the results and pass counts per rule (in first-seen order). */
export function evaluateSuite(suite: readonly TopicCase[] = loadSuite()): { results: CaseResult[]; byRule: Map<string, { pass: number; total: number }> } {
  const results = suite.map(runCase);
  const byRule = new Map<string, { pass: number; total: number }>();
  for (const r of results) {
    let k = byRule.get(r.case.rule);
    if (!k) byRule.set(r.case.rule, (k = { pass: 0, total: 0 }));
    k.total++;
    if (r.ok) k.pass++;
  }
  return { results, byRule };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { results, byRule } = evaluateSuite();
  const pass = results.filter((r) => r.ok).length;
  console.log(`topic matching suite: ${results.length} cases (test/fixtures/topics/suite.jsonl; sources in SOURCES.md)\n`);
  console.log(`${'rule'.padEnd(16)}${'pass'.padStart(6)}${'total'.padStart(7)}`);
  for (const [rule, k] of byRule) console.log(`${rule.padEnd(16)}${String(k.pass).padStart(6)}${String(k.total).padStart(7)}`);
  console.log(`${'(all)'.padEnd(16)}${String(pass).padStart(6)}${String(results.length).padStart(7)}`);
  const bad = results.filter((r) => !r.ok);
  if (bad.length) {
    console.log('\nfailures:');
    for (const r of bad) {
      console.log(`  ${r.case.id}: phrase ${JSON.stringify(r.case.phrase)}${r.case.exact ? ' (exact)' : ''} vs ${JSON.stringify(r.case.text ?? r.case.messages)} — want ${r.case.match ? 'match' : 'no match'}, got ${r.error ?? (r.got ? 'match' : 'no match')}`);
    }
    process.exitCode = 1;
  }
}
