// Gateway-level hooks a plugin module may register (the auditor records requests that never reached a policy).
// Kept import-free so plugin modules can register at import time without an import cycle through src/cli/serve.ts.
import type { GatewayServices } from './context.ts';

/** A request that ended before reaching a policy chain (bad JSON, unknown route or policy, 413, 415, …). */
export interface UnchainedRequestEnd {
  readonly reqId: string;
  readonly route: string;
  readonly status: number;
  readonly error: { readonly code: string; readonly status: number } | undefined;
  readonly durationMs: number;
  readonly revision: string | undefined;
}

export interface ServeHooks {
  onUnchainedEnd?: (end: UnchainedRequestEnd, services: GatewayServices) => void;
}

/** The registered hooks; src/cli/serve.ts calls them. */
export const serveHooks: ServeHooks = {};

/** Registers gateway-level hooks (last registration of a hook wins). */
export function registerServeHooks(h: ServeHooks): void {
  Object.assign(serveHooks, h);
}
