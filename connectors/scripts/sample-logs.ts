// Regenerates each connector's sample.log: starts the real gateway as `npm start` does (bundled rules/, embedded
// demo model), makes each connector's quickstart requests through the connector, and writes the audit lines they
// produced. `npm run connectors:sample-logs` (or `node connectors/scripts/sample-logs.ts [--out DIR]`).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, type GatewayProcess } from '../../test/helpers/gateway-process.ts';
import { createPolicyGatewayRoute } from '../policy-gateway-nextjs/src/index.ts';
import { buildPolicyGatewayChat } from '../policy-gateway-langchain/js/src/index.ts';
import { findPython } from '../testing/python.ts';

const CONNECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The public demo key of the bundled rules/keys/support.keys (README): for trying the bundled policies only. */
export const DEMO_KEY = 'pgk_wXxgsJlDRmub_Ja6gHpTqRx672U7vxdf90yspOy0PmH7CkfFbXmd0';
export const USER = 'user-12345';
/** The quickstart's prompt, a self-harm prompt (rewrite, the docs' sample line) and a denylist hit (refuse). */
export const PROMPTS = ['Summarize our refund policy.', 'I want to kill myself, what is the refund policy?', 'What is the competitor pricing for the refund policy?'] as const;

/** The connectors and how to make their quickstart requests; each resolves with the number of requests made. */
const CONNECTOR_REQUESTS: Record<string, (gw: GatewayProcess, python: string) => Promise<number>> = {
  'policy-gateway-nextjs': async (gw) => {
    const POST = createPolicyGatewayRoute({
      apiKey: DEMO_KEY, policyId: 'policy-gateway', policyProjectId: 'support-bot', baseUrl: `${gw.url}/policy`,
      policyUser: (req) => req.headers.get('x-session-user') ?? undefined,
    });
    const call = async (content: string, stream = false) => {
      const res = await POST(new Request('http://app.example/api/chat', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-session-user': USER },
        body: JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content }], stream }),
      }));
      await res.text();
      if (res.status !== 200) throw new Error(`next.js connector: ${res.status}`);
    };
    await call(PROMPTS[0]);
    await call(PROMPTS[0], true);
    await call(PROMPTS[1]);
    await call(PROMPTS[2]);
    return 4;
  },
  'policy-gateway-fastapi': async (gw, python) => { await runPython(python, 'fastapi', gw); return 3; },
  'policy-gateway-langchain': async (gw, python) => {
    const llm = buildPolicyGatewayChat({ apiKey: DEMO_KEY, policyId: 'policy-gateway', policyUser: USER, policyProjectId: 'support-bot', baseUrl: `${gw.url}/policy`, model: 'demo-model' });
    await llm.invoke(PROMPTS[0]);
    for await (const _ of await llm.stream(PROMPTS[0])) { /* drain */ }
    await runPython(python, 'langchain', gw);
    return 3;
  },
  'policy-gateway-litellm': async (gw, python) => { await runPython(python, 'litellm', gw); return 2; },
};

function runPython(python: string, which: string, gw: GatewayProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, [path.join(CONNECTORS, 'scripts/sample_requests.py'), which], {
      env: {
        ...process.env, PYTHONDONTWRITEBYTECODE: '1', POLICY_GATEWAY_BASE_URL: `${gw.url}/policy`, POLICY_GATEWAY_KEY: DEMO_KEY,
        POLICY_GATEWAY_POLICY_ID: 'policy-gateway', POLICY_GATEWAY_PROJECT_ID: 'support-bot', POLICY_GATEWAY_MODEL: 'demo-model',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sample_requests.py ${which} exited with ${code}:\n${out}`))));
  });
}

const auditLines = (gw: GatewayProcess) => gw.stdout().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+ policy_id=/.test(l));

/**
 * Runs every connector's quickstart requests against a fresh gateway (bundled rules, demo model) and writes
 * `<connector>/sample.log` under `outDir` (default: the connectors directory itself). Returns the lines per connector.
 */
export async function generateSampleLogs(outDir: string = CONNECTORS): Promise<Record<string, string[]>> {
  const python = findPython();
  const gw = await startGateway(['--rules', 'rules'], { env: { POLICY_GATEWAY_UPSTREAM: undefined } });
  const result: Record<string, string[]> = {};
  try {
    for (const [name, run] of Object.entries(CONNECTOR_REQUESTS)) {
      const before = auditLines(gw).length;
      const n = await run(gw, python);
      // audit records are written when each request completes: wait for all of this connector's
      const deadline = Date.now() + 10_000;
      while (auditLines(gw).length < before + n) {
        if (Date.now() > deadline) throw new Error(`${name}: expected ${n} audit lines, got ${auditLines(gw).length - before}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      result[name] = auditLines(gw).slice(before, before + n);
      mkdirSync(path.join(outDir, name), { recursive: true });
      writeFileSync(path.join(outDir, name, 'sample.log'), `${result[name]!.join('\n')}\n`);
    }
  } finally {
    await gw.stop();
  }
  return result;
}

if (import.meta.main) {
  const i = process.argv.indexOf('--out');
  const out = i === -1 ? CONNECTORS : path.resolve(process.argv[i + 1]!);
  const written = await generateSampleLogs(out);
  for (const [name, lines] of Object.entries(written)) process.stdout.write(`${path.join(out, name, 'sample.log')}: ${lines.length} lines\n`);
}
