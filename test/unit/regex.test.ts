// User regexes (src/sdk/regex.ts): POL0320 names the construct RE2 lacks, and only when the regex uses one.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../grammar/diagnostics.ts';
import { SourceText } from '../../grammar/source.ts';
import { compileUserRegex, unsupportedFeature } from '../../src/sdk/regex.ts';

describe('unsupportedFeature', () => {
  it.each([
    { note: 'a numbered backreference', source: '(\\w+) \\1', want: 'the backreference "\\1"' },
    { note: 'a two-digit backreference', source: '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10', want: 'the backreference "\\10"' },
    { note: 'a named backreference', source: '(?<w>\\w+) \\k<w>', want: 'the named backreference "\\k<w>"' },
    { note: 'a lookahead', source: 'refund(?= policy)', want: 'the lookahead "(?=…)"' },
    { note: 'a negative lookahead', source: 'refund(?! policy)', want: 'the lookahead "(?!…)"' },
    { note: 'a lookbehind', source: '(?<=account )\\d+', want: 'the lookbehind "(?<=…)"' },
    { note: 'a negative lookbehind', source: '(?<!no )refund', want: 'the lookbehind "(?<!…)"' },
    { note: 'a plain missing ")"', source: '(wire\\s+transfer', want: undefined },
    { note: 'lookaround characters inside a class', source: '[(?=]+(', want: undefined },
    { note: 'an escaped parenthesis', source: '\\(?=x', want: undefined },
    { note: 'an escaped backslash before a digit', source: '\\\\1(', want: undefined },
    { note: 'a named group (RE2 has them)', source: '(?<word>\\w+', want: undefined },
  ])('$note: /$source/', ({ source, want }) => {
    expect(unsupportedFeature(source)).toBe(want);
  });
});

describe('compileUserRegex', () => {
  const compile = (source: string): Diagnostic[] => {
    const text = `/${source}/`;
    const diags: Diagnostic[] = [];
    const span = new SourceText(text, 'a.policy').span(0, text.length);
    expect(compileUserRegex({ kind: 'Regex', source, flags: '', span }, { report: (d) => diags.push(d) })).toBeUndefined();
    return diags;
  };

  it('adds no RE2 note to a plain syntax error', () => {
    const [d] = compile('(wire\\s+transfer');
    expect(d).toMatchObject({ code: 'POL0320', message: 'invalid regex /(wire\\s+transfer/: error parsing regexp: missing closing ): `(wire\\s+transfer`' });
    expect(d!.notes).toBeUndefined();
  });

  it('names the lookaround RE2 lacks', () => {
    const [d] = compile('refund(?! policy)');
    expect(d!.notes).toEqual(['the lookahead "(?!…)" is not supported: user regexes run on a linear-time (RE2) engine']);
  });
});
