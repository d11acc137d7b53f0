// Literal values: numbers with units, string escapes, multi-line strings, string re-encoding.
import { describe, expect, it } from 'vitest';
import { decodeString, encodeString, parseNumber, regexParts } from '../../grammar/literals.ts';

describe('numbers', () => {
  it.each([
    { note: 'plain integer', raw: '60', value: 60, unit: 'none' },
    { note: 'decimal', raw: '0.5', value: 0.5, unit: 'none' },
    { note: 'k is thousands', raw: '200k', value: 200_000, unit: 'count' },
    { note: 'M is millions', raw: '5M', value: 5_000_000, unit: 'count' },
    { note: 'G is billions', raw: '1G', value: 1_000_000_000, unit: 'count' },
    { note: 'decimal counts are exact', raw: '1.1k', value: 1100, unit: 'count' },
    { note: 'ms', raw: '500ms', value: 500, unit: 'duration' },
    { note: 's', raw: '30s', value: 30_000, unit: 'duration' },
    { note: 'm is minutes', raw: '5m', value: 300_000, unit: 'duration' },
    { note: 'h', raw: '1h', value: 3_600_000, unit: 'duration' },
    { note: 'd', raw: '7d', value: 604_800_000, unit: 'duration' },
    { note: 'decimal durations are exact', raw: '0.1h', value: 360_000, unit: 'duration' },
    { note: 'percent', raw: '10%', value: 10, unit: 'percent' },
  ])('$note: $raw', ({ raw, value, unit }) => {
    expect(parseNumber(raw)).toEqual({ value, unit });
  });

  it('reports an unknown suffix at the suffix', () => {
    const r = parseNumber('30sec');
    expect(r.problem).toMatchObject({ code: 'POL0104', offset: 2, length: 3 });
  });
});

describe('strings', () => {
  it.each([
    { note: 'no escapes', raw: '"abc"', value: 'abc' },
    { note: 'simple escapes', raw: '"a\\n\\t\\"\\\\b"', value: 'a\n\t"\\b' },
    { note: 'unicode escape', raw: '"\\u{1F600}x"', value: '😀x' },
    { note: 'multi-line: first newline and common indent removed', raw: '"""\n    line one\n      indented\n    """', value: 'line one\n  indented' },
    { note: 'multi-line on one line', raw: '"""a "quoted" word"""', value: 'a "quoted" word' },
    { note: 'multi-line keeps inner blank lines', raw: '"""\n  a\n\n  b\n  """', value: 'a\n\nb' },
    { note: 'multi-line with escapes', raw: '"""\n  a\\tb\n"""', value: 'a\tb' },
    { note: 'multi-line CRLF becomes LF', raw: '"""\r\n  a\r\n  b\r\n"""', value: 'a\nb' },
  ])('$note', ({ raw, value }) => {
    expect(decodeString(raw)).toEqual({ value, problems: [] });
  });

  it('reports each bad escape with its offset inside the token', () => {
    const r = decodeString('"ab\\qc\\u{zz}"');
    expect(r.problems.map((p) => [p.code, p.offset, p.length])).toEqual([['POL0103', 3, 2], ['POL0103', 6, 2]]);
  });

  it.each([
    { note: 'plain', value: 'abc' },
    { note: 'quotes and backslashes', value: 'a"b\\c' },
    { note: 'control characters', value: 'a\nb\tc\r\u0001\u2028' },
    { note: 'astral', value: '😀' },
  ])('encodeString round-trips: $note', ({ value }) => {
    expect(decodeString(encodeString(value))).toEqual({ value, problems: [] });
  });
});

describe('regexes', () => {
  it('splits source and flags, keeping escapes as written', () => {
    expect(regexParts('/a\\/b/gi')).toEqual({ source: 'a\\/b', flags: 'gi' });
  });
});
