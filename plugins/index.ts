// The plugin registry in chain order (docs/policy-language.md, "Decision order"). The order IS the decision flow:
// auth before anything spends budget; quota before work is done; rollout decides enforce/shadow before the
// decision is made; topics and moderation produce triggers that decide turns into the decision; the redactor
// rewrites answers before the auditor records anything.
import type { PluginFactory } from '../src/sdk/plugin.ts';
import { authPlugin } from './auth/index.ts';
import { quotaPlugin } from './quota/index.ts';
import { rolloutPlugin } from './rollout/index.ts';
import { topicsPlugin } from './topics/index.ts';
import { moderationPlugin } from './moderation/index.ts';
import { decidePlugin } from './decide/index.ts';
import { redactorPlugin } from './redactor/index.ts';
import { auditorPlugin } from './auditor/index.ts';

/** Every plugin, in chain order. Adding a plugin means adding its folder and one line here. */
export const ALL_PLUGINS: readonly PluginFactory<any>[] = Object.freeze([
  authPlugin,
  quotaPlugin,
  rolloutPlugin,
  topicsPlugin,
  moderationPlugin,
  decidePlugin,
  redactorPlugin,
  auditorPlugin,
]);
