// Audit destinations on the real filesystem: lines reach the file, a rename + reopen (logrotate) continues in a new
// file, close flushes everything and later lines are still written, failures are counted instead of thrown.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditSink, sinkFor } from '../../../plugins/auditor/sink.ts';
import { recordRequest, recordUnchained } from '../../../plugins/auditor/index.ts';
import { ctxFor } from '../../helpers/ctx.ts';
import { gwError } from '../../helpers/errors.ts';
import { auditServices, parseLogfmt } from './helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pgw-audit-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const waitFor = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('file destination', () => {
  it('creates the directory, appends lines asynchronously, and close flushes all of them', async () => {
    const file = path.join(dir, 'nested/deeper/audit.log');
    const services = auditServices(file);
    const sink = sinkFor(services);
    expect(sinkFor(services)).toBe(sink);
    for (let i = 0; i < 1000; i++) sink.write(`line ${i}`);
    await sink.close();
    const got = lines(file);
    expect(got).toHaveLength(1000);
    expect(got[0]).toBe('line 0');
    expect(got[999]).toBe('line 999');
    expect(await services.recordsCounted('written')).toBe(1000);
  });

  it('appends to an existing file instead of truncating it', async () => {
    const file = path.join(dir, 'existing.log');
    writeFileSync(file, 'old record\n');
    const sink = sinkFor(auditServices(file));
    sink.write('new record');
    await sink.close();
    expect(lines(file)).toEqual(['old record', 'new record']);
  });

  it('reopen after a rename (logrotate) writes the next lines to a new file at the same path', async () => {
    const file = path.join(dir, 'rotate.log');
    const services = auditServices(file);
    const sink = sinkFor(services);
    sink.write('before rotation');
    await waitFor(() => lines(file).length === 1);
    renameSync(file, `${file}.1`);
    expect(services.reopeners).toHaveLength(1);
    services.reopeners[0]!();
    sink.write('after rotation');
    await sink.close();
    expect(lines(`${file}.1`)).toEqual(['before rotation']);
    expect(lines(file)).toEqual(['after rotation']);
  });

  it('registers its flush with graceful shutdown, and lines after close are written synchronously', async () => {
    const file = path.join(dir, 'late.log');
    const services = auditServices(file);
    const sink = sinkFor(services);
    sink.write('queued');
    expect(services.closers).toHaveLength(1);
    await services.closers[0]!();
    expect(lines(file)).toEqual(['queued']);
    sink.write('late');
    expect(lines(file)).toEqual(['queued', 'late']);
  });

  it('an unwritable destination counts errors and logs once, never throws', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const services = auditServices(path.join(blocker, 'audit.log'));
    const sink = sinkFor(services);
    sink.write('a');
    sink.write('b');
    await waitFor(() => services.logs.some((l) => l.includes('audit destination failed')));
    sink.write('c');
    expect(await services.recordsCounted('error')).toBeGreaterThanOrEqual(2);
    expect(services.logs.filter((l) => l.includes('audit destination failed'))).toHaveLength(1);
    // the operator fixes the path and sends SIGHUP: the sink opens the file again and records flow
    rmSync(blocker);
    services.reopeners[0]!();
    sink.write('d');
    await sink.close();
    expect(lines(path.join(blocker, 'audit.log'))).toEqual(['d']);
  });
});

describe('process exit', () => {
  it('a destination that never opened does not break the process exit (pino\'s exit hook left it alone)', () => {
    // In a process of its own: pino.destination registers a flushSync at exit, which threw "sonic boom is not ready
    // yet" (exit code 1) for a stream whose file never opened — as long as the stream was still reachable.
    const blocker = path.join(dir, 'exit-blocker');
    writeFileSync(blocker, '');
    const sinkUrl = pathToFileURL(path.resolve('plugins/auditor/sink.ts')).href;
    const script = `
      const { AuditSink } = await import(${JSON.stringify(sinkUrl)});
      const log = { error() { console.log('failure logged'); } };
      globalThis.sink = new AuditSink({ destination: ${JSON.stringify(path.join(blocker, 'audit.log'))}, format: 'logfmt', log });
      globalThis.sink.write('a');
      setTimeout(() => {}, 200);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toContain('failure logged');
    expect(r.stderr).not.toContain('sonic boom is not ready yet');
    expect(r.status).toBe(0);
  });
});

describe('records through the sink', () => {
  it('recordRequest and recordUnchained write one parseable line each, in the configured format', async () => {
    const file = path.join(dir, 'records.log');
    const services = auditServices(file);
    const ctx = ctxFor({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { services, id: 'req-a', meta: { policyId: 'p1', user: 'u 1' } });
    recordRequest({ policyId: 'p1', tags: ['team:a'], prompts: false, replay: false }, { status: 200, upstreamCalled: true, aborted: false, synthesized: false }, ctx);
    recordUnchained({ reqId: 'req-b', route: 'v1', status: 400, error: gwError('GW_ERR_BAD_JSON'), durationMs: 0.2 }, services);
    await sinkFor(services).close();
    const [a, b] = lines(file).map(parseLogfmt);
    expect(a).toMatchObject({ policy_id: 'p1', decision: 'allow', policy_user: 'u 1', request_id: 'req-a', tags: 'team:a' });
    expect(b).toMatchObject({ policy_id: null, decision: 'reject', reason_code: 'INVALID_REQUEST', request_id: 'req-b', code: 'GW_ERR_BAD_JSON' });
  });

  it('JSON format writes one object per line', async () => {
    const file = path.join(dir, 'records.jsonl');
    const services = auditServices(file, 'json');
    recordUnchained({ reqId: 'req-c', route: 'policy', status: 404, error: gwError('GW_ERR_POLICY_NOT_FOUND'), durationMs: 1 }, services);
    await sinkFor(services).close();
    const [rec] = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rec).toMatchObject({ request_id: 'req-c', decision: 'reject', reason_code: 'NOT_FOUND', policy_id: null, status: 404 });
  });

  it('--audit off writes nothing and counts nothing', async () => {
    const services = auditServices('off');
    const sink = sinkFor(services);
    expect(sink.off).toBe(true);
    recordUnchained({ reqId: 'r', route: 'v1', status: 400, error: gwError('GW_ERR_BAD_JSON'), durationMs: 1 }, services);
    await sink.close();
    expect(await services.recordsCounted('written')).toBe(0);
    expect(services.closers).toHaveLength(1);
  });

  it('a sink without a counter still writes', async () => {
    const file = path.join(dir, 'nocounter.log');
    const sink = new AuditSink({ destination: file, format: 'logfmt', log: auditServices('off').log });
    sink.write('x');
    await sink.close();
    expect(lines(file)).toEqual(['x']);
  });
});
