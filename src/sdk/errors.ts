// Runtime errors as plugins declare and raise them: a plugin's GW_ERR_* rows (with their reason codes) go in its
// definition (`errors`), and its hooks reject with `new GatewayError(row, args)`. Re-exported from src/errors.ts.
export { defineErrors, GatewayError, type ErrorDef, type ErrorRow } from '../errors.ts';

import { E } from '../errors.ts';

/**
 * The core error a request that asks for a live evaluation trace without the right gets (403): the auth plugin raises
 * it for a key whose entry lacks the `debug` grant, the HTTP edge for a policy without an auth block.
 */
export const TRACE_FORBIDDEN = E.GW_ERR_TRACE_FORBIDDEN;
