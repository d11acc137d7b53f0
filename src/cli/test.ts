// `policy-gateway test [paths] [--format text|junit|json] [--coverage]`: runs the policy test files (*.policy.test) on
// the compiled rule set the gateway would serve. Thin wrapper over src/testing/ (load, run, report).
import { renderDiagnostics, summarizeDiagnostics, type Diagnostic } from '../../grammar/diagnostics.ts';
import { loadPolicies } from '../policy/load.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import { computeCoverage, CoverageRecorder, type FileCoverage } from '../testing/coverage.ts';
import { checkTestsAgainst, findTestPaths, readTestFiles } from '../testing/load-tests.ts';
import { renderCoverage, renderJson, renderJunit, renderText } from '../testing/report.ts';
import { runCases } from '../testing/run-tests.ts';
import type { CliIo } from './check.ts';

const TEST_USAGE = `usage: policy-gateway test [--format text|junit|json] [--coverage] [--verbose] [--run TEXT]... [--rules DIR]... [paths...]

Runs the policy tests in *.policy.test files (default path: rules/) on the rule set the gateway would serve: each
case's requests go through the policy's plugins in-process, with an in-memory quota store and the case's own clock;
the upstream is never called. docs/testing-policies.md describes the test file format.
Exit status: 0 when every test passes, 1 when one fails, 2 on bad usage or files with errors.
  --format F       text (default: failures as expected/actual diffs), junit (JUnit XML) or json, on stdout
  --coverage       also report the respond rules, allow/deny phrases and redaction detectors no test exercised
                   (text: after the results; json: a "coverage" member; junit: on stderr)
  --verbose        text format: list passing tests too
  --run TEXT       only the tests whose "policy › name" contains TEXT (repeatable)
  --rules DIR      the rule set to test (repeatable; default: the directories given, or each test file's directory)
  --allow-path DIR a directory outside the rule set that keys and list files may be in (as check --allow-path)
`;

interface TestArgs { paths: string[]; format: 'text' | 'junit' | 'json'; coverage: boolean; verbose: boolean; rules: string[]; allowPaths: string[]; run: string[] }

function parseTestArgs(argv: readonly string[], io: CliIo): TestArgs | 'help' | undefined {
  const a: TestArgs = { paths: [], format: 'text', coverage: false, verbose: false, rules: [], allowPaths: [], run: [] };
  const fail = (msg: string) => { io.stderr.write(`policy-gateway test: ${msg}\n\n${TEST_USAGE}`); return undefined; };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '-h': case '--help': return 'help';
      case '--coverage': a.coverage = true; break;
      case '--verbose': a.verbose = true; break;
      case '--format': {
        const v = value();
        if (v !== 'text' && v !== 'junit' && v !== 'json') return fail('--format must be "text", "junit" or "json"');
        a.format = v;
        break;
      }
      case '--rules': case '--allow-path': case '--run': {
        const v = value();
        if (!v) return fail(`${flag} needs a value`);
        (flag === '--rules' ? a.rules : flag === '--run' ? a.run : a.allowPaths).push(v);
        break;
      }
      default:
        if (arg.startsWith('-') && arg !== '-') return fail(`unknown option "${arg}"`);
        a.paths.push(arg);
    }
  }
  if (a.paths.length === 0) a.paths.push('rules');
  return a;
}

/** Runs `test`; returns the exit status (0 all passed, 1 a test failed, 2 usage or files with errors). */
export async function runTest(argv: readonly string[], io: CliIo, plugins: readonly PluginFactory<any>[],
  env: Readonly<Record<string, string | undefined>> = {}): Promise<number> {
  const args = parseTestArgs(argv, io);
  if (args === 'help') { io.stdout.write(TEST_USAGE); return 0; }
  if (!args) return 2;
  const found = await findTestPaths(args.paths);
  const allowPaths = args.allowPaths.length ? args.allowPaths : (env.POLICY_GATEWAY_ALLOW_PATH ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const loaded = await loadPolicies(args.rules.length ? args.rules : found.rulePaths, plugins, { allowPaths });
  const tests = await readTestFiles(found.testFiles);
  const diags: Diagnostic[] = [...found.diagnostics, ...loaded.diagnostics, ...tests.diagnostics];
  if (loaded.set) diags.push(...checkTestsAgainst(tests.files, loaded.set));
  if (found.testFiles.length === 0) {
    diags.push({ code: 'POL1010', severity: 'warning', message: `no ${'.policy.test'} files in ${args.paths.map((p) => `"${p}"`).join(', ')}`,
      span: { file: args.paths[0]!, start: { line: 1, col: 1, offset: 0 }, end: { line: 1, col: 1, offset: 0 } } });
  }
  const sources = (file: string) => tests.sources.get(file) ?? loaded.sources.get(file);
  const errors = diags.filter((d) => d.severity === 'error');
  if (diags.length) io.stderr.write(renderDiagnostics(diags, sources) + '\n');
  if (errors.length || !loaded.set) {
    io.stderr.write(`test: ${summarizeDiagnostics(diags)}; no test was run\n`);
    return 2;
  }
  const all = tests.files.flatMap((f) => f.cases);
  // --run TEXT: only the cases whose "policy › name" contains one of the texts (plain text, not a pattern).
  const cases = args.run.length ? all.filter((c) => args.run.some((t) => `${c.policyId} › ${c.name}`.includes(t))) : all;
  const seen = args.coverage ? new CoverageRecorder() : undefined;
  const results = await runCases(loaded.set, cases, { plugins, env, trace: seen !== undefined, onRun: seen && ((id, _run, trace) => seen.observe(id, trace)) });
  let cov: FileCoverage[] | undefined;
  if (seen) cov = await computeCoverage(loaded.set, new Set(cases.map((c) => c.policyId)), seen);
  if (args.format === 'junit') {
    io.stdout.write(renderJunit(results));
    if (cov) io.stderr.write(renderCoverage(cov)); // JUnit has no place for it: the CI log shows it
  }
  else if (args.format === 'json') io.stdout.write(renderJson(results, cov));
  else {
    io.stdout.write(renderText(results, { verbose: args.verbose }));
    if (cov) io.stdout.write(renderCoverage(cov));
  }
  return results.every((r) => r.passed) ? 0 : 1;
}
