// Container smoke check (`npm run test:container`, root + podman): builds the Dockerfile and runs the image as a user
// would — /healthz, the image's HEALTHCHECK, a chat request, non-root, read-only root filesystem, SIGTERM as PID 1
// draining an in-flight stream. Not part of `npm test` (a build takes about a minute); prints one line per check.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_ANSWER, startFakeUpstream } from '../helpers/fake-upstream.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IMAGE = process.env.POLICY_GATEWAY_IMAGE ?? 'localhost/policy-gateway:smoke';
/** Base image: the Dockerfile's default (node:24-slim) when it can be pulled; else a stand-in built by local-base.sh. */
const LOCAL_BASE = 'localhost/policy-gateway-base:24-slim';
const NAME = `policy-gateway-smoke-${process.pid}`;

let failures = 0;
function check(what: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}\n`);
}

function podman(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): { code: number; out: string; err: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 });
  const res = { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`podman ${args.join(' ')} failed (${res.code}):\n${res.err}`);
  return res;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

/**
 * Flags `podman run` needs on this host. Sandboxed hosts may refuse podman's default rlimits (1M open files) and
 * crun's cgroup handling; we fall back to runc with limits below the host's, and say so.
 */
let flagsFound: string[] | undefined;
function runtimeFlags(): string[] {
  if (flagsFound) return flagsFound;
  const candidates: string[][] = [[], ['--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096']];
  for (const flags of candidates) {
    const r = podman(['run', '--rm', ...flags, '--entrypoint', 'node', IMAGE, '-e', 'process.exit(0)'], { allowFail: true, timeoutMs: 60_000 });
    if (r.code === 0) {
      if (flags.length) process.stdout.write(`note podman run needs ${flags.join(' ')} on this host\n`);
      flagsFound = flags;
      return flags;
    }
  }
  throw new Error('podman cannot run a container on this host (tried the default runtime and runc)');
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stdout.write(`     (gave up waiting for ${what} after ${timeoutMs} ms)\n`);
  return false;
}

async function main(): Promise<void> {
  if (spawnSync('podman', ['--version']).status !== 0) throw new Error('podman is required: apt-get install -y podman runc');

  // 1. Build. The Dockerfile's base is node:24-slim; where no registry is reachable, build against the stand-in.
  let base = process.env.NODE_IMAGE;
  if (!base) {
    const pulled = podman(['pull', '-q', 'docker.io/library/node:24-slim'], { allowFail: true, timeoutMs: 60_000 });
    if (pulled.code === 0) base = 'docker.io/library/node:24-slim';
    else {
      if (podman(['image', 'exists', LOCAL_BASE], { allowFail: true }).code !== 0) {
        process.stdout.write(`note node:24-slim cannot be pulled here; building the stand-in base ${LOCAL_BASE}\n`);
        execFileSync(path.join(ROOT, 'deploy/container/local-base.sh'), [LOCAL_BASE], { stdio: 'inherit' });
      }
      base = LOCAL_BASE;
    }
  }
  const t0 = Date.now();
  // runc for the RUN steps too: crun refuses this kind of hybrid cgroup host, runc does not.
  const buildRuntime = spawnSync('runc', ['--version']).status === 0 ? ['--runtime', 'runc'] : [];
  podman([...buildRuntime, 'build', '--format', 'docker', '--build-arg', `NODE_IMAGE=${base}`, '-t', IMAGE, ROOT], { timeoutMs: 600_000 });
  check('image builds from the Dockerfile', true, `base ${base}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const inspect = JSON.parse(podman(['image', 'inspect', IMAGE]).out)[0] as { Size: number; Healthcheck?: { Test?: string[] }; Config: { User?: string; StopSignal?: string } };
  check('image runs as the non-root user node', inspect.Config.User === 'node', `User=${inspect.Config.User}`);
  check('image declares a HEALTHCHECK', Array.isArray(inspect.Healthcheck?.Test), JSON.stringify(inspect.Healthcheck?.Test));
  check('image stops with SIGTERM', inspect.Config.StopSignal === 'SIGTERM', `StopSignal=${inspect.Config.StopSignal}`);
  process.stdout.write(`note image size ${(inspect.Size / 1e6).toFixed(0)} MB\n`);
  const listing = podman(['run', '--rm', ...runtimeFlags(), '--entrypoint', 'sh', IMAGE, '-c', 'ls /app; ls /app/node_modules; ls /app/node_modules/.bin 2>/dev/null | wc -l']).out;
  check('no test, bench or docs files in the image', !/\b(test|bench|docs|tsconfig\.json|vitest)\b/.test(listing.split('\n').slice(0, 12).join(' ')), listing.split('\n').slice(0, 12).join(' '));
  check('only production dependencies in the image', !/\b(vitest|typescript|openai|autocannon|fast-check)\b/.test(listing), 'no vitest/typescript/openai/autocannon/fast-check');

  // 2. Run it like an operator: read-only root, against a slow-streaming upstream, with a short --grace.
  const flags = runtimeFlags();
  const upstream = await startFakeUpstream({ chunkDelayMs: 250 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  try {
    podman(['run', '-d', '--name', NAME, ...flags, '--network', 'host', '--read-only', '--read-only-tmpfs=false', '--health-interval', 'disable',
      '-e', `POLICY_GATEWAY_PORT=${port}`, '-e', `POLICY_GATEWAY_UPSTREAM=${upstream.baseUrl}`, IMAGE, 'serve', '--grace', '10s']);
    const up = await waitFor('/healthz', async () => (await fetch(`${url}/healthz`)).status === 200, 30_000);
    check('GET /healthz answers 200', up);
    check('GET /readyz answers 200 (policies loaded, upstream reachable)', (await fetch(`${url}/readyz`)).status === 200);
    check("the image's HEALTHCHECK command passes", podman(['healthcheck', 'run', NAME], { allowFail: true }).code === 0);
    const whoami = podman(['exec', NAME, 'sh', '-c', 'id -u; tr "\\0" " " </proc/1/cmdline; echo; touch /app/x 2>&1; touch /tmp/x 2>&1 || true']).out.split('\n');
    check('the gateway runs as uid 1000', whoami[0]?.trim() === '1000', `uid ${whoami[0]}`);
    check('PID 1 is node running the CLI (no shell in between)', /^node \/app\/src\/cli\/main\.ts serve/.test(whoami[1] ?? ''), whoami[1]);
    const writes = whoami.slice(2).join(' ');
    check('the gateway runs with a read-only root filesystem and no writable /tmp', (writes.match(/Read-only file system/g) ?? []).length === 2, writes.trim());

    const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'Summarize our refund policy.' }] }) });
    const j = (await r.json()) as { choices?: { message?: { content?: string } }[]; policy?: { decision?: string } };
    check('a chat completion goes through the policy chain to the upstream', r.status === 200 && j.policy?.decision === 'allow' && (j.choices?.[0]?.message?.content ?? '').includes('[EMAIL]'),
      `status ${r.status}, decision ${j.policy?.decision}, redacted answer ${JSON.stringify(j.choices?.[0]?.message?.content)}`);

    // 3. SIGTERM to PID 1 while a stream is in flight: the stream finishes, new connections are refused, exit 0.
    const stream = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'Tell me about shipping.' }] }) });
    const reader = stream.body!.getReader();
    const first = await reader.read();
    const stoppedAt = Date.now();
    podman(['kill', '--signal', 'TERM', NAME]);
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const content = [...text.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string).join('');
    check('the in-flight stream completes after SIGTERM', text.includes('data: [DONE]') && content === FAKE_ANSWER.replace('alice@example.com', '[EMAIL]'), `${JSON.stringify(content)}`);
    const refused = await waitFor('new connections to be refused', async () => { try { await fetch(`${url}/healthz`); return false; } catch { return true; } }, 15_000);
    check('after SIGTERM no new connection is accepted', refused);
    const code = podman(['wait', NAME], { timeoutMs: 30_000 }).out.trim();
    const tookMs = Date.now() - stoppedAt;
    check('the container exits with code 0 after draining', code === '0', `exit ${code} ${tookMs} ms after SIGTERM (grace 10s)`);
    const logs = podman(['logs', NAME]).out + podman(['logs', NAME]).err;
    check('the gateway logged the graceful stop', /"reason":"SIGTERM"[^\n]*"msg":"shutting down"/.test(logs) && /"msg":"stopped"/.test(logs));
    check('an audit line was written for the drained stream', /decision=allow[^\n]*stream=true/.test(logs));
  } finally {
    podman(['rm', '-f', NAME], { allowFail: true });
    await upstream.close();
  }
  process.stdout.write(`${failures === 0 ? 'container smoke: all checks passed' : `container smoke: ${failures} check(s) failed`}\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

if (!existsSync(path.join(ROOT, 'Dockerfile'))) throw new Error('run from the repository');
main().catch((err: unknown) => { process.stderr.write(`container smoke: ${(err as Error).message}\n`); process.exitCode = 1; });
