// The plugin registry of a gateway: the plugin list in chain order, checked once at startup (names, blocks, the
// `after` order, diagnostic ranges, CLI commands), and the tables built from what the plugins declare (errors, reason
// codes). Core tables never list a plugin's codes by hand: they are assembled here.
import { CORE_REASON_CODES, errorTable, type ErrorTableRow } from './errors.ts';
import type { CliCommand, PluginFactory } from './sdk/plugin.ts';

/** The commands the CLI itself has; a plugin may not take these names. */
export const CORE_COMMANDS: readonly string[] = Object.freeze(['serve', 'check', 'fmt', 'explain', 'help']);
/** POL codes the SDK's shared block helpers report for every plugin (POL0401 unknown statement…), outside any range. */
export const SHARED_PLUGIN_CODES: readonly [number, number] = Object.freeze([401, 404]) as readonly [number, number];

/** A registry that failed its checks: the message names the plugin and the rule it broke. */
export class RegistryError extends Error {}

/** A checked registry: the plugins in chain order and the tables assembled from their declarations. */
export interface PluginRegistry {
  /** Every plugin in chain order (the order IS the decision flow: DESIGN §3). */
  readonly plugins: readonly PluginFactory<any>[];
  /** Every GW_ERR_* code: core's, then each plugin's. */
  readonly errors: ReadonlyMap<string, ErrorTableRow>;
  /** Every reason code: what it means and who declares it (`core` or a plugin name). */
  readonly reasonCodes: ReadonlyMap<string, { readonly meaning: string; readonly owner: string }>;
  /** The CLI subcommands the plugins contribute. */
  readonly commands: ReadonlyMap<string, { readonly command: CliCommand; readonly owner: string }>;
}

const PLUGIN_NAME = /^[a-z][a-z0-9]*$/;
const POL_CODE = /^POL(\d{4})$/;
const METRIC_NAME = /^policy_gateway_[a-z][a-z0-9_]*$/;

/**
 * Checks a plugin list and builds its tables. Throws RegistryError on: a name that is not one lower-case word or is
 * taken twice; a block keyword two plugins own; a plugin registered before one it must run `after`; an error code
 * declared twice, or mapped onto a reason code nobody declares; a reason code declared twice; a diagnostic range that
 * is malformed, outside POL0405–POL0999 or overlapping another; a metric name outside `policy_gateway_*` or declared
 * twice; a CLI command taken twice or by core.
 */
export function buildRegistry(plugins: readonly PluginFactory<any>[]): PluginRegistry {
  const fail = (msg: string): never => { throw new RegistryError(msg); };
  const position = new Map<string, number>();
  const blockOwner = new Map<string, string>();
  plugins.forEach((p, i) => {
    if (!PLUGIN_NAME.test(p.name)) fail(`plugin name "${p.name}" must be one lower-case word`);
    if (position.has(p.name)) fail(`plugin "${p.name}" is registered twice`);
    position.set(p.name, i);
    for (const b of p.blocks) {
      const owner = blockOwner.get(b);
      if (owner !== undefined) fail(`block "${b}" is owned by both plugin "${owner}" and plugin "${p.name}"`);
      blockOwner.set(b, p.name);
    }
  });
  // The chain's order check: what a plugin runs after must come earlier in the list (when it is registered at all).
  plugins.forEach((p, i) => {
    for (const before of p.after ?? []) {
      const at = position.get(before);
      if (at !== undefined && at > i) fail(`plugin "${p.name}" must run after plugin "${before}": register it later in the chain`);
    }
  });

  let errors: ReadonlyMap<string, ErrorTableRow>;
  try { errors = errorTable(plugins); } catch (e) { return fail((e as Error).message); }
  const reasonCodes = new Map<string, { meaning: string; owner: string }>();
  for (const [code, meaning] of Object.entries(CORE_REASON_CODES)) reasonCodes.set(code, { meaning, owner: 'core' });
  for (const p of plugins) {
    for (const [code, meaning] of Object.entries(p.reasonCodes ?? {})) {
      const prev = reasonCodes.get(code);
      if (prev) fail(`reason code ${code} is declared by both ${prev.owner === 'core' ? 'core' : `plugin "${prev.owner}"`} and plugin "${p.name}"`);
      reasonCodes.set(code, { meaning, owner: p.name });
    }
  }
  for (const { def, owner } of errors.values()) {
    if (!reasonCodes.has(def.reasonCode)) fail(`${owner}: error ${def.code} maps onto reason code ${def.reasonCode}, which nobody declares`);
  }

  const ranges: { from: number; to: number; owner: string }[] = [];
  for (const p of plugins) {
    if (!p.diagnostics) continue;
    const [a, b] = p.diagnostics;
    const shown = `POL${String(a).padStart(4, '0')}–POL${String(b).padStart(4, '0')}`;
    if (!Number.isInteger(a) || !Number.isInteger(b) || !(a <= b) || a < 405 || b > 999) fail(`plugin "${p.name}": diagnostic range ${shown} must be two codes from POL0405 to POL0999, first ≤ last`);
    for (const r of ranges) if (a <= r.to && r.from <= b) fail(`plugin "${p.name}": diagnostic range ${shown} overlaps plugin "${r.owner}"'s`);
    ranges.push({ from: a, to: b, owner: p.name });
  }

  const metricNames = new Map<string, string>();
  for (const p of plugins) {
    for (const d of Object.values(p.metrics ?? {})) {
      if (!METRIC_NAME.test(d.name)) fail(`plugin "${p.name}": metric ${d.name} must be named policy_gateway_<subsystem>_<what>`);
      const prev = metricNames.get(d.name);
      if (prev) fail(`metric ${d.name} is declared by both plugin "${prev}" and plugin "${p.name}"`);
      metricNames.set(d.name, p.name);
    }
  }

  const commands = new Map<string, { command: CliCommand; owner: string }>();
  for (const p of plugins) {
    for (const [name, command] of Object.entries(p.commands ?? {})) {
      if (CORE_COMMANDS.includes(name)) fail(`plugin "${p.name}": command "${name}" belongs to the CLI itself`);
      const prev = commands.get(name);
      if (prev) fail(`command "${name}" is contributed by both plugin "${prev.owner}" and plugin "${p.name}"`);
      commands.set(name, { command, owner: p.name });
    }
  }
  return Object.freeze({ plugins: Object.freeze([...plugins]), errors, reasonCodes, commands });
}

/** True when POL code `code` may be reported by `plugin`: its own range, the SDK's shared codes, or core's (POL03xx). */
export function pluginMayReport(plugin: Pick<PluginFactory, 'diagnostics'>, code: string): boolean {
  const n = Number(POL_CODE.exec(code)?.[1] ?? NaN);
  if (n < 400 || (n >= SHARED_PLUGIN_CODES[0] && n <= SHARED_PLUGIN_CODES[1])) return true;
  if (!plugin.diagnostics) return true;
  return n >= plugin.diagnostics[0] && n <= plugin.diagnostics[1];
}
