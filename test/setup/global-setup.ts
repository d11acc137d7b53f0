// vitest globalSetup: makes the README's `npm test` self-sufficient on a fresh Debian-like machine. Redis: the one at
// REDIS_URL (default 127.0.0.1:6379) when it answers, else a redis-server of our own on a spare port for this run (the
// URL reaches every test worker through the environment). Debian tools the tests run for real (redis-server,
// prometheus, promtool, docker-compose, curl for the README's examples, the Python connectors' python3-* modules, chromium
// for the console's browser tests): used from PATH, installed with apt-get when running as root where apt-get exists,
// else the run fails at once saying the exact command to run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findPython, PYTHON_PACKAGES } from '../../connectors/testing/python.ts';

/**
 * What the suite runs, the Debian package(s) that provide it, and (when it is not a command on PATH) how to tell that it
 * is there.
 */
type Tool = readonly [what: string, packages: string, present?: (env: NodeJS.ProcessEnv) => boolean];
const pythonModules = (): boolean => { try { findPython(); return true; } catch { return false; } };
/** The console's browser tests launch Debian's Chromium by this path (playwright-core's executablePath). */
export const CHROMIUM = '/usr/bin/chromium';
const chromium = (): boolean => { try { accessSync(CHROMIUM, constants.X_OK); return true; } catch { return false; } };
const TOOLS: readonly Tool[] = [
  ['redis-server', 'redis-server'], ['prometheus', 'prometheus'], ['promtool', 'prometheus'],
  ['docker-compose', 'docker-compose'], ['curl', 'curl'],
  ['python3 with fastapi, httpx, uvicorn and pytest', PYTHON_PACKAGES.join(' '), pythonModules],
  [CHROMIUM, 'chromium', chromium],
];
const log = (msg: string): void => { process.stderr.write(`[test setup] ${msg}\n`); };

/** The full path of `cmd` on PATH, or undefined. */
export function which(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/**
 * Makes sure every command in `tools` is on PATH. Missing ones are installed with apt-get when this process is root
 * and apt-get is on PATH (`apt-get update` first if the install fails); otherwise — or when that fails — throws an
 * Error that names the exact command to run.
 */
export function ensureTools(tools: readonly Tool[], env: NodeJS.ProcessEnv = process.env): void {
  const absent = ([cmd, , present]: Tool) => (present ? !present(env) : which(cmd, env) === undefined);
  const missing = tools.filter(absent);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.flatMap(([, pkg]) => pkg.split(' ')))];
  const cmds = missing.map(([cmd]) => cmd).join(', ');
  const aptGet = which('apt-get', env);
  const install = `apt-get install -y ${packages.join(' ')}`;
  if (process.getuid?.() === 0 && aptGet !== undefined) {
    log(`${cmds} not found: installing Debian's ${packages.join(', ')} (${install})`);
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    const run = (args: string[]) => spawnSync(aptGet, args, { env: aptEnv, stdio: ['ignore', 'inherit', 'inherit'], timeout: 10 * 60_000 }).status === 0;
    if (!run(['install', '-y', '-qq', ...packages])) {
      run(['update', '-qq']);
      run(['install', '-y', '-qq', ...packages]);
    }
    const still = missing.filter(absent);
    if (still.length === 0) return;
    fail(`the tests need ${still.map(([c]) => c).join(', ')} and "${install}" did not provide ${still.length === 1 ? 'it' : 'them'} on PATH (${env.PATH ?? ''})`);
  }
  fail(`the tests need ${cmds} (Debian package${packages.length > 1 ? 's' : ''} ${packages.join(', ')}), not found on PATH. Install with:\n\n    sudo ${install}\n`);
}

function fail(message: string): never {
  throw new Error(message);
}

/** True when a Redis server answers PING at `url` within `ms`. */
export function redisAnswers(url: string, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let u: URL;
    try { u = new URL(url); } catch { resolve(false); return; }
    const sock = net.connect(Number(u.port || 6379), u.hostname.replace(/^\[(.*)\]$/, '$1'));
    let got = '';
    const done = (ok: boolean) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), ms);
    sock.on('connect', () => {
      if (u.password) sock.write(`AUTH ${decodeURIComponent(u.username || 'default')} ${decodeURIComponent(u.password)}\r\n`);
      sock.write('PING\r\n');
    });
    sock.on('data', (d: Buffer) => { got += d; if (got.includes('+PONG')) done(true); else if (got.includes('-')) done(false); });
    sock.on('error', () => done(false));
  });
}

/** A TCP port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

/** Starts a throw-away redis-server (no persistence) on a spare loopback port; resolves once it answers. */
async function startRedis(bin: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const url = `redis://127.0.0.1:${port}`;
  for (const until = Date.now() + 10_000; Date.now() < until;) {
    if (child.exitCode !== null) break;
    if (await redisAnswers(url, 200)) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}:\n${out}`);
}

/** vitest globalSetup: runs once before every test file; the returned function runs once after the whole run. */
export default async function setup(): Promise<() => Promise<void>> {
  try {
    ensureTools(TOOLS);
  } catch (e) {
    log((e as Error).message); // first, before vitest's own (longer) report of the failed setup
    throw e;
  }
  const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(wanted)) return async () => {};
  const { url, child } = await startRedis(which('redis-server')!);
  log(`no Redis answered at ${wanted}: started redis-server at ${url} for this run (REDIS_URL for every test)`);
  process.env.REDIS_URL = url;
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => { if (child.exitCode !== null) r(undefined); else child.once('exit', r); });
  };
}
