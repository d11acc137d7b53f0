// The engine's combined trigger scan (one alternation per group of enabled detectors, engine.ts planScans) must find
// exactly what one scan per detector finds: same spans on both corpora, the benchmark text and random texts packed
// with trigger fragments, for any subset of detectors; and the first-character sets it dispatches on are right.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_DETECTORS, firstChars, unrollDigitCounts, type Detector } from '../../../plugins/redactor/detectors.ts';
import { distinctChars } from '../../../plugins/redactor/validators.ts';
import { RedactionEngine } from '../../../plugins/redactor/engine.ts';
import { loadCorpus } from '../../../plugins/redactor/corpus-eval.ts';
import { mixedText } from '../../../bench/redaction.ts';

/** The same detector without its `scan`: the engine then runs its own `find`. */
const unscanned = (d: Detector): Detector => {
  const { scan: _scan, ...rest } = d;
  return Object.freeze(rest);
};
const spans = (e: RedactionEngine, t: string) => e.spans(t);

const grouped = new RedactionEngine(BUILTIN_DETECTORS, { kind: 'label' });
const single = new RedactionEngine(BUILTIN_DETECTORS.map(unscanned), { kind: 'label' });

/** Trigger fragments of every grouped detector, near-misses and separators, glued in random orders. */
const FRAGMENTS = [
  'sk-', 'sk-proj-', 'sk_live_', 'rk_test_', 'k_prod_', 'ghp_', 'github_pat_', 'xoxb-', 'xapp-', 'xoxe.xoxp-', 'AIza', 'AKIA', 'ASIA',
  'A3T', 'eyJ', 'eyJhbGciOiJIUzI1NiJ9', 'Bearer ', 'bearer\t', 'BEARER ', 'https://', 'hooks.slack.com/services/', '-----BEGIN ',
  'PRIVATE KEY-----', 'password', 'Password', 'PASSWD', 'pwd', 'secret', 'Secret_Key', 'aws_secret_access_key', 'AWS', 'aws_access_key',
  '=', ': ', ':=', '=>', '"', "'", ' ', '\n', '.', '-', '_', '/', '@', 'T3BlbkFJ', 'abcDEF123456ghiJKL7890', 'Q1w2E3r4T5y6U7i8O9p0',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '0123456789', 'ABCDEFGHIJKLMNOP', 'user:pass@', 'host.example.com', 'größe', '価格',
];
const textArb = fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 40 }).map((xs) => xs.join(''));

describe('combined trigger scan', () => {
  it('groups the prefix-triggered secrets and the keyword-triggered ones', () => {
    const groups = new Map<string, string[]>();
    for (const d of BUILTIN_DETECTORS) if (d.scan) groups.set(d.scan.group, [...(groups.get(d.scan.group) ?? []), d.name]);
    expect(groups.get('prefix')).toHaveLength(11);
    expect(groups.get('keyword')).toEqual(['aws_secret_key', 'password']);
  });

  it('finds the same spans as one scan per detector on every line of both corpora', () => {
    for (const name of ['corpus', 'grown'] as const) {
      for (const item of loadCorpus(name)) expect(spans(grouped, item.text), item.text).toEqual(spans(single, item.text));
    }
  });

  it('finds the same spans on 64 KB of the benchmark text', () => {
    const text = mixedText(64 * 1024);
    const got = spans(grouped, text);
    expect(got.length).toBeGreaterThan(200);
    expect(got).toEqual(spans(single, text));
  });

  it('finds the same spans on random texts of trigger fragments, for random subsets of detectors', () => {
    const names = BUILTIN_DETECTORS.map((d) => d.name);
    fc.assert(fc.property(textArb, fc.subarray(names, { minLength: 1 }), (text, subset) => {
      const dets = BUILTIN_DETECTORS.filter((d) => subset.includes(d.name));
      const a = new RedactionEngine(dets, { kind: 'label' });
      const b = new RedactionEngine(dets.map(unscanned), { kind: 'label' });
      expect(spans(a, text)).toEqual(spans(b, text));
      expect(spans(grouped, text)).toEqual(spans(single, text));
    }), { numRuns: 400 });
  });

  it('streams the same output as it redacts whole texts', () => {
    fc.assert(fc.property(textArb, fc.integer({ min: 1, max: 30 }), (text, step) => {
      const s = grouped.stream({ key: 'k', counts: {} });
      let out = '';
      for (let i = 0; i < text.length; i += step) out += s.push(text.slice(i, i + step));
      expect(out + s.flush()).toBe(single.redact(text, { key: 'k', counts: {} }));
    }), { numRuns: 200 });
  });
});

describe('firstChars', () => {
  it.each([
    { note: 'a literal start', body: 'eyJ[A-Za-z0-9_-]{4}', flags: '', want: 'e' },
    { note: 'alternatives and a class', body: '(?:[Bb]earer|BEARER)[ \\t]{1,3}', flags: '', want: 'Bb' },
    { note: 'an optional prefix lets the next term start the match', body: '(?:https?:\\/\\/)?hooks\\.', flags: '', want: 'h' },
    { note: 'an optional prefix with a different first character', body: '(?:x-)?y', flags: '', want: 'xy' },
    { note: 'a range', body: '[0-3]a', flags: '', want: '0123' },
    { note: 'case variants under the i flag', body: '(?:pwd|secret)=', flags: 'i', want: 'PSps' },
  ])('$note', ({ body, flags, want }) => {
    expect(firstChars(body, flags)).toBe(want);
  });

  it('refuses a trigger that can match the empty string or start with a negated class', () => {
    expect(() => firstChars('a?')).toThrow(/empty/);
    expect(() => firstChars('[^a]b')).toThrow(/negated/);
  });

  it('every grouped built-in trigger match starts with one of its first characters', () => {
    const triggers = BUILTIN_DETECTORS.filter((d) => d.scan).map((d) => ({ d, re: new RegExp(d.scan!.source, `g${d.scan!.flags}`) }));
    const check = (text: string): void => {
      for (const { d, re } of triggers) for (const m of text.matchAll(re)) expect(d.scan!.first, `${d.name} at ${m.index}`).toContain(text[m.index]);
    };
    check(mixedText(16 * 1024));
    for (const name of ['corpus', 'grown'] as const) for (const item of loadCorpus(name)) check(item.text);
    fc.assert(fc.property(textArb, check), { numRuns: 300 });
  });
});

describe('scan helpers', () => {
  it.each([
    { note: 'exact counts are written out', src: '\\d{3}-\\d{2}', want: '\\d\\d\\d-\\d\\d' },
    { note: 'a range keeps its optional tail', src: '\\d{8,15}', want: '\\d\\d\\d\\d\\d\\d\\d\\d\\d{0,7}' },
    { note: 'long minimums and escaped backslashes are left alone', src: '\\d{12,18}\\\\d{3}', want: '\\d{12,18}\\\\d{3}' },
  ])('unrollDigitCounts: $note', ({ src, want }) => {
    expect(unrollDigitCounts(src)).toBe(want);
    // the same language: the rewritten regex matches exactly the same strings
    const a = new RegExp(`^(?:${src})$`);
    const b = new RegExp(`^(?:${want})$`);
    fc.assert(fc.property(fc.stringMatching(/^[0-9\\d-]{0,24}$/), (t) => { expect(b.test(t)).toBe(a.test(t)); }));
  });

  it('distinctChars counts ASCII and other characters, call after call', () => {
    expect(distinctChars('aabbcc', 0, 6)).toBe(3);
    expect(distinctChars('aabbcc', 2, 6)).toBe(2);
    expect(distinctChars('ааbb価価😀', 0, 8)).toBe(5); // Cyrillic а, b, 価, two surrogate halves
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (t) => {
      expect(distinctChars(t, 0, t.length)).toBe(new Set(Array.from({ length: t.length }, (_, i) => t.charCodeAt(i))).size);
    }));
  });
});

describe('folded view in streams (only new text is checked for foldable characters)', () => {
  const FOLDED = [
    '4111\u00a01111\u00a01111\u00a01111', '４１１１ １１１１ １１１１ １１１１', '4111\u20091111\u20091111\u20091111', '+44\u00a020\u00a07946\u00a00958',
    'jane＠example.com', 'DE89\u202f3704\u202f0044\u202f0532\u202f0130\u202f00', '078\u201105\u20111123',
  ];
  const filler = fc.constantFrom('the answer is ', 'Größe ', '価格は ', 'call me later. ', '\n', 'order 12 ', 'x'.repeat(90), '— ');
  const text = fc.array(fc.oneof(filler, fc.constantFrom(...FOLDED)), { minLength: 1, maxLength: 24 }).map((xs) => xs.join(' '));

  it('streams give the whole-text result for any split, foldable characters in any piece', () => {
    fc.assert(fc.property(text, fc.integer({ min: 1, max: 40 }), (t, step) => {
      const want = grouped.redact(t, { key: 'k', counts: {} });
      for (const v of FOLDED) if (t.includes(v)) expect(want.includes(v), v).toBe(false);
      const s = grouped.stream({ key: 'k', counts: {} });
      let out = '';
      for (let i = 0; i < t.length; i += step) out += s.push(t.slice(i, i + step));
      expect(out + s.flush()).toBe(want);
    }), { numRuns: 300 });
  });
});
