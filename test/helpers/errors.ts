// Test helper: the gateway's errors by code, from the error table the registry assembles out of core and the bundled
// plugins (so a test names any GW_ERR_* code without knowing which plugin declares it).
import { buildRegistry } from '../../src/plugin-registry.ts';
import { GatewayError } from '../../src/errors.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';

/** The bundled registry (core + plugins/index.ts). */
export const REGISTRY = buildRegistry(ALL_PLUGINS);

/** A GatewayError of `code` (any core or plugin code) with its message arguments. */
export function gwError(code: string, args: readonly (string | number)[] = []): GatewayError {
  const row = REGISTRY.errors.get(code);
  if (!row) throw new Error(`no error ${code} in the registry`);
  return new GatewayError(row.def, args);
}
