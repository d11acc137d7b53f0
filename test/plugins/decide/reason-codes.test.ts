// Reason codes: the decision defaults, reasonCodeForError for every GW_ERR_* code, and that docs/reason-codes.md
// documents every code the mapping can produce and every gateway error it maps.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALLOWLIST_MISS, DEFAULT_REASON_CODES, ERROR_CODE_REASONS, ERROR_REASON_CODES, REASON_CODE_PATTERN, reasonCodeForError,
} from '../../../plugins/decide/reason-codes.ts';
import { E } from '../../../src/errors.ts';

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

  it('maps every GW_ERR_* code of src/errors.ts explicitly, onto a documented reason code', () => {
    const known = new Set(Object.values(ERROR_REASON_CODES));
    for (const code of Object.keys(E)) {
      expect(Object.hasOwn(ERROR_CODE_REASONS, code), `${code} has no reason code`).toBe(true);
      expect(known.has(reasonCodeForError(code) as never)).toBe(true);
    }
  });

  it('docs/reason-codes.md lists every reason code and every GW_ERR_* code', () => {
    for (const c of [...Object.values(DEFAULT_REASON_CODES), ALLOWLIST_MISS, ...Object.values(ERROR_REASON_CODES)]) {
      expect(doc, c).toContain(`| \`${c}\` |`);
    }
    for (const code of Object.keys(E)) expect(doc, code).toContain(`\`${code}\``);
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
