// The README's test command on a fresh machine (issue 13 item 11): the real globalSetup, run through a nested vitest,
// gives the tests a Redis of their own when none answers at REDIS_URL (and stops it afterwards), and without Debian's
// prometheus/promtool (and no way to install them) fails at once naming the exact command. The shared Redis on 6379 is
// never touched: "no Redis" is a REDIS_URL on an unused port, "no prometheus" a PATH that hides it.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureTools, redisAnswers, which } from './global-setup.ts';
import { ROOT } from '../helpers/gateway-process.ts';

const VITEST = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
const CONFIG = path.join(ROOT, 'test/setup/fixture/vitest.config.ts');

function runProbe(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t = performance.now();
    const p = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { out += d; });
    p.on('exit', (code) => resolve({ code, out, ms: performance.now() - t }));
  });
}

async function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** A directory holding only a `node` link: a PATH with no Debian tools and no apt-get. */
function barePath(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-bare-path-'));
  symlinkSync(process.execPath, path.join(dir, 'node'));
  return dir;
}

describe('npm test on a machine without Redis or Prometheus', () => {
  it('no Redis at REDIS_URL: the run starts its own on a spare port, the tests use it, and it is stopped afterwards', async () => {
    const port = await unusedPort();
    const r = await runProbe({ ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`no Redis answered at redis://127.0.0.1:${port}: started redis-server at redis://127.0.0.1:`);
    const used = /PROBE REDIS_URL=(\S+)/.exec(r.out)?.[1];
    expect(used).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(used).not.toBe(`redis://127.0.0.1:${port}`);
    expect(await redisAnswers(used!, 500)).toBe(false); // stopped with the run
  });

  it('a Redis that answers at REDIS_URL is used as it is', async () => {
    const wanted = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const r = await runProbe({ ...process.env, REDIS_URL: wanted });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`PROBE REDIS_URL=${wanted}`);
    expect(r.out).not.toContain('started redis-server');
  });

  it('no prometheus and no way to install it: the run fails at once with the exact command', async () => {
    const r = await runProbe({ ...process.env, PATH: barePath() });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('sudo apt-get install -y redis-server prometheus');
    expect(r.out).not.toContain('PROBE');
    expect(r.ms).toBeLessThan(20_000);
  });
});

describe('ensureTools and which', () => {
  it('finds tools on PATH and says nothing', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    expect(() => ensureTools([['sh', 'dash']])).not.toThrow();
  });

  it('names the missing command and its package, with the command to install it', () => {
    expect(() => ensureTools([['promtool', 'prometheus']], { PATH: barePath() })).toThrow(/need promtool \(Debian package prometheus\)[\s\S]*sudo apt-get install -y prometheus/);
  });

  it('a requirement that is not a command (Python modules) is checked by its own test and named with all its packages', () => {
    const seen: NodeJS.ProcessEnv[] = [];
    const modules = (env: NodeJS.ProcessEnv) => { seen.push(env); return false; };
    expect(() => ensureTools([['python3 with fastapi', 'python3-fastapi python3-httpx', modules]], { PATH: barePath() }))
      .toThrow(/need python3 with fastapi \(Debian packages python3-fastapi, python3-httpx\)[\s\S]*sudo apt-get install -y python3-fastapi python3-httpx/);
    expect(seen).toHaveLength(1);
    expect(() => ensureTools([['python3 with fastapi', 'python3-fastapi', () => true]], { PATH: barePath() })).not.toThrow();
  });
});
