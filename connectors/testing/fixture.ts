// The gateway every connector test talks to: the real `policy-gateway serve` process (test/helpers) in front of the
// fake OpenAI-compatible upstream, with the connector policies below and keys made by the real `keys` CLI.
// Run directly (`node connectors/testing/fixture.ts`) it prints its description as one JSON line and serves until stdin closes.
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../../test/helpers/fake-upstream.ts';
import { rulesDir, runCli, startGateway, type GatewayProcess } from '../../test/helpers/gateway-process.ts';

/** What a connector test needs to know about the running fixture (also the JSON handed to the Python tests). */
export interface FixtureInfo {
  /** The gateway's origin, e.g. `http://127.0.0.1:41234`; connectors use `${url}/policy`. */
  readonly url: string;
  /** A key for the policies `policy-gateway` and `limited`. */
  readonly key: string;
  /** A key for the policy `limited` only: using it on `policy-gateway` is a 403. */
  readonly limitedKey: string;
  /** Phrases whose decision the policies fix (allow, refuse on the denylist, off-topic refusal, rewrite on self-harm). */
  readonly prompts: { readonly allow: string; readonly deny: string; readonly offTopic: string; readonly rewrite: string };
  /**
   * A loopback side door for tests in other processes (the Python connectors): `GET /audit` → `{"lines": [...]}`
   * (the gateway's audit records so far), `GET /upstream` → `{"requests": n, "aborted": n}` (what the fake
   * upstream saw: answers the gateway closed before they ended count as aborted).
   */
  readonly controlUrl: string;
}

export interface ConnectorFixture extends FixtureInfo {
  readonly gateway: GatewayProcess;
  readonly upstream: FakeUpstream;
  /** The gateway's audit records (logfmt lines on its stdout) so far. */
  auditLines(): string[];
  stop(): Promise<void>;
}

/**
 * The policies of the connector tests. `policy-gateway` mirrors the bundled one of the same name (allowlist,
 * denylist refusal, self-harm rewrite, e-mail redaction); `limited` admits 2 requests per user per day, so the
 * third request of a fresh user is a 429 with Retry-After.
 */
export function fixturePolicies(keysFile: string): string {
  const keys = JSON.stringify(keysFile);
  return `policy "policy-gateway" {
  auth { keys ${keys} }
  topics {
    allow "refund policy", "shipping"
    deny "competitor pricing"
  }
  moderation { flag "self-harm/*" }
  respond {
    when "self-harm/*" rewrite with "Answer with care and point to professional support resources."
    when denylist refuse with "I can't help with that topic."
    when allowlist_miss refuse reason "OFF_TOPIC" with "I can only help with refunds and shipping."
    otherwise allow
  }
  redact response { email }
  audit { tag "suite:connectors" }
}

policy "limited" {
  auth { keys ${keys} }
  quota { user 2 requests per day }
  audit { tag "suite:connectors" }
}
`;
}

export const PROMPTS = {
  allow: 'Summarize our refund policy.',
  deny: 'What is the competitor pricing for the refund policy?',
  offTopic: 'Tell me a joke.',
  rewrite: 'I want to kill myself, what is the refund policy?',
} as const;

/** Creates a key with the real CLI and returns it (printed once on stdout). */
async function createKey(file: string, label: string, policies: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--label', label, '--policy', policies, '--file', file]);
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Starts the fake upstream and the gateway; `slow-stream` answers stall `slowMs` between chunks (default 60 s). */
export async function startConnectorFixture(opts: { slowMs?: number; extraArgs?: string[] } = {}): Promise<ConnectorFixture> {
  const upstream = await startFakeUpstream({ slowMs: opts.slowMs ?? 60_000 });
  try {
    // The keys live outside the rules directory, as a mounted secret would: the gateway is told so with --allow-path.
    const keysDir = mkdtempSync(path.join(tmpdir(), 'pgw-connector-keys-'));
    const keysFile = path.join(keysDir, 'connectors.keys');
    const key = await createKey(keysFile, 'connector-tests', 'policy-gateway,limited');
    const limitedKey = await createKey(keysFile, 'connector-limited', 'limited');
    const gateway = await startGateway(['--rules', rulesDir({ 'connectors.policy': fixturePolicies(keysFile) }), '--allow-path', keysDir, '--upstream', upstream.baseUrl, ...(opts.extraArgs ?? [])]);
    const auditLines = () => gateway.stdout().split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\S+ policy_id=/.test(l));
    const control = http.createServer((req, res) => {
      const body = req.url === '/audit' ? { lines: auditLines() } : req.url === '/upstream' ? { requests: upstream.received.length, aborted: upstream.aborted } : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: 'not found' }));
    });
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    return {
      url: gateway.url, key, limitedKey, prompts: PROMPTS, gateway, upstream, auditLines,
      controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
      stop: async () => {
        control.closeAllConnections();
        await new Promise<void>((r) => control.close(() => r()));
        await gateway.stop();
        await upstream.close();
      },
    };
  } catch (e) {
    await upstream.close();
    throw e;
  }
}

/** The JSON-serialisable part of a fixture. */
export function fixtureInfo(f: FixtureInfo): FixtureInfo {
  return { url: f.url, key: f.key, limitedKey: f.limitedKey, prompts: f.prompts, controlUrl: f.controlUrl };
}

if (import.meta.main) {
  const f = await startConnectorFixture();
  process.stdout.write(`${JSON.stringify(fixtureInfo(f))}\n`);
  process.stdin.resume();
  const done = () => { void f.stop().then(() => process.exit(0)); };
  process.stdin.on('end', done);
  process.stdin.on('close', done);
  process.on('SIGTERM', done);
  process.on('SIGINT', done);
}
