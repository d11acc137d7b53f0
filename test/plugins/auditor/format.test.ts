// Record formatting: logfmt quoting and escaping (one line per record, whatever users send), field order with the
// connectors' five keys first, missing values, and the one-line JSON form. Lines are read back with a strict parser.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  auditTimestamp, formatAuditRecord, formatJson, formatLogfmt, logfmtValue, needsQuoting, quoteLogfmt, type AuditRecord,
} from '../../../plugins/auditor/format.ts';
import { logfmtKeys, parseLogfmt } from './helpers.ts';

const SEED = '2026-01-13T10:12:42Z policy_id=policy-gateway decision=rewrite reason_code=REWRITE policy_user=user-12345 policy_project_id=support-bot';

const seedRecord = (extra: Record<string, unknown> = {}): AuditRecord => ({
  timestamp: '2026-01-13T10:12:42Z', policy_id: 'policy-gateway', decision: 'rewrite', reason_code: 'REWRITE',
  policy_user: 'user-12345', policy_project_id: 'support-bot', ...extra,
} as AuditRecord);

describe('logfmt values', () => {
  const cases: { note: string; value: string; quoted: boolean; out: string }[] = [
    { note: 'a plain word stays bare', value: 'user-12345', quoted: false, out: 'user-12345' },
    { note: 'a colon, slash and star stay bare', value: 'self-harm/*:x', quoted: false, out: 'self-harm/*:x' },
    { note: 'non-ASCII letters and emoji stay bare', value: 'zoë-😀', quoted: false, out: 'zoë-😀' },
    { note: 'a space forces quotes', value: 'refund policy', quoted: true, out: '"refund policy"' },
    { note: 'an equals sign forces quotes', value: 'a=b', quoted: true, out: '"a=b"' },
    { note: 'a double quote is escaped', value: 'say "hi"', quoted: true, out: '"say \\"hi\\""' },
    { note: 'a backslash is escaped', value: 'C:\\dir', quoted: true, out: '"C:\\\\dir"' },
    { note: 'a newline cannot forge a second record', value: 'x\n2026-01-01T00:00:00Z policy_id=forged', quoted: true, out: '"x\\n2026-01-01T00:00:00Z policy_id=forged"' },
    { note: 'CR and TAB are escaped', value: 'a\rb\tc', quoted: true, out: '"a\\rb\\tc"' },
    { note: 'other C0 controls become \\u escapes', value: 'a\u0001b\u001b', quoted: true, out: '"a\\u0001b\\u001b"' },
    { note: 'DEL and C1 controls become \\u escapes', value: 'a\u007fb\u0085', quoted: true, out: '"a\\u007fb\\u0085"' },
    { note: 'Unicode line separators become \\u escapes', value: 'a\u2028b\u2029', quoted: true, out: '"a\\u2028b\\u2029"' },
    { note: 'a lone surrogate becomes a \\u escape', value: 'a\ud800b', quoted: true, out: '"a\\ud800b"' },
    { note: 'the empty string is an empty quoted value', value: '', quoted: true, out: '""' },
    { note: 'a literal "-" is quoted so it never reads as missing', value: '-', quoted: false, out: '"-"' },
  ];
  it.each(cases)('$note', ({ value, quoted, out }) => {
    expect(needsQuoting(value)).toBe(quoted);
    expect(logfmtValue(value)).toBe(out);
  });

  const other: { note: string; value: Parameters<typeof logfmtValue>[0]; out: string }[] = [
    { note: 'null is "-"', value: null, out: '-' },
    { note: 'undefined is "-"', value: undefined, out: '-' },
    { note: 'an integer', value: 42, out: '42' },
    { note: 'a fraction keeps its digits', value: 1.234, out: '1.234' },
    { note: 'NaN is missing', value: Number.NaN, out: '-' },
    { note: 'booleans', value: false, out: 'false' },
    { note: 'a list is comma-joined', value: ['hate', 'self-harm/intent'], out: 'hate,self-harm/intent' },
    { note: 'an empty list is missing', value: [], out: '-' },
    { note: 'a list with a space is quoted as a whole', value: ['refund policy', 'shipping'], out: '"refund policy,shipping"' },
    { note: 'redaction counts read type:count', value: { email: 2, phone: 1 }, out: 'email:2,phone:1' },
    { note: 'no counts is missing', value: {}, out: '-' },
  ];
  it.each(other)('$note', ({ value, out }) => {
    expect(logfmtValue(value)).toBe(out);
  });

  it('quoting round-trips any string through a strict logfmt reader, on one line', () => {
    const anyUtf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((a) => String.fromCharCode(...a));
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), anyUtf16), (s) => {
      const line = formatLogfmt(seedRecord({ policy_user: s, prompt: s }));
      expect(line.includes('\n') || line.includes('\r') || line.includes('\u2028')).toBe(false);
      const back = parseLogfmt(line);
      expect(back.policy_user).toBe(s);
      expect(back.prompt).toBe(s);
      expect(back.policy_id).toBe('policy-gateway');
    }), { numRuns: 500 });
  });

  it('quoteLogfmt output is always wrapped in double quotes', () => {
    expect(quoteLogfmt('plain')).toBe('"plain"');
  });
});

describe('logfmt lines', () => {
  it('the connectors\' sample line is reproduced exactly from its record', () => {
    expect(formatLogfmt(seedRecord())).toBe(SEED);
  });

  it('writes the timestamp bare and every field in record order, more keys after the seed\'s five', () => {
    const line = formatLogfmt(seedRecord({ request_id: 'r1', status: 200, enforced: true, triggered_categories: ['hate'], rule: 'rules/a.policy:7', tags: ['team:support'] }));
    expect(line.startsWith(`${SEED} request_id=r1 status=200 enforced=true`)).toBe(true);
    expect(logfmtKeys(line)).toEqual(['timestamp', 'policy_id', 'decision', 'reason_code', 'policy_user', 'policy_project_id',
      'request_id', 'status', 'enforced', 'triggered_categories', 'rule', 'tags']);
    expect(parseLogfmt(line)).toMatchObject({ rule: 'rules/a.policy:7', triggered_categories: 'hate', tags: 'team:support' });
  });

  it('missing values read "-" and parse back as null', () => {
    const line = formatLogfmt(seedRecord({ policy_user: null, code: null, denylist_hits: [] }));
    expect(line).toContain(' policy_user=- ');
    expect(parseLogfmt(line)).toMatchObject({ policy_user: null, code: null, denylist_hits: null });
  });
});

describe('JSON lines', () => {
  it('has the same fields in the same order on one line, missing values as null', () => {
    const rec = seedRecord({ request_id: 'r1', policy_user: null, redactions: { email: 2 }, tags: ['a', 'b'], prompt: 'line1\nline2\u2028' });
    const line = formatJson(rec);
    expect(line.includes('\n')).toBe(false);
    expect(line.includes('\u2028')).toBe(false);
    const back = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(Object.keys(rec));
    expect(back).toEqual(rec);
    expect(back.policy_user).toBeNull();
  });

  it('formatAuditRecord picks the format', () => {
    expect(formatAuditRecord(seedRecord(), 'logfmt')).toBe(SEED);
    expect(JSON.parse(formatAuditRecord(seedRecord(), 'json'))).toEqual(seedRecord());
  });
});

describe('timestamps', () => {
  const cases = [
    { note: 'seconds precision, UTC, Z suffix', ms: Date.UTC(2026, 0, 13, 10, 12, 42, 999), out: '2026-01-13T10:12:42Z' },
    { note: 'the next second is not served from the cache of the previous one', ms: Date.UTC(2026, 0, 13, 10, 12, 43, 0), out: '2026-01-13T10:12:43Z' },
    { note: 'going back in time works too', ms: Date.UTC(1999, 11, 31, 23, 59, 59, 1), out: '1999-12-31T23:59:59Z' },
  ];
  it.each(cases)('$note', ({ ms, out }) => {
    expect(auditTimestamp(ms)).toBe(out);
  });
});
