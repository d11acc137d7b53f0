// Starts the real `policy-gateway` CLI as a child process (Node 24 via process.execPath) on a free port and
// collects its output, so end-to-end tests drive it exactly as a user would: over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'src/cli/main.ts');

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything written to stdout so far (JSON logs and audit lines). */
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Writes `.policy` files into a fresh temp directory and returns its path. */
export function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgw-rules-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Runs a CLI command to completion; resolves with exit code and output. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string; cli?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [opts.cli ?? CLI, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.stdin.end(opts.input ?? '');
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts `policy-gateway serve` with `args` on port 0 and waits for its "listening" log line. `cli`: another entry point
 * than src/cli/main.ts (one that registers extra plugins).
 */
export async function startGateway(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; cli?: string } = {}): Promise<GatewayProcess> {
  const env: Record<string, string | undefined> = { ...process.env, REDIS_URL: undefined, LOG_LEVEL: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const proc = spawn(process.execPath, [opts.cli ?? CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in time\nstdout:\n${out}\nstderr:\n${err}`)), opts.timeoutMs ?? 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code} before listening\nstdout:\n${out}\nstderr:\n${err}`)); });
  });
  return {
    proc, port, url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: (signal = 'SIGTERM') => { if (proc.exitCode === null) proc.kill(signal); return exited; },
  };
}
