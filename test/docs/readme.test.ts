// The README's code blocks run as a newcomer runs them — `npm start` on a free port, curl, node, python3, `npx
// policy-gateway` — each checked against what the README says it prints; every block is run or skipped with a reason.
// README_UPDATE=1 (never under CI) rewrites the audit sample from fresh records instead of failing on a stale one.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPython } from '../../connectors/testing/python.ts';
import { startFakeUpstream } from '../helpers/fake-upstream.ts';
import { ROOT, startGateway } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

const execFileAsync = promisify(execFile);
/** Runs a command to completion; a command that hangs is killed after 20 s (and the promise rejects). */
const run = (cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  execFileAsync(cmd, args, { ...opts, timeout: 20_000, killSignal: 'SIGKILL' });
const README_PATH = path.join(ROOT, 'README.md');
const README = readFileSync(README_PATH, 'utf8');
const BIN = path.join(ROOT, 'bin/policy-gateway.mjs');

/** A fenced block of the README: its info string, text, the heading it sits under, and its first line number. */
interface Block { readonly lang: string; readonly text: string; readonly heading: string; readonly line: number }

/** The README's fenced blocks (fences at the start of a line, as GitHub renders them), in order. */
function readmeBlocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6} (.*)/.exec(lines[i]!);
    if (h) { heading = h[1]!; continue; }
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md:${i + 1}: unclosed code block`);
    out.push({ lang: open[1]!, text: lines.slice(i + 1, end).join('\n'), heading, line: i + 1 });
    i = end;
  }
  return out;
}

/** Splits a shell command line into words as sh does for plain, '…' and "…" words and backslashes (no expansion). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (/\s/.test(c)) { if (cur !== undefined) words.push(cur); cur = undefined; continue; }
    cur ??= '';
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur += line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) cur += line[j] === '\\' ? line[++j] : line[j];
      if (j >= line.length) throw new Error(`unterminated " in: ${line}`);
      i = j;
    } else cur += c === '\\' ? line[++i] ?? '' : c;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** Shell commands of a block: continuation lines joined, comments and blank lines dropped. */
const commands = (text: string): string[] => text.replace(/\\\n\s*/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

/** The `# → …` lines of a block: what the README says it prints. */
const promised = (text: string): string[] => [...text.matchAll(/^# → (.*)$/gm)].map((m) => m[1]!);

const blocks = readmeBlocks(README);
/** Each block's role; the blocks a test takes are claimed by it, the rest are skipped with a reason. */
const roles = new Map<Block, string>();
const claim = (pred: (b: Block) => boolean, role: string): Block[] => {
  const found = blocks.filter((b) => !roles.has(b) && pred(b));
  for (const b of found) roles.set(b, role);
  return found;
};
/** The block right after `b` (its expected output). */
const after = (b: Block): Block | undefined => blocks[blocks.indexOf(b) + 1];

const twoCommands = claim((b) => b.lang === 'bash' && b.text.includes('npm ci && npm start'), 'the two commands');
const auditRequests = claim((b) => b.heading === 'Audit records' && b.lang === 'bash', 'the six requests of the audit sample');
const auditSample = claim((b) => b.heading === 'Audit records' && b.lang === '', 'the audit sample');
const quickCurls = claim((b) => b.lang === 'bash' && /^curl /m.test(b.text), 'a curl example');
const policyJson = claim((b) => b.lang === 'json' && quickCurls.some((c) => after(c) === b), 'the policy block the curl example prints');
const jsSnippets = claim((b) => b.lang === 'js', 'the Node snippet');
const pySnippets = claim((b) => b.lang === 'python', 'the Python snippet');
const outputs = claim((b) => b.lang === 'text' && [...jsSnippets, ...pySnippets].some((s) => after(s) === b), 'a snippet\'s output');
const consoleBlocks = claim((b) => b.heading === 'Console' && b.lang === 'bash', 'the console quickstart');
const serveBlocks = claim((b) => b.lang === 'bash' && /^npx policy-gateway serve /m.test(b.text) && !/kubectl|docker/.test(b.text), 'serve with real backends');
const keysBlocks = claim((b) => b.lang === 'bash' && /^npx policy-gateway keys /m.test(b.text), 'npx policy-gateway keys (its kubectl lines are not run)');
const layout = claim((b) => b.heading === 'Layout' && b.lang === '', 'the layout');
/** Blocks not run, and why. */
const SKIPPED: readonly [RegExp, string][] = [
  [/^docker (build|run) /m, 'needs a container engine that can pull node:24-slim: test/deploy/dockerfile.test.ts lints the Dockerfile, npm run test:container builds and runs the image'],
  [/^docker compose /m, 'needs Docker: test/deploy/compose.test.ts validates the compose file and the Prometheus config'],
];
for (const b of blocks) {
  const why = SKIPPED.find(([re]) => re.test(b.text));
  if (!roles.has(b) && why) roles.set(b, `skipped: ${why[1]}`);
}

/** The gateway as `npm start` runs it, on a free port; `started` is its npm process, also when it never listened. */
let gw: { url: string; out: () => string };
let started: ChildProcess | undefined;
/** Block text with the README's address pointed at the test's gateway. */
const here = (text: string): string => text.replaceAll('http://localhost:5000', gw.url);
const scratch: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(path.join(tmpdir(), 'pgw-readme-')); scratch.push(d); return d; };

/** The environment of a fresh shell: no Redis URL, log level or POLICY_GATEWAY_* settings from this test run. */
function freshEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(env)) if (k === 'REDIS_URL' || k === 'LOG_LEVEL' || k === 'POLICY_KEY' || (k.startsWith('POLICY_GATEWAY_') && !(k in extra))) delete env[k];
  return env;
}

beforeAll(async () => {
  // `npm start`, as the README's first block says, with the port left to the system
  expect(twoCommands).toHaveLength(1);
  const proc = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: freshEnv({ POLICY_GATEWAY_PORT: '0' }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started = proc;
  let out = '';
  let err = '';
  const exited = new Promise((r) => proc.on('exit', r));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen in time\n${out}\n${err}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`npm start exited with ${String(code)}\n${out}\n${err}`)); });
  });
  gw = { url: `http://127.0.0.1:${port}`, out: () => out };
}, 40_000);

afterAll(async () => {
  if (started?.pid !== undefined && started.exitCode === null) {
    const exited = new Promise((r) => started!.once('exit', r));
    process.kill(-started.pid, 'SIGTERM'); // npm and the gateway it started: the process group this test created
    await exited;
  }
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe('README.md', () => {
  // first, so the sample's request ids count from 1 as after a fresh `npm start`
  it('the audit sample is what npm start writes for the six requests', async () => {
    const before = new Set(auditLines(gw.out()));
    const block = auditRequests[0]!;
    const { stdout } = await run('bash', ['-c', here(block.text)], { cwd: ROOT, env: freshEnv() });
    expect(stdout.trim()).toBe(promised(block.text).join('\n'));
    const sample = auditSample[0]!.text.split('\n');
    let fresh: string[] = [];
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      fresh = auditLines(gw.out()).filter((l) => !before.has(l));
      if (fresh.length >= sample.length) break;
    }
    fresh.sort((a, b) => seq(a) - seq(b));
    if (process.env.README_UPDATE === '1' && !process.env.CI) {
      writeFileSync(README_PATH, readFileSync(README_PATH, 'utf8').replace(auditSample[0]!.text, fresh.join('\n')));
      return;
    }
    expect(fresh.map(stable), `the sample is stale; fresh lines (README_UPDATE=1 rewrites it):\n${fresh.join('\n')}`).toEqual(sample.map(stable));
    for (const line of sample) {
      expect(parseLogfmt(line).request_id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
      expect(parseLogfmt(line).revision).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  it('runs or names every fenced block', () => {
    const unhandled = blocks.filter((b) => !roles.has(b)).map((b) => `README.md:${b.line} (${b.lang || 'no language'}) under "${b.heading}"`);
    expect(unhandled, 'run the new block in test/docs/readme.test.ts, or add it to SKIPPED with the reason').toEqual([]);
    expect(quickCurls.length).toBeGreaterThanOrEqual(2);
    expect([jsSnippets.length, pySnippets.length, outputs.length, auditRequests.length, auditSample.length]).toEqual([1, 1, 2, 1, 1]);
  });

  it('the two commands: npm start serves the bundled rules with the demo model, on the port the README names', async () => {
    const port = /serves on http:\/\/localhost:(\d+)/.exec(twoCommands[0]!.text)?.[1];
    expect(port).toBeDefined();
    const help = await run(process.execPath, [BIN, 'serve', '--help'], { cwd: ROOT });
    expect(help.stdout).toMatch(new RegExp(`--port N .*\\(default ${port};`));
    expect(gw.out()).toContain('serving the embedded demo model');
    const models = (await (await fetch(`${gw.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain('demo-model');
    // `npm test` is the command running this file; `npm ci` would reinstall node_modules under it
    expect(commands(twoCommands[0]!.text).map((c) => c.replace(/\s+#.*/, ''))).toEqual(['npm ci && npm start', 'npm test']);
  });

  it('every CLI command in the README is run through npx, and the CLI table lists commands the CLI has', async () => {
    const inline = [...README.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
    const inBlocks = blocks.filter((b) => b.lang === 'bash').flatMap((b) => commands(b.text));
    const bare = [...inline, ...inBlocks].filter((c) => /(^|[^\w/-])policy-gateway (serve|check|fmt|keys)\b/.test(c)
      && !/^(docker|podman|kubectl)\b/.test(c) && !/\bnpx policy-gateway (serve|check|fmt|keys)\b/.test(c));
    expect(bare, 'write npx policy-gateway …: the bin is not on PATH after npm ci').toEqual([]);
    // the table and `policy-gateway --help` list the same commands
    const table = [...README.matchAll(/^\| `npx policy-gateway (\w+)[^`]*` \|/gm)].map((m) => m[1]!);
    const { stdout } = await run(process.execPath, [BIN, '--help'], { cwd: ROOT });
    const help = [...stdout.split(/^Commands:$/m)[1]!.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!);
    expect(help).toEqual(expect.arrayContaining(['serve', 'check', 'fmt', 'keys']));
    expect([...new Set(table)].sort()).toEqual([...help].sort());
  });

  it('the runnable inline npx commands (no placeholders) succeed in a copy of the repository\'s rules', async () => {
    // placeholders ([paths], L, …) and `serve` itself (it runs until stopped; the serve blocks are run below) aside
    const runnable = [...README.matchAll(/`(npx policy-gateway [^`\n]+)`/g)].map((m) => m[1]!)
      .filter((c) => !/[[\]…|]|\s[A-Z]{1,3}(\s|$)/.test(c) && !/^npx policy-gateway serve(?! --help$)/.test(c));
    expect(runnable.length).toBeGreaterThanOrEqual(2);
    for (const c of runnable) {
      const dir = tempDir();
      cpSync(path.join(ROOT, 'rules'), path.join(dir, 'rules'), { recursive: true });
      const args = shellWords(c).slice(2);
      await run(process.execPath, [BIN, ...args], { cwd: dir }); // rejects unless it exits 0
      if (args[0] === 'keys' && args[1] === 'revoke') {
        const id = args[args.indexOf('--id') + 1]!;
        expect(readFileSync(path.join(dir, 'rules/keys/support.keys'), 'utf8')).toContain(id); // the original
        expect(readFileSync(path.join(dir, args[args.indexOf('--file') + 1]!), 'utf8')).not.toMatch(new RegExp(`^${id} `, 'm'));
      }
    }
  });

  it('the curl examples answer as the README says', async () => {
    for (const block of quickCurls) {
      const { stdout } = await run('bash', ['-c', here(block.text)], { cwd: ROOT, env: freshEnv() });
      const answer = JSON.parse(stdout) as { choices: { message: { content: string } }[]; policy: Record<string, unknown> };
      const json = after(block);
      if (json && policyJson.includes(json)) {
        expect(answer.policy).toEqual((JSON.parse(`{${json.text}}`) as { policy: unknown }).policy);
        continue;
      }
      const says = promised(block.text);
      expect(says, `README.md:${block.line}: say what the example prints (# → …)`).toHaveLength(1);
      const m = /^refused: "(.*)" \(reason_code (\w+)\)$/.exec(says[0]!);
      expect(m, `README.md:${block.line}: an expectation this test reads`).not.toBeNull();
      expect(answer.policy).toMatchObject({ decision: 'refuse', reason_code: m![2] });
      expect(answer.choices[0]!.message.content).toBe(m![1]);
    }
  });

  it('the .mjs snippet runs under plain node with the openai package and prints what the README shows', async () => {
    const dir = tempDir();
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'quickstart.mjs'), here(jsSnippets[0]!.text));
    const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: dir, env: freshEnv() });
    expect(stdout.trimEnd()).toBe(after(jsSnippets[0]!)!.text);
  });

  it('the Python snippet runs under python3 with the standard library and prints what the README shows', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'quickstart.py'), here(pySnippets[0]!.text));
    const { stdout } = await run(findPython(), ['quickstart.py'], { cwd: dir, env: freshEnv() });
    expect(stdout.trimEnd()).toBe(after(pySnippets[0]!)!.text);
  });

  it('the console quickstart: the admin key it creates opens the console the serve line starts (on its default address)', async () => {
    expect(consoleBlocks).toHaveLength(1);
    const [create, serveLine] = commands(consoleBlocks[0]!.text).map((c) => c.replace(/\s+#.*/, ''));
    const dir = tempDir();
    const createArgs = shellWords(create!).slice(2);
    const { stdout } = await run(process.execPath, [BIN, ...createArgs], { cwd: dir });
    const key = /\bpgk_[A-Za-z0-9]{12}_[A-Za-z0-9]+/.exec(stdout)![0];
    expect(readFileSync(path.join(dir, 'console.keys'), 'utf8')).toMatch(/ label=ops-admin policies=\* grants=admin$/m);
    const words = shellWords(serveLine!);
    expect(words.slice(0, 3)).toEqual(['npx', 'policy-gateway', 'serve']);
    const args = words.slice(3).map((w) => (w === 'console.keys' ? path.join(dir, w) : w));
    // The README's address is the default; the test binds a free port instead (5001 may be taken on this machine).
    expect(consoleBlocks[0]!.text).toContain('http://127.0.0.1:5001/console');
    const help = await run(process.execPath, [BIN, 'serve', '--help'], { cwd: ROOT });
    expect(help.stdout).toContain('(default 127.0.0.1:5001;');
    const g = await startGateway([...args, '--console-listen', '127.0.0.1:0']);
    try {
      const url = /"consoleUrl":"([^"]+)"/.exec(g.stdout())![1]!;
      const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${key}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { label: string }).label).toBe('ops-admin');
      expect((await fetch(`${url}/api/me`)).status).toBe(401);
    } finally {
      await g.stop();
    }
  });

  it('npx policy-gateway keys create (Kubernetes section) prints a key once and stores only its hash', async () => {
    const lines = keysBlocks.flatMap((b) => commands(b.text)).filter((c) => c.startsWith('npx policy-gateway keys create '));
    expect(lines).toHaveLength(1);
    const dir = tempDir();
    const args = shellWords(lines[0]!).slice(2);
    const { stdout } = await run(process.execPath, [BIN, ...args], { cwd: dir });
    const key = /\bpgk_([A-Za-z0-9]{12})_[A-Za-z0-9_-]+/.exec(stdout);
    expect(key).not.toBeNull();
    const file = readFileSync(path.join(dir, args[args.indexOf('--file') + 1]!), 'utf8');
    const label = args[args.indexOf('--label') + 1]!;
    const policy = args[args.indexOf('--policy') + 1]!;
    expect(file).toMatch(new RegExp(`^pgk_${key![1]} sha256:[0-9a-f]{64} label=${label} policies=${policy}`, 'm'));
    expect(file).not.toContain(key![0]);
  });

  it('Front a real backend: each serve command starts and sends the upstream key from the environment', async () => {
    expect(serveBlocks).toHaveLength(1);
    const up = await startFakeUpstream();
    try {
      const env: Record<string, string> = {};
      for (const c of commands(serveBlocks[0]!.text)) {
        const exp = /^export (\w+)=(\S+)$/.exec(c);
        if (exp) { env[exp[1]!] = exp[2]!; continue; }
        const words = shellWords(c.replaceAll('https://api.openai.com/v1', up.baseUrl));
        expect(words.slice(0, 3)).toEqual(['npx', 'policy-gateway', 'serve']);
        const g = await startGateway(words.slice(3), { env });
        try {
          const r = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Where is my parcel?' }] }) });
          expect(r.status, c).toBe(200);
          expect(up.received.at(-1)!.headers.authorization, c).toBe(`Bearer ${env.OPENAI_API_KEY}`);
        } finally {
          await g.stop();
        }
      }
      expect(env.OPENAI_API_KEY).toBeDefined();
    } finally {
      await up.close();
    }
  });

  it('the layout names folders that exist', () => {
    const folders = [...layout[0]!.text.matchAll(/(?:^|\s)([a-z]+)\/(?=\s)/gm)].map((m) => m[1]!);
    expect(folders).toEqual(expect.arrayContaining(['src', 'plugins', 'grammar', 'rules', 'test', 'deploy', 'bench', 'dashboards', 'docs', 'connectors']));
    for (const f of folders) expect(statSync(path.join(ROOT, f)).isDirectory(), f).toBe(true);
    const plugins = /^plugins\/ +one folder per plugin: (.*)$/m.exec(layout[0]!.text)![1]!.split(' ');
    for (const p of plugins) expect(readFileSync(path.join(ROOT, 'plugins', p, 'index.ts'), 'utf8'), p).toContain('definePlugin');
  });
});

/** The audit records (logfmt lines) in the gateway's stdout. */
function auditLines(out: string): string[] {
  return out.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ policy_id=/.test(l));
}

/** The sequence number of a record's request id (`419554aa0794-a` → 10, base 36): the order requests arrived in. */
const seq = (line: string): number => parseInt(/request_id=[0-9a-f]+-([0-9a-z]+)/.exec(line)?.[1] ?? '', 36);

/**
 * A record without what differs from run to run — time, request id, durations — and without the rule-set revision, a
 * hash of every bundled file that changes with any edit of rules/ (the sample shows one; its shape is checked apart).
 */
function stable(line: string): Record<string, string | null> {
  const rec = parseLogfmt(line);
  for (const k of ['timestamp', 'request_id', 'duration_ms', 'overhead_ms', 'upstream_ms', 'revision']) delete rec[k];
  return rec;
}
