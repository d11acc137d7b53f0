// The bundled policy tests hold for live requests too: each case of rules/*.policy.test (but those that move a clock)
// is sent over HTTP to the real gateway in front of an upstream answering the case's answer, and every expectation is
// checked against what came back (policy block, answer, upstream request, audit record) — test and live never disagree.
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyRunResult } from '../../src/chain/run-policy.ts';
import { redactionKey } from '../../src/sdk/state-keys.ts';
import { ENDPOINT_PATHS, type ApiAnswer, type ApiRequest, type PolicyBlock, type StreamChunk } from '../../src/sdk/types.ts';
import { actualValue, buildAnswer, buildRequest } from '../../src/testing/run-tests.ts';
import { parseTestFile, type TestCase } from '../../src/testing/test-file.ts';
import { ROOT, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';

/** The upstream: answers every call with `next` (JSON, or SSE chunks then [DONE]) and records what it received. */
let next: { answer?: ApiAnswer; stream?: StreamChunk[] } = {};
const received: unknown[] = [];
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    received.push(JSON.parse(body));
    if (next.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${next.stream.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(next.answer));
    }
  });
});

let gw: GatewayProcess;
beforeAll(async () => {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = (upstream.address() as AddressInfo).port;
  gw = await startGateway(['--rules', path.join(ROOT, 'rules'), '--upstream', `http://127.0.0.1:${port}/v1`]);
});
afterAll(async () => {
  await gw?.stop();
  upstream.close();
});

const files = readdirSync(path.join(ROOT, 'rules')).filter((f) => f.endsWith('.policy.test')).sort();
const cases: TestCase[] = files.flatMap((f) => parseTestFile(readFileSync(path.join(ROOT, 'rules', f), 'utf8'), `rules/${f}`).cases)
  .filter((c) => c.steps.every((s) => s.kind === 'send'));

/** The audit record of a request (logfmt on the gateway's stdout), waited for: it is written once the answer is done. */
async function auditOf(id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = gw.stdout().split('\n').find((l) => l.includes(` request_id=${id} `));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no audit record for ${id}`);
}

let seq = 0;

describe('the bundled policy tests, sent live to the gateway', () => {
  it('runs most of them (only cases that move the clock are left out)', () => {
    expect(cases.length).toBeGreaterThan(15);
  });

  it.each(cases.map((c) => ({ name: `${c.file}:${c.line} ${c.name}`, c })))('$name', async ({ c }) => {
    for (const step of c.steps) {
      if (step.kind !== 'send') continue;
      const endpoint = step.request.endpoint ?? 'chat';
      const streamed = step.answer?.kind === 'stream';
      const request = buildRequest(step.request, streamed);
      next = buildAnswer(endpoint, request.model, step.answer, 1_767_225_600);
      for (let i = 0; i < step.times; i++) {
        const id = `live-${++seq}`;
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id, ...step.request.headers };
        if (step.request.key) headers.authorization = `Bearer ${step.request.key}`;
        const meta: Record<string, string | undefined> = { policy_user: step.request.user, policy_project_id: step.request.project, policy_target: step.request.target };
        let url: string;
        let body: Record<string, unknown> = { ...request };
        if (step.request.route === 'v1') {
          url = `${gw.url}/v1${ENDPOINT_PATHS[endpoint]}`;
          headers['x-policy-id'] = c.policyId;
          if (meta.policy_user) headers['x-policy-user'] = meta.policy_user;
          if (meta.policy_project_id) headers['x-policy-project'] = meta.policy_project_id;
          if (meta.policy_target) headers['x-policy-target'] = meta.policy_target;
        } else {
          url = `${gw.url}/policy${ENDPOINT_PATHS[endpoint]}`;
          body = { ...body, policy_id: c.policyId, ...Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) };
        }
        const before = received.length;
        const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
        const text = await res.text();
        const audit = await auditOf(id);
        const called = received.length > before;
        // What came back, in the shape the in-process run gives, so the same actualValue reads both.
        let policy: PolicyBlock | undefined;
        let answer: ApiAnswer | undefined;
        let chunks: StreamChunk[] | undefined;
        let error: { code: string; status: number; headers: Record<string, string> } | undefined;
        let content: string | undefined;
        if (res.status !== 200) {
          // The wire carries OpenAI's error code; the gateway's own (GW_ERR_…) is the audit record's `code`.
          error = { code: /\bcode=(\S+)/.exec(audit)![1]!, status: res.status, headers: Object.fromEntries(res.headers) };
          policy = (JSON.parse(text) as { policy?: PolicyBlock }).policy;
        } else if (text.startsWith('data:') || text.startsWith('event:')) {
          chunks = text.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]').map((e) => JSON.parse(e.slice(6)) as StreamChunk);
          policy = (chunks.at(-1) as { policy?: PolicyBlock }).policy;
        } else {
          answer = JSON.parse(text) as ApiAnswer;
          policy = answer.policy;
          if (!called) {
            const a = answer as { choices?: { message?: { content?: string }; text?: string }[]; output?: { content?: { text?: string }[] }[] };
            content = a.choices?.[0]?.message?.content ?? a.choices?.[0]?.text ?? a.output?.[0]?.content?.[0]?.text;
          }
        }
        const rule = /\brule=(\S+)/.exec(audit)?.[1];
        const redactions = /\bredactions=(\S+)/.exec(audit)?.[1];
        const report = { response: Object.fromEntries((redactions && redactions !== '-' ? redactions.split(',') : []).map((kv) => [kv.slice(0, kv.lastIndexOf(':')), Number(kv.slice(kv.lastIndexOf(':') + 1))])), request: {} };
        const live = {
          verdict: {
            decision: policy?.decision ?? 'allow', effectiveDecision: policy?.effective_decision ?? 'allow', reasonCode: policy?.reason_code ?? '',
            triggeredCategories: policy?.triggered_categories ?? [], allowlistHits: policy?.allowlist_hits ?? [], denylistHits: policy?.denylist_hits ?? [],
            rolloutMode: policy?.rollout_mode ?? 'enforced', enforced: policy?.enforced ?? true, rule: rule === undefined || rule === '-' ? null : rule,
          },
          action: error ? 'reject' : called ? 'forward' : 'respond',
          content, error, answer: called ? answer : undefined, stream: chunks,
          request: (called ? received.at(-1) : request) as ApiRequest,
          context: { get: (k: symbol) => (k === redactionKey ? report : undefined), responseHeaders: Object.fromEntries(res.headers) },
        } as unknown as PolicyRunResult;
        for (const e of step.expects) {
          // Fields the policy block omits on an error answer are the ones the expectations of such cases leave alone.
          expect(`${e.field} = ${actualValue(e.field, live, endpoint, request, e.name)}`, `${c.file}:${e.line}, request ${i + 1}`).toBe(`${e.field} = ${e.expected}`);
        }
      }
    }
  });
});
