// Finding and loading policy test files: `*.policy.test` under the given paths, parsed (test-file.ts) and checked
// against the compiled rule set they test (the policy ids exist, stream answers only where the endpoint streams them).
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { Diagnostic } from '../../grammar/index.ts';
import { closestWord } from '../../grammar/suggest.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import { parseTestFile, TEST_FILE_SUFFIX, type TestFile } from './test-file.ts';

/** What a path list holds: the test files (given or found in directories) and the paths of the rule set to load. */
export interface TestPaths {
  readonly testFiles: string[];
  /** Directories and `.policy` files: the rule set (a test file given alone loads its directory). */
  readonly rulePaths: string[];
  readonly diagnostics: Diagnostic[];
}

const pathSpan = (file: string) => ({ file, start: { line: 1, col: 1, offset: 0 }, end: { line: 1, col: 1, offset: 0 } });

/**
 * Splits CLI paths into test files and rule-set paths: directories are searched recursively for test files, a test file
 * given alone loads its directory as the rule set, a `.policy` file given alone brings the `.policy.test` beside it.
 */
export async function findTestPaths(paths: readonly string[]): Promise<TestPaths> {
  const testFiles = new Set<string>();
  const rulePaths = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  for (const raw of paths) {
    const p = normalize(raw);
    if (p.endsWith(TEST_FILE_SUFFIX)) {
      testFiles.add(p);
      rulePaths.add(dirname(p));
      continue;
    }
    let isDir = false;
    try { isDir = (await stat(p)).isDirectory(); } catch { /* the loader reports unreadable paths (POL0311) */ }
    rulePaths.add(p);
    if (!isDir) {
      // A policy file given alone brings its own tests (`x.policy` → `x.policy.test`), when it has some.
      if (p.endsWith('.policy')) {
        try { if ((await stat(`${p}.test`)).isFile()) testFiles.add(`${p}.test`); } catch { /* no tests beside it */ }
      }
      continue;
    }
    try {
      for (const ent of await readdir(p, { recursive: true, withFileTypes: true })) {
        if (!(ent.isFile() || ent.isSymbolicLink()) || !ent.name.endsWith(TEST_FILE_SUFFIX)) continue;
        const rel = join(ent.parentPath, ent.name);
        if (rel.slice(p.length).split(/[\\/]/).some((seg) => seg.startsWith('.'))) continue;
        testFiles.add(normalize(rel));
      }
    } catch { /* reported by the loader */ }
  }
  return { testFiles: [...testFiles].sort(), rulePaths: [...rulePaths], diagnostics };
}

/** Reads and parses test files; unreadable ones are POL0310 diagnostics. Sources are kept for rendering diagnostics. */
export async function readTestFiles(files: readonly string[]): Promise<{ files: TestFile[]; sources: Map<string, string>; diagnostics: Diagnostic[] }> {
  const out: TestFile[] = [];
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (e) {
      diagnostics.push({ code: 'POL0310', severity: 'error', message: `cannot read file "${f}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, span: pathSpan(f) });
      continue;
    }
    sources.set(f, text);
    const t = parseTestFile(text, f);
    out.push(t);
    diagnostics.push(...t.diagnostics);
  }
  return { files: out, sources, diagnostics };
}

/** Checks parsed test files against the rule set: every policy id exists (POL1008), stream answers fit the endpoint (POL1009). */
export function checkTestsAgainst(files: readonly TestFile[], set: CompiledPolicySet): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ids = [...set.policies.keys()];
  for (const f of files) {
    const reported = new Set<string>();
    for (const c of f.cases) {
      if (!set.policies.has(c.policyId)) {
        if (reported.has(c.policyId)) continue;
        reported.add(c.policyId);
        const guess = closestWord(c.policyId, ids);
        out.push({ code: 'POL1008', severity: 'error', message: `no policy "${c.policyId}" in the rule set under test`, span: c.policyIdSpan,
          notes: [...(guess ? [`did you mean "${guess}"?`] : []), ids.length ? `the rule set has: ${ids.map((i) => `"${i}"`).join(', ')}` : 'the rule set has no policies'] });
        continue;
      }
      for (const s of c.steps) {
        if (s.kind !== 'send' || s.answer?.kind !== 'stream') continue;
        const e = s.request.endpoint ?? 'chat';
        if (e !== 'chat' && e !== 'completions') {
          out.push({ code: 'POL1009', severity: 'error', message: `stream answers are for the chat and completions endpoints, not "${e}"`,
            span: s.answerSpan ?? { file: c.file, start: { line: s.line, col: 1, offset: 0 }, end: { line: s.line, col: 1, offset: 0 } },
            notes: ['give this endpoint\'s answer as answer "text" or answer json """{…}"""'] });
        }
      }
    }
  }
  return out;
}
