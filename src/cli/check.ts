// `policy-gateway check [paths] [--format text|json]`: load and compile policies exactly as the server would (and
// check the policy test files beside them), print diagnostics, exit 1 on errors. Thin wrapper over src/policy/load.ts.
import { compareDiagnostics, renderDiagnostics, summarizeDiagnostics } from '../../grammar/diagnostics.ts';
import { loadPolicies } from '../policy/load.ts';
import type { PluginFactory } from '../sdk/plugin.ts';
import { checkTestsAgainst, findTestPaths, readTestFiles } from '../testing/load-tests.ts';

/** Where a CLI command writes (process.stdout/stderr, or buffers in tests). */
export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

const CHECK_USAGE = `usage: policy-gateway check [--format text|json] [--allow-path DIR]... [paths...]

Parses, checks and compiles .policy files (default path: rules/) the way the gateway loads them, and checks the
policy test files (*.policy.test) found there against them.
Exit status: 0 when there is no error (warnings are printed), 1 on errors, 2 on bad usage.
  --format json     print the diagnostics as a JSON array on stdout (for editors and CI)
  --allow-path DIR  a directory outside the checked paths that keys and list files may be in (repeatable;
                    POLICY_GATEWAY_ALLOW_PATH, comma-separated), as serve --allow-path
`;

/** Parses `--format x` / `--format=x`, `-h`; returns undefined (and prints usage) on bad usage. */
function parseArgs(argv: readonly string[], io: CliIo, flags: readonly string[], usage: string, valued: readonly string[] = []):
  { paths: string[]; format: string; flags: Set<string>; values: Map<string, string[]> } | 'help' | undefined {
  const paths: string[] = [];
  const set = new Set<string>();
  const values = new Map<string, string[]>();
  let format = 'text';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    const opt = valued.find((v) => a === v || a.startsWith(`${v}=`));
    if (opt !== undefined) {
      const v = a === opt ? argv[++i] : a.slice(opt.length + 1);
      if (v === undefined || v === '') {
        io.stderr.write(`policy-gateway: ${opt} needs a value\n\n${usage}`);
        return undefined;
      }
      values.set(opt, [...(values.get(opt) ?? []), v]);
      continue;
    }
    if (a === '--format' || a.startsWith('--format=')) {
      const v = a === '--format' ? argv[++i] : a.slice('--format='.length);
      if (v !== 'text' && v !== 'json') {
        io.stderr.write(`policy-gateway: --format must be "text" or "json"\n\n${usage}`);
        return undefined;
      }
      format = v;
    } else if (flags.includes(a)) set.add(a);
    else if (a.startsWith('-') && a !== '-') {
      io.stderr.write(`policy-gateway: unknown option "${a}"\n\n${usage}`);
      return undefined;
    } else paths.push(a);
  }
  return { paths: paths.length ? paths : ['rules'], format, flags: set, values };
}

/**
 * Runs `check`. Text mode: diagnostics on stderr, a one-line summary (stdout when clean, stderr on errors).
 * JSON mode: the diagnostics array on stdout. Returns the exit status.
 */
export async function runCheck(argv: readonly string[], io: CliIo, plugins: readonly PluginFactory<any>[],
  env: Readonly<Record<string, string | undefined>> = {}): Promise<number> {
  const args = parseArgs(argv, io, [], CHECK_USAGE, ['--allow-path']);
  if (args === 'help') { io.stdout.write(CHECK_USAGE); return 0; }
  if (!args) return 2;
  const allowPaths = args.values.get('--allow-path') ?? (env.POLICY_GATEWAY_ALLOW_PATH ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // Policy test files (*.policy.test) under the paths are checked too, against the rule set they test.
  const found = await findTestPaths(args.paths);
  const loaded = await loadPolicies(found.rulePaths, plugins, { allowPaths });
  const tests = await readTestFiles(found.testFiles);
  const testDiags = [...tests.diagnostics, ...(loaded.set ? checkTestsAgainst(tests.files, loaded.set) : [])];
  const r = testDiags.length === 0 ? loaded : {
    ...loaded, set: testDiags.some((d) => d.severity === 'error') ? undefined : loaded.set,
    diagnostics: [...loaded.diagnostics, ...testDiags].sort(compareDiagnostics),
    sources: new Map([...loaded.sources, ...tests.sources]),
  };
  const failed = r.set === undefined;
  if (args.format === 'json') {
    io.stdout.write(JSON.stringify(r.diagnostics, null, 2) + '\n');
    return failed ? 1 : 0;
  }
  if (r.diagnostics.length) io.stderr.write(renderDiagnostics(r.diagnostics, r.sources) + '\n');
  if (failed) {
    io.stderr.write(`check failed: ${summarizeDiagnostics(r.diagnostics)}\n`);
    return 1;
  }
  const set = r.set!;
  const warn = r.diagnostics.length ? ` (${summarizeDiagnostics(r.diagnostics)})` : '';
  const cases = tests.files.reduce((n, f) => n + f.cases.length, 0);
  const testsText = found.testFiles.length ? `, ${cases} ${cases === 1 ? 'test' : 'tests'} in ${found.testFiles.length} test ${found.testFiles.length === 1 ? 'file' : 'files'}` : '';
  io.stdout.write(`ok: ${set.policies.size} ${set.policies.size === 1 ? 'policy' : 'policies'} in ${set.files.length} ${set.files.length === 1 ? 'file' : 'files'}${testsText}, revision ${set.revision}${warn}\n`);
  return 0;
}

export { parseArgs as parseCliArgs };
