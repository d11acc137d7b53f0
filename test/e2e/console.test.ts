// The console end to end in a real headless Chromium (Debian's, driven by playwright-core): the real CLI serves it on
// --console-listen; the page is refused without an admin key, shows a decision live after a request through the
// proxy, filters, opens a policy, and runs the playground. Writes the README's screenshots to docs/console/.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from '../setup/global-setup.ts';
import { ROOT, rulesDir, runCli, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

/**
 * Where the screenshots go: the README's docs/console/ on a developer's run (commit them when the page changed); under
 * CI a scratch directory, so a CI run never rewrites tracked files (the revision and times in them change every run).
 */
const SHOTS = process.env.CI ? mkdtempSync(path.join(tmpdir(), 'pgw-console-shots-')) : path.join(ROOT, 'docs/console');

const RULES = {
  'support.policy': `policy "support" {
  description "Support assistant: competitor talk is refused"
  default

  topics {
    deny "competitor pricing"
  }

  respond {
    when denylist refuse with "I can't help with that topic."
    otherwise allow
  }

  redact both {
    email
  }

  audit {
    tag "team:support"
    prompts on
  }
}
`,
  'metered.policy': `policy "metered" {
  quota {
    user 1 requests per day
  }
}
`,
  'trial.policy': `policy "trial" {
  description "A stricter policy tried in shadow mode first"

  topics {
    deny "refund"
  }

  respond {
    when denylist refuse
    otherwise allow
  }

  rollout {
    shadow target "*"
  }
}
`,
};

const DRAFT = `policy "draft" {
  topics {
    deny "wire transfer"
  }

  respond {
    when denylist refuse reason "NO_WIRES"
    otherwise allow
  }
}
`;

type ErrorBody = { error: { message: string; code: string } };

/** Script errors of any page: none may happen (checked after every test). */
const pageErrors: string[] = [];
let gw: GatewayProcess;
let rules: string;
let consoleUrl: string;
let browser: Browser;
let adminKey: string;
let readerKey: string;

async function createKey(file: string, label: string, grant?: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--label', label, '--policy', '*', ...(grant ? ['--grant', grant] : []), '--file', file]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** Sends a chat completion through the proxy; returns its request id. */
async function chat(policy: string, content: string, user = 'user-12345'): Promise<string> {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-policy-id': policy, 'x-policy-user': user },
    body: JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content }] }),
  });
  await r.arrayBuffer();
  expect(r.status).toBe(200);
  return r.headers.get('x-request-id')!;
}

async function openConsole(key: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => { pageErrors.push(e.message); });
  await page.goto(`${consoleUrl}`);
  await page.fill('#key', key);
  await page.click('#login-form button[type=submit]');
  return page;
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pgw-console-'));
  const keys = path.join(dir, 'console.keys');
  adminKey = await createKey(keys, 'ops-admin', 'admin');
  readerKey = await createKey(keys, 'reader');
  rules = rulesDir(RULES);
  gw = await startGateway(['--rules', rules, '--console-keys', keys, '--console-listen', '127.0.0.1:0', '--audit', 'off']);
  const m = /"consoleUrl":"([^"]+)"/.exec(gw.stdout());
  expect(m, gw.stdout()).not.toBeNull();
  consoleUrl = m![1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

describe('console', () => {
  it('is not on the public listener, and its API refuses without a key, with a wrong key and with a key lacking the admin grant', async () => {
    const pub = await fetch(`${gw.url}/console`);
    expect(pub.status).toBe(404);
    const api = (key?: string) => fetch(`${consoleUrl.replace(/\/console$/, '')}/console/api/me`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const none = await api();
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorBody).error.code).toBe('missing_api_key');
    const wrong = await api(adminKey.slice(0, -4) + 'AAAA');
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as ErrorBody).error.code).toBe('invalid_api_key');
    const reader = await api(readerKey);
    expect(reader.status).toBe(403);
    expect(((await reader.json()) as ErrorBody).error.message).toContain('no admin grant');

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(consoleUrl);
    expect(await page.isVisible('#login')).toBe(true);
    expect(await page.isVisible('#tabs')).toBe(false);
    await page.fill('#key', readerKey);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:has-text("403")');
    expect(await page.textContent('#login-error')).toContain('no admin grant');
    expect(await page.isVisible('#tabs')).toBe(false);
    await page.screenshot({ path: path.join(SHOTS, 'refused.png') });
    await page.close();
  });

  it('shows a decision live after a request through the proxy, with its audit fields and only the redacted output', async () => {
    const page = await openConsole(adminKey);
    await page.waitForSelector('#stream-state:has-text("live")');
    expect(await page.textContent('#who')).toContain('ops-admin');
    const id = await chat('support', 'Summarize our refund policy and mail it to jane.doe@example.com');
    const row = page.locator(`#decisions tr[data-request-id="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('support');
    await chat('support', 'What is the competitor pricing?');
    const trialId = await chat('trial', 'How do I get a refund?');
    await expect.poll(() => page.locator('#decisions tbody tr').count()).toBeGreaterThanOrEqual(3);
    await row.click();
    const detail = await page.textContent('#detail');
    expect(detail).toContain(id);
    expect(detail).toContain('team:support');
    // prompts on: the prompt and the output are shown, as the redactor left them (redact both).
    const prompt = await page.textContent('#detail pre.prompt');
    const output = await page.textContent('#detail pre.output');
    expect(prompt).toContain('Summarize our refund policy');
    expect(output).toContain('You said');
    for (const text of [prompt, output]) {
      expect(text).toContain('[EMAIL]');
      expect(text).not.toContain('jane.doe@example.com');
    }
    // A policy without capture: no prompt or output in its records.
    await page.locator(`#decisions tr[data-request-id="${trialId}"]`).click();
    expect(await page.locator('#detail pre.prompt').count()).toBe(0);
    expect(await page.locator('#detail pre.output').count()).toBe(0);
    await row.click();
    await page.screenshot({ path: path.join(SHOTS, 'live.png') });
    await page.close();
  });

  it('filters the live decisions (decision, policy) on history and stream alike', async () => {
    const page = await openConsole(adminKey);
    await page.waitForSelector('#stream-state:has-text("live")');
    await page.selectOption('#filters select[name=decision]', 'refuse');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('#stream-state:has-text("live")');
    const allowed = await chat('support', 'Where is my parcel?');
    const refused = await chat('support', 'Tell me the competitor pricing again');
    await page.locator(`#decisions tr[data-request-id="${refused}"]`).waitFor();
    expect(await page.locator(`#decisions tr[data-request-id="${allowed}"]`).count()).toBe(0);
    const decisions = await page.locator('#decisions tbody tr td:nth-child(3)').allTextContents();
    expect(decisions.length).toBeGreaterThanOrEqual(2);
    expect(new Set(decisions)).toEqual(new Set(['refuse']));
    // A shadow decision: decided refuse, applied allow.
    await page.fill('#filters input[name=policy_id]', 'trial');
    await page.selectOption('#filters select[name=decision]', '');
    await page.selectOption('#filters select[name=rollout_mode]', 'shadow');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('#stream-state:has-text("live")');
    const shadow = await chat('trial', 'I want a refund');
    const row = page.locator(`#decisions tr[data-request-id="${shadow}"]`);
    await row.waitFor();
    expect(await row.locator('td').nth(2).textContent()).toBe('refuse');
    expect(await row.locator('td').nth(3).textContent()).toBe('allow');
    await page.close();
  });

  it('shows per-policy figures from its own counters: decisions, reasons, shadow disagreement, added latency', async () => {
    // One request within the quota, one over it (429 with GW_ERR_RATE_LIMITED): a quota rejection for the card.
    await chat('metered', 'hello');
    const over = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-policy-id': 'metered', 'x-policy-user': 'user-12345' },
      body: JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content: 'hello again' }] }),
    });
    await over.arrayBuffer();
    expect(over.status).toBe(429);
    const page = await openConsole(adminKey);
    await page.waitForSelector('#tabs:not([hidden])');
    await page.click('nav button[data-tab=stats]');
    const metered = page.locator('.card[data-policy="metered"]');
    await metered.waitFor();
    expect(await metered.textContent()).toMatch(/2requests.*1quota rejections/);
    expect(await metered.textContent()).toContain('RATE_LIMITED');
    const trial = page.locator('.card[data-policy="trial"]');
    await trial.waitFor();
    const text = await trial.textContent();
    expect(text).toContain('shadow would change (2/2)');
    expect(text).toContain('100.0%');
    const support = await page.locator('.card[data-policy="support"]').textContent();
    expect(support).toMatch(/refuse [2-9]/);
    expect(support).toContain('REFUSE');
    expect(support).toMatch(/\d+(\.\d+)? ms/);
    await page.screenshot({ path: path.join(SHOTS, 'per-policy.png'), fullPage: true });
    await page.close();
  });

  it('lists the loaded policies with revision, last reload and source', async () => {
    const page = await openConsole(adminKey);
    await page.waitForSelector('#tabs:not([hidden])');
    await page.click('nav button[data-tab=policies]');
    await page.locator('#policy-list li[data-policy="support"]').click();
    await page.waitForSelector('#policy-view pre.source');
    expect(await page.textContent('#policy-view pre.source')).toContain('deny "competitor pricing"');
    expect(await page.textContent('#reload')).toMatch(/Revision [0-9a-f]{12}.*Last reload: success/);
    // A broken edit: the reload fails, the last good policies keep serving, the page shows why.
    writeFileSync(path.join(rules, 'trial.policy'), RULES['trial.policy'].replace('deny "refund"', 'deny "refund'));
    await expect.poll(async () => {
      await page.click('nav button[data-tab=live]');
      await page.click('nav button[data-tab=policies]');
      return page.textContent('#reload');
    }, { timeout: 10_000 }).toContain('error at');
    expect(await page.textContent('#reload pre.diagnostics')).toMatch(/trial\.policy:\d+:\d+: error\[POL\d{4}\]/);
    expect(await page.locator('#policy-list li').count()).toBe(3);
    await page.locator('#policy-list li[data-policy="support"]').click();
    await page.screenshot({ path: path.join(SHOTS, 'policies.png') });
    writeFileSync(path.join(rules, 'trial.policy'), RULES['trial.policy']);
    await page.close();
  });

  it('runs the playground on a draft policy and shows the explain trace; a broken draft shows its diagnostics; a loaded policy runs too', async () => {
    const page = await openConsole(adminKey);
    await page.waitForSelector('#tabs:not([hidden])');
    await page.click('nav button[data-tab=playground]');
    await page.locator('#play-policy option[value="support"]').waitFor({ state: 'attached' });
    const run = async (): Promise<string> => {
      const before = await page.locator('#play-out').textContent();
      await page.click('#play-form button[type=submit]');
      await expect.poll(() => page.locator('#play-out').textContent()).not.toBe(before);
      await page.waitForSelector('#play-trace, #play-error');
      if (await page.locator('#play-error').count() > 0) expect.fail(`the playground answered with an error: ${await page.textContent('#play-error')}`);
      return (await page.textContent('#play-out')) ?? '';
    };

    await page.selectOption('#play-policy', '');
    await page.fill('#play-source', DRAFT.replace('deny "wire transfer"', 'deny "wire transfer'));
    await page.fill('#play-request', JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content: 'Please make a wire transfer for me' }] }));
    const broken = await run();
    expect(broken).toContain('EXPLAIN_POLICY_INVALID');
    expect(broken).toMatch(/draft\.policy:3:\d+: error\[POL\d{4}\]/);

    await page.fill('#play-source', DRAFT);
    const out = await run();
    expect(await page.textContent('#play-verdict')).toMatch(/Decision\s*refuse.*NO_WIRES.*rule draft\.policy:7/);
    const trace = (await page.textContent('#play-trace')) ?? '';
    expect(trace).toContain('wire transfer');
    expect(trace).toContain('NO_WIRES');
    expect(out).not.toContain('EXPLAIN_');
    await page.screenshot({ path: path.join(SHOTS, 'playground.png'), fullPage: true });

    await page.selectOption('#play-policy', 'support');
    await page.fill('#play-request', JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content: 'What is the competitor pricing?' }] }));
    await run();
    expect(await page.textContent('#play-verdict')).toMatch(/Decision\s*refuse.*REFUSE/);
    expect(await page.textContent('#play-trace')).toContain('competitor pricing');
    await page.close();
  });
});

describe('console API: bad input gets a clear OpenAI-shaped error and changes nothing', () => {
  const base = () => consoleUrl.replace(/\/console$/, '');
  const call = (p: string, init: RequestInit = {}) =>
    fetch(`${base()}${p}`, { ...init, headers: { authorization: `Bearer ${adminKey}`, ...(init.headers as Record<string, string> | undefined) } });
  const expectError = async (r: Response, status: number, code: string, message?: RegExp) => {
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toContain('application/json');
    const body = (await r.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    if (message) expect(body.error.message).toMatch(message);
  };

  it.each([
    { note: 'an unknown filter', path: '/console/api/decisions?user=x', status: 400, code: 'invalid_console_request', msg: /unknown filter "user": filter on policy_id, decision/ },
    { note: 'a limit out of range', path: '/console/api/decisions?limit=0', status: 400, code: 'invalid_console_request', msg: /limit must be an integer from 1 to 100/ },
    { note: 'a filter value too long', path: `/console/api/stream?route=${'x'.repeat(300)}`, status: 400, code: 'invalid_console_request', msg: /longer than 256/ },
    { note: 'an unknown API route', path: '/console/api/secrets', status: 404, code: 'unknown_url', msg: /unknown console route GET \/console\/api\/secrets/ },
    { note: 'a path outside the console', path: '/v1/chat/completions', status: 404, code: 'unknown_url', msg: /the console is under \/console/ },
    { note: 'an asset that does not exist (no path traversal)', path: '/console/assets/..%2f..%2fpackage.json', status: 404, code: 'unknown_url' },
  ])('$note', async ({ path: p, status, code, msg }) => {
    await expectError(await call(p), status, code, msg);
  });

  it('methods: POST on a GET route and GET on the playground are 405', async () => {
    await expectError(await call('/console/api/stats', { method: 'POST' }), 405, 'method_not_allowed');
    await expectError(await call('/console/api/playground'), 405, 'method_not_allowed');
  });

  it.each([
    { note: 'not JSON', type: 'text/plain', body: 'hi', status: 415, code: 'unsupported_media_type' },
    { note: 'bad JSON', type: 'application/json', body: '{', status: 400, code: 'invalid_json' },
    { note: 'no policy and no draft', type: 'application/json', body: '{"request":{}}', status: 400, code: 'invalid_console_request' },
    { note: 'an unknown field', type: 'application/json', body: '{"policy_id":"support","request":{},"extra":1}', status: 400, code: 'invalid_console_request' },
    { note: 'a request that is not an object', type: 'application/json', body: '{"policy_id":"support","request":"hi"}', status: 400, code: 'invalid_console_request' },
    { note: 'a body over 1 MiB', type: 'application/json', body: JSON.stringify({ policy_id: 'support', request: { pad: 'x'.repeat(1_100_000) } }), status: 413, code: 'request_too_large' },
  ])('playground: $note', async ({ type, body, status, code }) => {
    await expectError(await call('/console/api/playground', { method: 'POST', headers: { 'content-type': type }, body }), status, code);
  });

  it('the page is served with a strict Content-Security-Policy and no data; assets come from the gateway', async () => {
    const page = await fetch(consoleUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no other origin
    for (const asset of ['/console/assets/app.js', '/console/assets/app.css']) {
      const r = await fetch(`${base()}${asset}`);
      expect(r.status, asset).toBe(200);
      expect(html).toContain(asset);
    }
  });

  it('a wrong key gets 401 with WWW-Authenticate, and the playground does nothing for it', async () => {
    const r = await fetch(`${base()}/console/api/playground`, { method: 'POST', headers: { authorization: 'Bearer pgk_AAAAAAAAAAAA_' + 'A'.repeat(40), 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('Bearer');
  });
});

describe('console startup and --workers', () => {
  it('a missing keys file stops the gateway at start with the problem', async () => {
    const r = await runCli(['serve', '--port', '0', '--console-keys', '/nonexistent/console.keys', '--console-listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--console-keys: cannot read "/nonexistent/console.keys"');
  });

  it('with --workers 2 the console runs in worker 1, says so, and adds up both workers\' per-policy figures', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgw-console-w-'));
    const keys = path.join(dir, 'console.keys');
    const key = await createKey(keys, 'ops', 'admin');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    });
    const cluster = await startGateway(['--rules', rules, '--workers', '2', '--console-keys', keys, '--console-listen', `127.0.0.1:${port}`, '--audit', 'off', '--log-level', 'info'], { timeoutMs: 40_000 });
    try {
      let me: { worker: { id: number; of: number } | null } | undefined;
      for (let i = 0; i < 50 && me === undefined; i++) {
        try { me = (await (await fetch(`http://127.0.0.1:${port}/console/api/me`, { headers: { authorization: `Bearer ${key}` } })).json()) as typeof me; } catch { await new Promise((r) => setTimeout(r, 100)); }
      }
      expect(me!.worker).toEqual({ id: 1, of: 2 });
      // Both workers listening, then 20 requests at once (several connections, spread over the workers): the
      // per-policy figures add up both workers' counters, like /metrics.
      for (const until = Date.now() + 20_000; (cluster.stdout().match(/"msg":"listening"/g) ?? []).length < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
      await Promise.all(Array.from({ length: 20 }, async () => {
        const r = await fetch(`${cluster.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-policy-id': 'support' },
          body: JSON.stringify({ model: 'demo-model', messages: [{ role: 'user', content: 'Where is my parcel?' }] }) });
        await r.arrayBuffer();
        expect(r.status).toBe(200);
      }));
      const served = new Set(cluster.stdout().split('\n').filter((l) => l.includes('"msg":"request completed"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
      const stats = (await (await fetch(`http://127.0.0.1:${port}/console/api/stats`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        aggregated: boolean; workers: { answered: number; running: number }; policies: { policy_id: string; total: number }[];
      };
      expect(stats.aggregated).toBe(true);
      expect(stats.workers).toEqual({ answered: 2, running: 2 });
      expect(stats.policies.find((p) => p.policy_id === 'support')!.total).toBe(20);
      expect(served.size).toBe(2); // both workers served some (round-robin): the total of 20 needs both workers' counters
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});

