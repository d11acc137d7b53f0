// Public API of the policy pipeline: load and compile .policy files into a frozen CompiledPolicySet, and keep it
// fresh with PolicyStore. The server and CLI import from here; the grammar stays behind grammar/index.ts.
export { checkPolicies, POLICY_SETTINGS, type CheckOptions } from './check.ts';
export {
  compilePolicies, compileSources, deepFreeze, findPolicyFiles, loadPolicies, parseSources, revisionOf,
  type LoadOptions, type LoadResult,
} from './load.ts';
export { PolicyStore, type PolicyStoreOptions, type ReloadOutcome } from './store.ts';
export type { CompiledPlugin, CompiledPolicy, CompiledPolicySet } from './types.ts';
