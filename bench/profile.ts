// `npm run bench -- --profile bare,gw-pass`: run Node-based configurations under autocannon load with
// `--cpu-prof`, then summarise each .cpuprofile as self time by function and by module (where the time goes).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONTENDERS, Unavailable, type BenchEnv } from './contenders.ts';
import { runLoad } from './load.ts';
import { sleep } from './proc.ts';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A self-time line (ms and share of busy time). */
export interface SelfTime {
  name: string;
  ms: number;
  pct: number;
}

/** Self time of a profile grouped by function and by module. */
export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  byModule: SelfTime[];
  byFunction: SelfTime[];
}

const SPECIAL = new Set(['(program)', '(idle)', '(garbage collector)', '(root)']);

/** Module a call frame belongs to: an npm package, a node: builtin, a repo path, or a V8 pseudo-frame. */
export function moduleOf(url: string, fn: string, root: string): string {
  if (!url) return SPECIAL.has(fn) ? fn : '(native / V8 builtins)';
  if (url.startsWith('node:')) return url;
  let p = url;
  if (p.startsWith('file://')) p = decodeURIComponent(new URL(p).pathname);
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = p.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (p.startsWith(root + '/')) return p.slice(root.length + 1);
  return p;
}

/** Summarise a V8 .cpuprofile: self time per function and per module, busy = total − (idle). */
export function summarise(prof: CpuProfile, root: string, top = 30): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: charge it to the sample that ends the interval's start
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const fnTimes = new Map<string, number>();
  const modTimes = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const mod = moduleOf(url, functionName, root);
    total += ms;
    if (functionName === '(idle)') idle += ms;
    const fname = `${functionName || '(anonymous)'}${url ? ` ${mod}:${lineNumber + 1}` : ''}`;
    fnTimes.set(fname, (fnTimes.get(fname) ?? 0) + ms);
    modTimes.set(mod, (modTimes.get(mod) ?? 0) + ms);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>, k: number): SelfTime[] =>
    [...m.entries()]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => ({ name, ms, pct: busy > 0 ? (100 * ms) / busy : 0 }));
  return { totalMs: total, idleMs: idle, busyMs: busy, byModule: rank(modTimes, 25), byFunction: rank(fnTimes, top) };
}

/** Markdown for one profile summary. */
export function renderSummary(title: string, s: ProfileSummary, requests: number): string {
  const L: string[] = [];
  L.push(`### ${title}`);
  L.push('');
  L.push(`Sampled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (idle ${((100 * s.idleMs) / Math.max(1, s.totalMs)).toFixed(0)}%), ` +
    `${requests.toLocaleString('en-US')} requests → ${((s.busyMs * 1000) / Math.max(1, requests)).toFixed(0)} µs busy CPU per request (main thread, startup and 1 s warm-up included).`);
  L.push('');
  L.push('| module | self ms | % of busy |');
  L.push('|---|--:|--:|');
  for (const m of s.byModule) L.push(`| ${m.name} | ${m.ms.toFixed(0)} | ${m.pct.toFixed(1)} |`);
  L.push('');
  L.push('| function (self time) | self ms | % of busy |');
  L.push('|---|--:|--:|');
  for (const f of s.byFunction) L.push(`| \`${f.name.replace(/\|/g, '\\|')}\` | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)} |`);
  L.push('');
  return L.join('\n');
}

/** Profile each configuration id under load; writes bench/results/profile-<date>.md and prints it. */
export async function runProfiles(
  ids: readonly string[],
  env: BenchEnv,
  o: { seconds: number; connections: number; out: string; date: string },
): Promise<void> {
  const parts: string[] = [`# Where the time goes — CPU profiles under load (${o.date})`, '',
    `Each configuration ran alone under autocannon (${o.connections} connections, ${o.seconds} s, non-streaming) with \`node --cpu-prof\`; ` +
    'self time is the time a function itself was on the CPU (not its callees).', ''];
  for (const id of ids) {
    const c = CONTENDERS.find((x) => x.id === id);
    if (!c) continue;
    if (c.role.startsWith('direct') || c.role === 'nginx') {
      parts.push(`### ${c.label}`, '', '_not a Node process: nothing to profile_', '');
      continue;
    }
    const dir = path.join(env.tmp, `prof-${id}`);
    mkdirSync(dir, { recursive: true });
    env.log(`profile: ${id} …`);
    let run;
    try {
      const flags = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
      // peers without a SIGTERM handler would die without writing the profile
      if (c.role.startsWith('portkey')) flags.push(`--import=${pathToFileURL(path.join(env.root, 'bench/exit-on-signal.ts')).href}`);
      run = await c.start({ ...env, nodeFlags: flags });
    } catch (e) {
      parts.push(`### ${c.label}`, '', `_unavailable: ${e instanceof Unavailable ? e.message : (e as Error).message}_`, '');
      continue;
    }
    const w = await runLoad({ url: run.url, headers: run.headers, body: run.body, connections: o.connections, pipelining: 1, durationS: 1 });
    const r = await runLoad({ url: run.url, headers: run.headers, body: run.body, connections: o.connections, pipelining: 1, durationS: o.seconds });
    await run.stop();
    let file: string | undefined;
    for (let i = 0; i < 50 && !file; i++) {
      file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
      if (!file) await sleep(100);
    }
    if (!file) {
      parts.push(`### ${c.label}`, '', '_no .cpuprofile written (the process did not exit cleanly on SIGTERM)_', '');
      continue;
    }
    // Kept next to the report (git ignores *.cpuprofile): open it in Chrome DevTools or speedscope for call trees.
    mkdirSync(o.out, { recursive: true });
    copyFileSync(path.join(dir, file), path.join(o.out, `profile-${o.date}-${id}.cpuprofile`));
    const prof = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const s = summarise(prof, env.root);
    parts.push(renderSummary(`${c.label} — ${Math.round(r.rps).toLocaleString('en-US')} req/s, p50 ${r.p50.toFixed(2)} ms`, s, w.ok + w.non2xx + r.ok + r.non2xx));
  }
  const md = parts.join('\n');
  mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `profile-${o.date}-${ids.join('-')}.md`);
  writeFileSync(file, md + '\n');
  process.stdout.write(md + '\n');
  env.log(`profile: wrote ${path.relative(env.root, file)}`);
}
