// Runs the Python connectors' pytest suites (FastAPI, LangChain for Python, LiteLLM) from `npm test` against one
// gateway this file starts, and checks the LiteLLM proxy config.yaml by sending the request it configures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { fixtureInfo, startConnectorFixture, type ConnectorFixture } from './testing/fixture.ts';
import { findPython, INSTALL_COMMAND } from './testing/python.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let f: ConnectorFixture;
let python: string;

beforeAll(async () => {
  python = findPython(); // fails at once, naming the apt-get command, when the modules are missing
  f = await startConnectorFixture();
});
afterAll(async () => { await f?.stop(); });

/** Runs `python -m pytest` in `dir` with the fixture's description; resolves with exit code and output. */
function pytest(dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], {
      cwd: path.join(HERE, dir),
      env: { ...process.env, PGW_CONNECTOR_FIXTURE: JSON.stringify(fixtureInfo(f)), PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('Python connectors (pytest against the running gateway)', () => {
  it('without a Python that has the modules, fails at once naming the apt-get command', () => {
    expect(INSTALL_COMMAND).toBe('apt-get install -y python3-fastapi python3-httpx python3-uvicorn python3-pytest');
    expect(() => findPython(['/nonexistent/python3', process.execPath])).toThrow(`install Debian's packages: ${INSTALL_COMMAND}`);
  });

  it.each([
    { dir: 'policy-gateway-fastapi', atLeast: 41 },
    { dir: 'policy-gateway-langchain/python', atLeast: 16 },
    { dir: 'policy-gateway-litellm', atLeast: 8 },
  ])('$dir', async ({ dir, atLeast }) => {
    const { code, out } = await pytest(dir);
    expect(code, out).toBe(0);
    const passed = Number(/(\d+) passed/.exec(out)?.[1] ?? 0);
    expect(passed, out).toBeGreaterThanOrEqual(atLeast);
    expect(out).not.toMatch(/\d+ (failed|error|skipped)/);
  }, 180_000);
});

describe('LiteLLM proxy config.yaml', () => {
  const config = parseYaml(readFileSync(path.join(HERE, 'policy-gateway-litellm/config.yaml'), 'utf8'));
  const entry = config.model_list[0];

  it('routes its model group to the gateway with the policy key, policy_id and project, and forwards x- headers for it', () => {
    expect(entry.litellm_params).toMatchObject({
      model: expect.stringMatching(/^openai\//),
      api_base: 'os.environ/POLICY_GATEWAY_BASE_URL',
      api_key: 'os.environ/POLICY_GATEWAY_KEY',
      extra_body: { policy_id: 'policy-gateway' },
      extra_headers: { 'X-Policy-Project': 'support-bot' },
    });
    expect(config.litellm_settings.model_group_settings.forward_client_headers_to_llm_api).toEqual([entry.model_name]);
  });

  it('the request the proxy makes from it is accepted by the gateway, with the client\'s forwarded X-Policy-User', async () => {
    // What LiteLLM sends for that entry (openai/ provider → the OpenAI SDK): POST {api_base}/chat/completions,
    // Bearer {api_key}, extra_headers plus the forwarded x- client headers, the model without "openai/", extra_body merged.
    const p = entry.litellm_params;
    const res = await fetch(`${f.url}/policy/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.key}`, 'content-type': 'application/json', ...p.extra_headers, 'x-policy-user': 'user-12345' },
      body: JSON.stringify({ model: p.model.slice('openai/'.length), messages: [{ role: 'user', content: f.prompts.allow }], ...p.extra_body }),
    });
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.policy).toMatchObject({ policy_id: 'policy-gateway', decision: 'allow', policy_user: 'user-12345', project_id: 'support-bot' });
  });
});
