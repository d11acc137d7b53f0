// Concurrent A/B: several proxies run at the same time, each pinned to cpu 1, and the load alternates between them
// in short windows (order reversed every other round); medians over rounds. On a shared machine whose speed drifts
// by 2x within an hour, this compares configurations (or two checkouts of the gateway) far more steadily than runs
// made one after the other.
//
//   npx node bench/ab.ts [--rounds 8] [--seconds 3] SPEC...
//
// SPEC is CONFIG or CONFIG@DIR (DIR: another checkout of the gateway, default this one). CONFIG:
//   bare                 bench/bare-proxy.ts (http-proxy-3, no policy)
//   pass                 the gateway with bench/rules-pass (no plugins), --audit off
//   full                 the gateway with bench/rules-full (as configuration 6 of bench/run.ts)
//   full-without-A-B     the full policy without blocks A and B (e.g. full-without-audit, full-without-quota-topics;
//                        `audit` means --audit off)
//   CONFIG+redis         the same with --redis-url redis://127.0.0.1:6379 (quota counters in Redis), e.g. full+redis
//   CONFIG+otlp          the same with tracing on: --otlp-endpoint to a sink this script runs (answers 200, keeps nothing)
//   CONFIG+console       the same with --console-keys and one client reading the console's live decision stream
//                        (bench/console-client.ts), e.g. full+console (row 6c of bench/run.ts); CONFIG+console_idle:
//                        the console on, no client
// Prints CPU µs per request (user+system, from /proc), its system part, req/s and p50 per SPEC.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchRequest, createKey, generatePhrases } from './contenders.ts';
import { runLoad } from './load.ts';
import { cpuMsOf, freePort, hasTaskset, httpStatus, sleep } from './proc.ts';
import { median } from './stats.ts';
import { createUpstream } from './upstream.ts';
import http from 'node:http';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: opts, positionals: specs } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '8' }, seconds: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } },
});
if (opts.help || specs.length === 0) {
  console.log(readFileSync(import.meta.filename, 'utf8').split('\n').slice(4, 15).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(specs.length === 0 && !opts.help ? 2 : 0);
}
const rounds = Number(opts.rounds);
const seconds = Number(opts.seconds);
const pin = hasTaskset();
if (pin) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);

/** System CPU ms of one process (field 15 of /proc/<pid>/stat). */
function systemMs(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[12]) * 1000) / 100;
}

const upstream = createUpstream({ port: 0, delayMs: 0, sseGapMs: 2 });
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upPort = (upstream.address() as { port: number }).port;
// An OTLP/HTTP sink for the +otlp configurations: reads each export and answers 200.
const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')); });
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const sinkPort = (sink.address() as { port: number }).port;
const tmp = mkdtempSync(path.join(tmpdir(), 'pgw-ab-'));
writeFileSync(path.join(tmp, 'phrases.txt'), generatePhrases(10_000).join('\n') + '\n');
const key = createKey({ node: process.execPath, root: ROOT }, path.join(tmp, 'bench.keys'));
const body = JSON.stringify(benchRequest('bench-ab'));

interface Proxy { spec: string; url: string; headers: Record<string, string>; child: ChildProcess; cpu: number[]; sys: number[]; rps: number[]; p50: number[] }
const proxies: Proxy[] = [];
const readers: ChildProcess[] = [];
try {
  for (const [i, spec] of specs.entries()) {
    const [configSpec, dir = ROOT] = spec.split('@') as [string, string?];
    const mods = configSpec.split('+').slice(1);
    const redis = mods.includes('redis');
    const otlp = mods.includes('otlp');
    const withConsole = mods.includes('console') || mods.includes('console_idle');
    const withReader = mods.includes('console');
    const config = configSpec.split('+')[0]!;
    const port = await freePort();
    let args: string[];
    let consolePort = 0;
    let adminKey = '';
    let url = `http://127.0.0.1:${port}/policy/chat/completions`;
    let headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config === 'bare') {
      args = [path.join(ROOT, 'bench/bare-proxy.ts'), `http://127.0.0.1:${upPort}`, String(port)];
      url = `http://127.0.0.1:${port}/v1/chat/completions`;
    } else {
      args = [path.join(dir, 'src/cli/main.ts'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--upstream', `http://127.0.0.1:${upPort}/v1`, '--log-level', 'warn', '--no-watch'];
      if (config === 'pass') args.push('--rules', path.join(ROOT, 'bench/rules-pass'), '--audit', 'off');
      else if (config === 'full' || config.startsWith('full-without-')) {
        const without = config === 'full' ? [] : config.slice('full-without-'.length).split('-');
        const rules = path.join(tmp, `rules-${i}`);
        mkdirSync(rules);
        const policy = readFileSync(path.join(ROOT, 'bench/rules-full/bench.policy'), 'utf8').split('\n');
        writeFileSync(path.join(rules, 'bench.policy'), policy.filter((l) => !without.some((b) => l.trim().startsWith(`${b} `))).join('\n'));
        copyFileSync(path.join(tmp, 'phrases.txt'), path.join(rules, 'phrases.txt'));
        copyFileSync(path.join(tmp, 'bench.keys'), path.join(rules, 'bench.keys'));
        args.push('--rules', rules, '--audit', without.includes('audit') ? 'off' : path.join(tmp, `audit-${i}.log`));
        headers = { ...headers, authorization: `Bearer ${key}` };
      } else throw new Error(`unknown configuration "${config}" (bare, pass, full, full-without-…)`);
      if (redis) args.push('--redis-url', 'redis://127.0.0.1:6379');
      if (otlp) args.push('--otlp-endpoint', `http://127.0.0.1:${sinkPort}`);
      if (withConsole) {
        consolePort = await freePort();
        adminKey = createKey({ node: process.execPath, root: ROOT }, path.join(tmp, `console-${i}.keys`), ['--label', 'ab-admin', '--policy', '*', '--grant', 'admin']);
        args.push('--console-keys', path.join(tmp, `console-${i}.keys`), '--console-listen', `127.0.0.1:${consolePort}`);
      }
    }
    const child = pin
      ? spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir })
      : spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
    const ready = config === 'bare' ? `http://127.0.0.1:${port}/` : `http://127.0.0.1:${port}/readyz`;
    let up = false;
    for (let k = 0; k < 300 && !up; k++) {
      const status = await httpStatus(ready).catch(() => 0);
      up = config === 'bare' ? status > 0 : status === 200;
      if (!up) await sleep(100);
    }
    if (!up) throw new Error(`${spec} did not start`);
    if (withReader) {
      // On cpu 0 with the load generator: the cost measured is the gateway's fan-out to it, not its reading.
      const reader = spawn(pin ? 'taskset' : process.execPath, [...(pin ? ['-c', '0', process.execPath] : []), path.join(ROOT, 'bench/console-client.ts'), `http://127.0.0.1:${consolePort}`, adminKey],
        { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
      await new Promise<void>((resolve, reject) => {
        reader.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('console client connected')) resolve(); });
        reader.once('exit', (code) => reject(new Error(`${spec}: the console client exited with ${code}`)));
      });
      readers.push(reader);
    }
    proxies.push({ spec, url, headers, child, cpu: [], sys: [], rps: [], p50: [] });
  }
  const load = (p: Proxy, s: number) => runLoad({ url: p.url, headers: p.headers, body, connections: 32, pipelining: 1, durationS: s });
  for (const p of proxies) await load(p, 3); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const p of r % 2 ? [...proxies].reverse() : proxies) {
      const pid = p.child.pid!;
      const c0 = cpuMsOf(pid);
      const s0 = systemMs(pid);
      const res = await load(p, seconds);
      p.cpu.push(((cpuMsOf(pid) - c0) * 1000) / res.ok);
      p.sys.push(((systemMs(pid) - s0) * 1000) / res.ok);
      p.rps.push(res.rps);
      p.p50.push(res.p50);
      if (res.non2xx || res.errors) console.log(`${p.spec}: ${res.non2xx} non-2xx, ${res.errors} errors`);
    }
  }
  const base = median(proxies[0]!.cpu);
  const baseRps = median(proxies[0]!.rps);
  console.log(`\n${rounds} rounds × ${seconds} s, 32 connections${pin ? ', proxies on cpu 1, load and upstream on cpu 0' : ''}\n`);
  console.log('| spec | CPU µs/req | ×first | system µs/req | req/s | ×first | p50 ms |\n|---|--:|--:|--:|--:|--:|--:|');
  for (const p of proxies) {
    const cpu = median(p.cpu);
    const rps = median(p.rps);
    console.log(`| ${p.spec} | ${cpu.toFixed(1)} | ${(cpu / base).toFixed(2)}× | ${median(p.sys).toFixed(1)} | ${rps.toFixed(0)} | ${(rps / baseRps).toFixed(2)}× | ${median(p.p50).toFixed(2)} |`);
  }
} finally {
  for (const r of readers) r.kill('SIGTERM');
  for (const p of proxies) p.child.kill('SIGTERM');
  upstream.close();
  upstream.closeAllConnections();
  sink.close();
  sink.closeAllConnections();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
