// Reason codes of decisions: the default `reason_code` of each decision pattern, the allowlist miss, and the form a
// configured code must have. docs/reason-codes.md is the documented table (rejections map their own codes there).
import type { Decision } from '../../src/sdk/types.ts';

/** A configured reason code MUST match this: upper-case letter, then upper-case letters, digits, `_`. */
export const REASON_CODE_PATTERN: RegExp = /^[A-Z][A-Z0-9_]*$/;

/** Default `reason_code` per decision when the rule that fired configures none: the pattern name upper-cased. */
export const DEFAULT_REASON_CODES: Readonly<Record<Decision, string>> = Object.freeze({
  allow: 'ALLOW',
  rewrite: 'REWRITE',
  summary: 'SUMMARY',
  escalate: 'ESCALATE',
  refuse: 'REFUSE',
});

/** Default `reason_code` of a refusal because an allowlist is configured and nothing on it matched. */
export const ALLOWLIST_MISS = 'ALLOWLIST_MISS';

/** What each reason code decide introduces means (its registry declaration; docs/reason-codes.md has a row each). */
export const DECIDE_REASON_CODES: Readonly<Record<string, string>> = Object.freeze({
  ALLOW: 'no rule fired and `otherwise` is allow, or an allow rule fired',
  REWRITE: 'a rewrite rule without `reason` fired',
  SUMMARY: 'a summary rule without `reason` fired',
  ESCALATE: 'an escalate rule without `reason` fired',
  REFUSE: 'a refuse rule without `reason` fired (denylist-only triggers included)',
  ALLOWLIST_MISS: 'an allowlist is configured and nothing on it matched',
});
