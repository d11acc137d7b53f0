// The auditor hands each record to the console's DecisionTap (ctx.services.decisions): the same fields as the line it
// writes (logfmt or JSON), also under --audit off, the unchained records too; without a tap nothing changes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordRequest, recordUnchained } from '../../../plugins/auditor/index.ts';
import { sinkFor } from '../../../plugins/auditor/sink.ts';
import { ctxFor, publishVerdict } from '../../helpers/ctx.ts';
import { gwError } from '../../helpers/errors.ts';
import { auditServices, parseLogfmt } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pgw-audit-tap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OK = { status: 200, upstreamCalled: true, aborted: false, synthesized: false } as const;

function tapped(destination: string, format: 'logfmt' | 'json' = 'logfmt') {
  const got: Record<string, unknown>[] = [];
  const services = { ...auditServices(destination, format), decisions: { publish: (r: Readonly<Record<string, unknown>>) => { got.push({ ...r }); } } };
  return { services, got };
}

describe('the decision tap', () => {
  it.each(['logfmt', 'json'] as const)('gets the record the %s line is written from', async (format) => {
    const file = path.join(dir, `tap.${format}`);
    const { services, got } = tapped(file, format);
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { services, id: 'req-t', meta: { policyId: 'p1', user: 'u1' } });
    publishVerdict(ctx, { decision: 'refuse', reasonCode: 'REFUSE', rolloutMode: 'shadow', denylistHits: ['x'] });
    recordRequest({ policyId: 'p1', tags: ['team:a'], prompts: false, replay: false }, OK, ctx);
    await sinkFor(services).close();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ policy_id: 'p1', decision: 'refuse', effective_decision: 'allow', rollout_mode: 'shadow', reason_code: 'REFUSE', request_id: 'req-t', tags: ['team:a'] });
    expect(got[0]).not.toHaveProperty('prompt');
    const line = readFileSync(file, 'utf8').trim();
    const written = format === 'json' ? JSON.parse(line) as Record<string, unknown> : parseLogfmt(line);
    for (const k of ['policy_id', 'decision', 'effective_decision', 'reason_code', 'rollout_mode', 'request_id', 'status']) {
      expect(String(written[k]), k).toBe(String(got[0]![k]));
    }
  });

  it('receives records under --audit off, unchained ones too', async () => {
    const { services, got } = tapped('off');
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { services, meta: { policyId: 'p2' } });
    recordRequest({ policyId: 'p2', tags: [], prompts: false, replay: false }, OK, ctx);
    recordUnchained({ reqId: 'req-u', route: 'v1', status: 400, error: gwError('GW_ERR_BAD_JSON'), durationMs: 0.5 }, services);
    expect(got.map((r) => [r.policy_id, r.decision, r.code])).toEqual([['p2', 'allow', null], [null, 'reject', 'GW_ERR_BAD_JSON']]);
    expect(await services.recordsCounted('written')).toBe(0);
  });

  it('a policy with prompts on hands over the captured prompt (after the chain ran)', () => {
    const { services, got } = tapped('off');
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hello there' }] }, { services, meta: { policyId: 'p3' } });
    recordRequest({ policyId: 'p3', tags: [], prompts: true, replay: false }, OK, ctx);
    expect(got[0]).toHaveProperty('prompt', null); // the auditor's onRequest never ran: the chain did not complete
    expect(got[0]).toHaveProperty('output', null);
  });
});
