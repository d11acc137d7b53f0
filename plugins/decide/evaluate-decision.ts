// The decision flow of docs/policy-language.md, "Decision order" as a pure function over a compiled RespondConfig: allowlist miss → refuse;
// else the first rule (file order) any present trigger fires; else `otherwise`. No I/O, no allocation.
import type { DecisionOutcome, RespondConfig } from './block.ts';
import { ruleCoversCategory } from './block.ts';
import { CATEGORY_SET as MODERATION_CATEGORY_SET } from '../../src/sdk/taxonomy.ts';

/** The triggers one request produced (from the topics and moderation plugins' state). */
export interface DecisionInput {
  /** True when the policy configures an allowlist. */
  readonly allowlistConfigured: boolean;
  readonly allowlistHits: readonly string[];
  readonly denylistHits: readonly string[];
  /** Flagged moderation categories. */
  readonly flagged: readonly string[];
}

/**
 * Picks the outcome for one request; deterministic and pure. Order (MUST match docs): (1) an allowlist is
 * configured and nothing on it matched → the allowlist-miss refusal; (2) otherwise the first `when` rule in file
 * order that any present trigger (a flagged category, a denylist hit) fires; (3) otherwise the `otherwise` outcome.
 */
export function evaluateDecision(config: RespondConfig, input: DecisionInput): DecisionOutcome {
  if (input.allowlistConfigured && input.allowlistHits.length === 0) return config.allowlistMiss;
  let best = input.denylistHits.length > 0 && config.firstDenylistRule >= 0 ? config.firstDenylistRule : Infinity;
  const flagged = input.flagged;
  for (let i = 0; i < flagged.length; i++) {
    const c = flagged[i]!;
    const idx = config.firstRuleByCategory[c];
    if (idx !== undefined) {
      if (idx < best) best = idx;
    } else if (!MODERATION_CATEGORY_SET.has(c)) {
      // Outside the taxonomy (a provider-specific category): match the rules' globs directly, in order.
      const rules = config.rules;
      const end = Math.min(best, rules.length);
      for (let r = 0; r < end; r++) {
        if (ruleCoversCategory(rules[r]!, c)) { best = r; break; }
      }
    }
  }
  return best === Infinity ? config.otherwise : config.rules[best]!.outcome;
}
