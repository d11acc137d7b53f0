// The audit samples in the docs stay true: every `rule=FILE:LINE` in README.md, the connectors' sample logs and the
// auditor README names a line of that policy file (the auditor's sample: of the policy shown above it) that holds a
// decision rule (`when …` or `otherwise …`), so a policy edit that moves the rules fails here, not in a reader's hands.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway-process.ts';

const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');
const RULE_REF = /\brule=(rules\/[\w./-]+\.policy):(\d+)\b/g;
const DECISION_LINE = /^\s*(respond\s*\{\s*)?(when|otherwise)\b/;

function refs(text: string): { file: string; line: number }[] {
  return [...text.matchAll(RULE_REF)].map((m) => ({ file: m[1]!, line: Number(m[2]) }));
}

describe('rule= in the audit samples', () => {
  const sources = ['README.md', ...readdirSync(path.join(ROOT, 'connectors')).map((d) => `connectors/${d}/sample.log`).filter((p) => existsSync(path.join(ROOT, p)))];
  const cases = sources.flatMap((src) => refs(read(src)).map((r) => ({ src, ...r })));

  it('finds samples to check', () => {
    expect(cases.length).toBeGreaterThan(5);
  });

  it.each(cases)('$src: $file:$line is a decision rule', ({ file, line }) => {
    const text = read(file).split('\n');
    expect(text[line - 1], `${file}:${line}`).toMatch(DECISION_LINE);
  });

  it('the auditor README sample names a decision rule of the policy it shows', () => {
    const doc = read('plugins/auditor/README.md');
    const section = doc.slice(doc.indexOf('## Sample output'));
    const policy = /```\n(policy [\s\S]*?)```/.exec(section)![1]!.split('\n');
    const found = refs(section);
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) expect(policy[r.line - 1], `${r.file}:${r.line}`).toMatch(DECISION_LINE);
    // The records carry the rule set's revision (a 12-digit content hash), not a placeholder.
    expect(section).toMatch(/ revision=[0-9a-f]{12} /);
    expect(section).not.toMatch(/ revision=- /);
  });
});
