// The compiled, immutable rule set the request path evaluates. Built by src/policy/load.ts off the hot path,
// swapped in with one assignment on reload; a request keeps the snapshot it started with.
import type { PluginHooks } from '../sdk/plugin.ts';
import type { Endpoint } from '../sdk/types.ts';
import type { Chain } from '../chain/build-chain.ts';

/** One enabled plugin of a compiled policy, in chain order. */
export interface CompiledPlugin {
  readonly name: string;
  readonly hooks: PluginHooks;
}

/** One policy, ready to run. Deep-frozen. */
export interface CompiledPolicy {
  readonly id: string;
  /** Source file and line of the `policy` keyword (audit: which rule set fired). */
  readonly file: string;
  readonly line: number;
  readonly description: string | null;
  /** True when this policy is marked `default` (used by /v1 requests that name no policy). */
  readonly isDefault: boolean;
  /** The endpoints this policy serves (its `routes` setting; every endpoint without one), in the docs' order. */
  readonly endpoints: readonly Endpoint[];
  /** `stateless`: Responses requests that rely on state the upstream keeps are refused, and `store` is forced off. */
  readonly stateless: boolean;
  /** Enabled plugins in chain order. */
  readonly plugins: readonly CompiledPlugin[];
  /** Per-hook arrays precomputed from `plugins` (see src/chain/build-chain.ts). */
  readonly chain: Chain;
}

/** Every policy loaded from the policy directory. */
export interface CompiledPolicySet {
  /** Content hash (sha256, first 12 hex chars) over every source file: the rule-set revision in audit records. */
  readonly revision: string;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  /** The policy /v1 requests use when they name none: the one marked `default`, or null. */
  readonly defaultPolicyId: string | null;
  readonly files: readonly string[];
  /** Epoch ms when this set was loaded. */
  readonly loadedAt: number;
}
