// `policy-gateway fmt [--check|--write] [paths]`: canonical formatting of .policy files (grammar/format.ts).
// Default prints the formatted text; --check lists files that are not formatted; --write rewrites them.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { renderDiagnostics, summarizeDiagnostics, type Diagnostic } from '../../grammar/diagnostics.ts';
import { tryFormatPolicy } from '../../grammar/format.ts';
import { findPolicyFiles } from '../policy/load.ts';
import { type CliIo, parseCliArgs } from './check.ts';

const FMT_USAGE = `usage: policy-gateway fmt [--check | --write] [paths...]

Formats .policy files and policy test files (*.policy.test) canonically (default path: rules/).
  (default)  print the formatted text of every file on stdout
  --check    list the files that are not formatted; exit 1 if there is any
  --write    rewrite the files that are not formatted, listing them
Files with syntax errors are left alone; their diagnostics are printed and the exit status is 1.
`;

/** Runs `fmt`; returns the exit status (0 ok, 1 unformatted files with --check or files with errors, 2 usage). */
export async function runFmt(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCliArgs(argv, io, ['--check', '--write'], FMT_USAGE);
  if (args === 'help') { io.stdout.write(FMT_USAGE); return 0; }
  if (!args) return 2;
  const check = args.flags.has('--check');
  const write = args.flags.has('--write');
  if (check && write) {
    io.stderr.write(`policy-gateway: use --check or --write, not both\n\n${FMT_USAGE}`);
    return 2;
  }
  const found = await findPolicyFiles(args.paths, { tests: true });
  const diags: Diagnostic[] = found.diagnostics.filter((d) => d.severity === 'error');
  const sources = new Map<string, string>();
  let status = diags.length ? 1 : 0;
  for (const file of found.files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      io.stderr.write(`policy-gateway: cannot read "${file}": ${(e as Error).message}\n`);
      status = 1;
      continue;
    }
    const r = tryFormatPolicy(text, file);
    if (r.text === undefined) {
      sources.set(file, text);
      diags.push(...r.diagnostics);
      status = 1;
      continue;
    }
    if (check) {
      if (r.text !== text) { io.stdout.write(file + '\n'); status = 1; }
    } else if (write) {
      if (r.text !== text) {
        // Write then rename, so a watching gateway never reads a half-written file.
        const tmp = `${file}.fmt-${process.pid}.tmp`;
        await writeFile(tmp, r.text);
        await rename(tmp, file);
        io.stdout.write(file + '\n');
      }
    } else io.stdout.write(r.text);
  }
  if (diags.length) {
    io.stderr.write(renderDiagnostics(diags, sources) + '\n');
    io.stderr.write(`fmt: ${summarizeDiagnostics(diags)}; files with errors were not formatted\n`);
  }
  return status;
}
