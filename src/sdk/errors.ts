// Runtime errors as plugins declare and raise them: a plugin's GW_ERR_* rows (with their reason codes) go in its
// definition (`errors`), and its hooks reject with `new GatewayError(row, args)`. Re-exported from src/errors.ts.
export { defineErrors, GatewayError, type ErrorDef, type ErrorRow } from '../errors.ts';
