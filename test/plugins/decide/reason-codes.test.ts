// Reason codes: the decision defaults, the reason code of every GW_ERR_* code in the error table the registry assembles
// (core's and the plugins'), and that docs/reason-codes.md documents every declared reason code and every error code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALLOWLIST_MISS, DEFAULT_REASON_CODES, REASON_CODE_PATTERN } from '../../../plugins/decide/reason-codes.ts';
import { reasonCodeForError as reasonCodeIn } from '../../../src/errors.ts';
import { REGISTRY } from '../../helpers/errors.ts';

const reasonCodeForError = (code: string): string => reasonCodeIn(REGISTRY.errors, code);

const doc = readFileSync(new URL('../../../docs/reason-codes.md', import.meta.url), 'utf8');

describe('reason codes', () => {
  it('defaults are the pattern names upper-cased, plus ALLOWLIST_MISS', () => {
    expect(DEFAULT_REASON_CODES).toEqual({ allow: 'ALLOW', rewrite: 'REWRITE', summary: 'SUMMARY', escalate: 'ESCALATE', refuse: 'REFUSE' });
    expect(ALLOWLIST_MISS).toBe('ALLOWLIST_MISS');
  });

  it.each([
    { note: 'quota', code: 'GW_ERR_QUOTA_EXCEEDED', want: 'QUOTA_EXCEEDED' },
    { note: 'rate limit', code: 'GW_ERR_RATE_LIMITED', want: 'RATE_LIMITED' },
    { note: 'budget', code: 'GW_ERR_BUDGET_EXCEEDED', want: 'BUDGET_EXCEEDED' },
    { note: 'bad key', code: 'GW_ERR_AUTH_INVALID', want: 'AUTH_FAILED' },
    { note: 'forbidden policy', code: 'GW_ERR_AUTH_FORBIDDEN', want: 'FORBIDDEN' },
    { note: 'upstream timeout', code: 'GW_ERR_UPSTREAM_TIMEOUT', want: 'UPSTREAM_ERROR' },
    { note: 'bad JSON', code: 'GW_ERR_BAD_JSON', want: 'INVALID_REQUEST' },
    { note: 'an unknown code', code: 'GW_ERR_SOMETHING_NEW', want: 'INTERNAL_ERROR' },
    { note: 'a prototype key is not a code', code: 'toString', want: 'INTERNAL_ERROR' },
  ])('maps $note', ({ code, want }) => {
    expect(reasonCodeForError(code)).toBe(want);
  });

  it('maps every GW_ERR_* code of the error table explicitly, onto a declared reason code', () => {
    expect(REGISTRY.errors.size).toBeGreaterThan(40);
    for (const [code, { def }] of REGISTRY.errors) {
      expect(def.reasonCode, `${code} has no reason code`).toMatch(REASON_CODE_PATTERN);
      expect(REGISTRY.reasonCodes.has(reasonCodeForError(code)), `${code} maps onto an undeclared reason code`).toBe(true);
    }
  });

  it('docs/reason-codes.md lists every declared reason code and every GW_ERR_* code', () => {
    for (const c of [...Object.values(DEFAULT_REASON_CODES), ALLOWLIST_MISS, ...REGISTRY.reasonCodes.keys()]) {
      expect(doc, c).toContain(`| \`${c}\` |`);
    }
    for (const code of REGISTRY.errors.keys()) expect(doc, code).toContain(`\`${code}\``);
  });

  it.each([
    { note: 'plain upper case', code: 'SELF_HARM', ok: true },
    { note: 'digits after the first letter', code: 'TIER2_REVIEW', ok: true },
    { note: 'lower case', code: 'self_harm', ok: false },
    { note: 'a leading digit', code: '2FA', ok: false },
    { note: 'a dash', code: 'SELF-HARM', ok: false },
    { note: 'empty', code: '', ok: false },
  ])('configured code pattern: $note', ({ code, ok }) => {
    expect(REASON_CODE_PATTERN.test(code)).toBe(ok);
  });
});
