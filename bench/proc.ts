// Process helpers for the benchmark harness: free ports, spawning pinned children, waiting for readiness,
// and reading /proc for the CPU time and peak RSS (VmHWM) of a process and all its descendants.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';

/** Ask the kernel for a free loopback port (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when `taskset` is on PATH (util-linux). */
export function hasTaskset(): boolean {
  return ['/usr/bin/taskset', '/bin/taskset', '/usr/sbin/taskset'].some((p) => existsSync(p));
}

/** A spawned child with its captured output (kept short) and an exit promise. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** Last ~16 KiB of stdout+stderr, for diagnostics when the child fails to start. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  readonly exited: Promise<string>;
  /** True once the child has exited. */
  isDead(): boolean;
}

/**
 * Spawn `cmd args` optionally pinned with `taskset -c cpus`. The child's pid is the real program's pid:
 * taskset execs the program in place, so /proc readings and signals reach it directly.
 */
export function spawnChild(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { cpus?: string; cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Child {
  const full = opts.cpus ? ['taskset', ['-c', opts.cpus, cmd, ...args]] as const : [cmd, args] as const;
  const proc = spawn(full[0], [...full[1]], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  let dead = false;
  let pending = '';
  const onData = (d: Buffer): void => {
    const s = d.toString('utf8');
    buf = (buf + s).slice(-16384);
    if (opts.onLine) {
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        opts.onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending.length > 65536) pending = pending.slice(-65536);
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<string>((resolve) => {
    proc.on('exit', (code, signal) => {
      dead = true;
      resolve(signal ?? String(code));
    });
    proc.on('error', (err) => {
      dead = true;
      buf += `\nspawn error: ${err.message}`;
      resolve('spawn-error');
    });
  });
  return { proc, pid: proc.pid ?? -1, name, output: () => buf, exited, isDead: () => dead };
}

/** GET a loopback URL; resolves with the status code, or 0 on a connection error. */
export function httpStatus(url: string, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

/**
 * Poll `probe` until it returns true, the child dies, `giveUp` returns a reason, or `timeoutMs` passes.
 * Returns undefined when ready, else a reason string.
 */
export async function waitReady(
  child: Child,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  giveUp?: () => string | undefined,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.isDead()) return `exited (${await child.exited}) before becoming ready`;
    if (await probe()) return undefined;
    const why = giveUp?.();
    if (why) return why;
    await sleep(100);
  }
  return `not ready after ${Math.round(timeoutMs / 1000)} s`;
}

/** Promise-based sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`. Only ever signals the pid we spawned. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.isDead()) return;
  try {
    child.proc.kill('SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      if (!child.isDead()) child.proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }, graceMs);
  await child.exited;
  clearTimeout(t);
}

/** Direct children of a pid, from /proc/<pid>/task/<tid>/children. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (s) for (const c of s.split(/\s+/)) out.push(Number(c));
    } catch {
      /* task exited */
    }
  }
  return out;
}

/** The pid and all its live descendants (cluster workers, nginx workers). */
export function processTree(pid: number): number[] {
  const all: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (!existsSync(`/proc/${p}`)) continue;
    all.push(p);
    stack.push(...childrenOf(p));
  }
  return all;
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) is 100 on Linux x86-64

/** User+system CPU time of one process in ms (from /proc/<pid>/stat), 0 if gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that closes comm: state is field 3; utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return ((utime + stime) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU ms summed over a process tree. */
export function treeCpuMs(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) sum += cpuMsOf(p);
  return sum;
}

/** A field of /proc/<pid>/status in KiB (VmHWM, VmRSS), 0 if absent. */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak RSS (VmHWM) summed over a process tree, in MiB; also the pids read. */
export function treePeakRssMb(pid: number): { mb: number; pids: number[] } {
  const pids = processTree(pid);
  let kb = 0;
  for (const p of pids) kb += statusKb(p, 'VmHWM');
  return { mb: kb / 1024, pids };
}
