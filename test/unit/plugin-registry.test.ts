// The plugin registry: the bundled plugins pass its checks, and each rule it enforces (names, blocks, the `after` order,
// errors and reason codes, diagnostic ranges, metrics, CLI commands) fails a list that breaks it, naming the culprit.
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { createMetrics } from '../../src/metrics.ts';
import { buildRegistry, RegistryError } from '../../src/plugin-registry.ts';
import { defineErrors } from '../../src/sdk/errors.ts';
import { defineMetrics } from '../../src/sdk/metrics.ts';
import { definePlugin, type PluginFactory } from '../../src/sdk/plugin.ts';

const plugin = (name: string, extra: Partial<PluginFactory<true>> = {}): PluginFactory<true> =>
  definePlugin<true>({ name, blocks: [name], compile: () => undefined, hooks: () => ({}), ...extra });
const row = (reasonCode: string) => ({ status: 400, type: 'invalid_request_error', openaiCode: 'x', reasonCode, expose: true, message: 'x' });

describe('plugin registry', () => {
  it('accepts the bundled plugins in their chain order and assembles their tables', () => {
    const r = buildRegistry(ALL_PLUGINS);
    expect(r.plugins.map((p) => p.name)).toEqual(['auth', 'quota', 'rollout', 'topics', 'moderation', 'decide', 'redactor', 'auditor']);
    expect(r.errors.get('GW_ERR_AUTH_FORBIDDEN')?.def.reasonCode).toBe('FORBIDDEN');
    expect(r.reasonCodes.get('ALLOWLIST_MISS')?.owner).toBe('decide');
    expect(r.reasonCodes.get('INTERNAL_ERROR')?.owner).toBe('core');
    expect([...r.commands.keys()]).toEqual(['keys']);
    expect(r.commands.get('keys')?.owner).toBe('auth');
  });

  it.each([
    { note: 'a plugin before one it must run after', list: () => [plugin('b', { after: ['a'] }), plugin('a')], msg: 'plugin "b" must run after plugin "a"' },
    { note: 'the auditor moved before the redactor', list: () => ALL_PLUGINS.filter((p) => p.name !== 'auditor').flatMap((p) => (p.name === 'redactor' ? [ALL_PLUGINS.at(-1)!, p] : [p])), msg: 'plugin "auditor" must run after plugin "redactor"' },
    { note: 'a name that is not one lower-case word', list: () => [plugin('Max-Length')], msg: 'plugin name "Max-Length" must be one lower-case word' },
    { note: 'a name registered twice', list: () => [plugin('a'), plugin('a')], msg: 'plugin "a" is registered twice' },
    { note: 'a block two plugins own', list: () => [plugin('a', { blocks: ['x'] }), plugin('b', { blocks: ['x'] })], msg: 'block "x" is owned by both plugin "a" and plugin "b"' },
    { note: 'an error code a plugin shares with core', list: () => [plugin('a', { errors: defineErrors({ GW_ERR_BAD_JSON: row('INVALID_REQUEST') }) })], msg: 'error code GW_ERR_BAD_JSON is declared by both core and plugin "a"' },
    { note: 'an error mapped onto an undeclared reason code', list: () => [plugin('a', { errors: defineErrors({ GW_ERR_A_X: row('NOPE') }) })], msg: 'error GW_ERR_A_X maps onto reason code NOPE, which nobody declares' },
    { note: 'a reason code declared twice', list: () => [plugin('a', { reasonCodes: { NOT_FOUND: 'again' } })], msg: 'reason code NOT_FOUND is declared by both core and plugin "a"' },
    { note: 'overlapping diagnostic ranges', list: () => [plugin('a', { diagnostics: [700, 710] }), plugin('b', { diagnostics: [710, 719] })], msg: 'plugin "b": diagnostic range POL0710–POL0719 overlaps plugin "a"\'s' },
    { note: 'a diagnostic range in the core\'s codes', list: () => [plugin('a', { diagnostics: [301, 310] })], msg: 'must be two codes from POL0405 to POL0999' },
    { note: 'a metric outside policy_gateway_*', list: () => [plugin('a', { metrics: defineMetrics({ m: { type: 'counter', name: 'my_total', help: 'h', labels: [] } }) })], msg: 'metric my_total must be named policy_gateway_' },
    { note: 'a command taken twice', list: () => [plugin('a', { commands: { x: { usage: '', run: async () => 0 } } }), plugin('b', { commands: { x: { usage: '', run: async () => 0 } } })], msg: 'command "x" is contributed by both plugin "a" and plugin "b"' },
    { note: 'a command the CLI itself has', list: () => [plugin('a', { commands: { serve: { usage: '', run: async () => 0 } } })], msg: 'command "serve" belongs to the CLI itself' },
  ])('refuses $note', ({ list, msg }) => {
    expect(() => buildRegistry(list())).toThrow(RegistryError);
    expect(() => buildRegistry(list())).toThrow(msg);
  });

  it('ignores an `after` name that is not registered (a gateway may run without that plugin)', () => {
    expect(buildRegistry([plugin('b', { after: ['a'] })]).plugins).toHaveLength(1);
  });

  it('creates each registered plugin\'s metrics on the registry; metricsOf a foreign declaration throws', async () => {
    const decls = defineMetrics({ hits: { type: 'counter', name: 'policy_gateway_test_hits_total', help: 'Test hits.', labels: ['policy_id'] } });
    const registry = new Registry();
    const metrics = createMetrics(registry, [...ALL_PLUGINS, plugin('a', { metrics: decls })], { defaults: false });
    metrics.of(decls).hits.inc({ policy_id: 'p' }, 2);
    expect(await registry.getSingleMetricAsString('policy_gateway_test_hits_total')).toContain('policy_gateway_test_hits_total{policy_id="p"} 2');
    expect(registry.getSingleMetric('policy_gateway_redactions_total')).toBeDefined();
    expect(() => metrics.of(defineMetrics({}))).toThrow('no registered plugin');
    expect(() => createMetrics(new Registry(), [plugin('a', { metrics: decls }), plugin('b', { metrics: decls })], { defaults: false })).toThrow('already declared');
  });
});
