// State the moderation plugin publishes for later plugins (decide reads it). Contract between plugins.
import { stateKey } from '../../src/sdk/context.ts';

/** The moderation result for the scanned user messages. */
export interface ModerationResult {
  /** Flagged categories (OpenAI taxonomy names such as "self-harm/intent"), sorted, deduplicated. */
  readonly flagged: readonly string[];
  /** Score per category from the provider (0..1). */
  readonly scores: Readonly<Record<string, number>>;
  /** Provider that produced the result (`builtin`, `openai`, `llama_guard`) or `error` when it failed open. */
  readonly provider: string;
  /** `file:line` of the flag rule that flagged each category. */
  readonly rules: Readonly<Record<string, string>>;
}

/** Set by the moderation plugin's onRequest when the policy has a moderation block. */
export const moderationKey = stateKey<ModerationResult>('moderation');
