// Every metric the gateway creates — core's and each registered plugin's declared metrics — has a row in
// docs/metrics.md with its type and labels (the registry check of STYLE §8 for metrics).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { createMetrics } from '../../src/metrics.ts';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

describe('docs/metrics.md', () => {
  const registry = new Registry();
  createMetrics(registry, ALL_PLUGINS, { defaults: false });
  const metrics = registry.getMetricsAsArray() as unknown as { name: string; type: string; labelNames: readonly string[] }[];

  it('sees core and plugin metrics', () => {
    const names = metrics.map((m) => m.name);
    expect(names).toContain('policy_gateway_requests_total');
    expect(names).toContain('policy_gateway_redactions_total');
    expect(names).toContain('policy_gateway_audit_records_total');
  });

  it.each(metrics.map((m) => ({ name: m.name, type: m.type, labels: [...m.labelNames] })))('documents $name', ({ name, type, labels }) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    expect(row, `add a row for ${name} to docs/metrics.md`).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    expect(cells[2]).toBe(type);
    expect(cells[3]).toBe(labels.length ? labels.map((l) => `\`${l}\``).join(', ') : '—');
  });
});
