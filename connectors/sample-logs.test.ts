// Each connector's sample.log is real gateway output in the connectors' dashboard format, and still what the
// generator script produces today: it is re-run into a temp directory and the lines compared on the fields that
// describe the decision (not timings, ids or rule locations, and not fields the audit format may gain later).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSampleLogs } from './scripts/sample-logs.ts';
import { parseLogfmt } from '../test/plugins/auditor/helpers.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONNECTORS = ['policy-gateway-nextjs', 'policy-gateway-fastapi', 'policy-gateway-langchain', 'policy-gateway-litellm'];
/** The docs' sample line: `<time> policy_id=… decision=… reason_code=… policy_user=… policy_project_id=…`. */
const DASHBOARD_KEYS = ['policy_id', 'decision', 'reason_code', 'policy_user', 'policy_project_id'];
/** What a regenerated line must repeat: the dashboard keys and the facts of the decision. */
const COMPARED = [...DASHBOARD_KEYS, 'route', 'status', 'stream', 'effective_decision', 'triggered_categories', 'allowlist_hits', 'denylist_hits', 'key_label'];

const committed = (name: string) => readFileSync(path.join(HERE, name, 'sample.log'), 'utf8').trimEnd().split('\n');
const stable = (line: string) => { const rec = parseLogfmt(line); return Object.fromEntries(COMPARED.map((k) => [k, rec[k]])); };

describe('sample.log', () => {
  it.each(CONNECTORS)('%s: audit lines that start with the dashboard keys, for user-12345 in project support-bot', (name) => {
    const lines = committed(name);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ policy_id=/);
      const rec = parseLogfmt(line);
      expect(Object.keys(rec).slice(1, 6)).toEqual(DASHBOARD_KEYS);
      expect(rec).toMatchObject({ policy_id: 'policy-gateway', policy_user: 'user-12345', policy_project_id: 'support-bot', status: '200' });
    }
    expect(parseLogfmt(lines[0]!)).toMatchObject({ decision: 'allow', reason_code: 'ALLOW', allowlist_hits: 'refund policy' });
  });

  it('is what the generator produces from the connectors today', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'pgw-sample-logs-'));
    const fresh = await generateSampleLogs(out);
    for (const name of CONNECTORS) expect(fresh[name]!.map(stable), name).toEqual(committed(name).map(stable));
  }, 120_000);
});
