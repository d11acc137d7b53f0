// The services of an in-process run (explain, policy tests, replay): a private metric registry with the plugins'
// metrics, a silent logger, no audit output, a fresh memory quota store (one per services object), and no background
// tasks — escalation webhooks and the like never leave an in-process run.
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createMetrics, type Metrics } from '../metrics.ts';
import type { GatewayServices } from '../sdk/context.ts';
import type { PluginFactory } from '../sdk/plugin.ts';

/**
 * Fresh services for in-process runs of `plugins`. `env` is what policies may read as secrets (a remote moderation
 * provider's key), as the gateway reads them from its environment.
 */
export function inProcessServices(plugins: readonly PluginFactory<any>[], env: Readonly<Record<string, string | undefined>> = {}):
  GatewayServices & { readonly metrics: Metrics } {
  const metrics = createMetrics(new Registry(), plugins, { defaults: false });
  return {
    metrics,
    log: pino({ level: 'silent' }),
    metricsOf: (decls) => metrics.of(decls),
    env,
    redisUrl: undefined,
    audit: { destination: 'off', format: 'logfmt' },
    onClose: () => undefined,
    onReopen: () => undefined,
    background: () => undefined,
  };
}
