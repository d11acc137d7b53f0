// State the topics plugin publishes for later plugins (decide reads it). Contract between plugins.
import { stateKey } from '../../src/sdk/context.ts';

/** What the topic matcher found in the scanned user messages. */
export interface TopicsResult {
  /** True when the policy configures an allowlist (then a request with no allow hit is refused). */
  readonly allowlistConfigured: boolean;
  /** The configured allow phrases/regexes (as written) that matched, in configuration order, deduplicated. */
  readonly allowlistHits: readonly string[];
  /** The configured deny phrases/regexes (as written) that matched, in configuration order, deduplicated. */
  readonly denylistHits: readonly string[];
  /** `file:line` of the first deny rule that matched, or null. */
  readonly denyRule: string | null;
}

/** Set by the topics plugin's onRequest when the policy has a topics block. */
export const topicsKey = stateKey<TopicsResult>('topics');
