// Formatter rules (grammar/format.ts) on small inputs; the goldens in test/golden/format cover whole files.
import { describe, expect, it } from 'vitest';
import { formatPolicy, parsePolicy, PolicyFormatError, tryFormatPolicy } from '../../grammar/index.ts';

const fmt = (s: string) => formatPolicy(s, { file: 't.policy' });

describe('layout rules', () => {
  it.each([
    { note: 'a body with one short statement stays on one line', src: 'policy "a" { auth {keys "k"} }', want: 'policy "a" {\n  auth { keys "k" }\n}\n' },
    { note: 'two statements go one per line', src: 'policy "a" { b { x; y } }', want: 'policy "a" {\n  b {\n    x\n    y\n  }\n}\n' },
    { note: 'an empty body is {}', src: 'policy "a" { b {   } }', want: 'policy "a" {\n  b {}\n}\n' },
    { note: 'an empty policy is {}', src: 'policy "a" {\n\n}', want: 'policy "a" {}\n' },
    { note: 'a nested body makes the outer body multi-line', src: 'policy "a" { b { p x { u 1 } } }', want: 'policy "a" {\n  b {\n    p x { u 1 }\n  }\n}\n' },
    { note: 'list items are joined with ", "', src: 'policy "a" { b { x 1 ,2,\n 3 } }', want: 'policy "a" {\n  b { x 1, 2, 3 }\n}\n' },
    { note: 'settings stay together, blocks get blank lines', src: 'policy "a" { description "d"\ndefault\nb { x }\nc { y } }', want: 'policy "a" {\n  description "d"\n  default\n\n  b { x }\n\n  c { y }\n}\n' },
    { note: 'several blank lines become one; none after "{" or before "}"', src: 'policy "a" { b {\n\n x\n\n\n y\n\n } }', want: 'policy "a" {\n  b {\n    x\n\n    y\n  }\n}\n' },
    { note: 'policies are separated by one blank line', src: 'policy "a" {}\npolicy "b" {}', want: 'policy "a" {}\n\npolicy "b" {}\n' },
    { note: 'strings, numbers and regexes keep their spelling', src: 'policy "a\\u{41}" { b { x "\\t" 1.50k /a\\/b/i } }', want: 'policy "a\\u{41}" {\n  b { x "\\t" 1.50k /a\\/b/i }\n}\n' },
  ])('$note', ({ src, want }) => {
    expect(fmt(src)).toBe(want);
  });

  it('keeps a body on one line up to 80 columns and breaks it after', () => {
    const fits = `policy "a" {\n  b { x "${'y'.repeat(80 - 12)}" }\n}\n`;
    expect(fits.split('\n')[1]!.length).toBe(80);
    expect(fmt(fits)).toBe(fits);
    const tooLong = fits.replace('"y', '"yy');
    expect(fmt(tooLong).split('\n')).toHaveLength(6);
  });

  it('breaks a list that makes its statement longer than 100 columns, one item per line', () => {
    const items = Array.from({ length: 12 }, (_, i) => `"phrase ${i}"`);
    const out = fmt(`policy "a" { t { deny ${items.join(', ')} reason "R" } }`);
    expect(out).toBe(`policy "a" {\n  t {\n    deny ${items.join(',\n        ')} reason "R"\n  }\n}\n`);
  });

  it('formats an AST without its text, re-escaping strings', () => {
    const ast = parsePolicy('policy "a" { b { x "\\u{41}\\"" } }', 't.policy').ast;
    expect(formatPolicy(ast)).toBe('policy "a" {\n  b { x "A\\"" }\n}\n');
  });
});

describe('comments', () => {
  it.each([
    { note: 'a comment inside a one-statement body makes it multi-line', src: 'policy "a" { b { # c\n x } }', want: 'policy "a" {\n  b { # c\n    x\n  }\n}\n' },
    { note: 'trailing comments stay on their line', src: 'policy "a" { b {\n x # c\n y } }', want: 'policy "a" {\n  b {\n    x # c\n    y\n  }\n}\n' },
    { note: 'own-line comments are indented like the next item', src: '   # top\npolicy "a" {\n        # lead\n b { x }\n }', want: '# top\npolicy "a" {\n  # lead\n  b { x }\n}\n' },
    { note: 'a comment between list items breaks the list', src: 'policy "a" { b { x 1, # one\n 2 } }', want: 'policy "a" {\n  b {\n    x 1, # one\n        2\n  }\n}\n' },
    { note: 'trailing white space in comments is dropped', src: '# c   \npolicy "a" {}', want: '# c\npolicy "a" {}\n' },
    { note: 'a file of comments only', src: '# a\n\n\n// b\n', want: '# a\n\n// b\n' },
  ])('$note', ({ src, want }) => {
    expect(fmt(src)).toBe(want);
    expect(fmt(want)).toBe(want);
  });
});

describe('errors', () => {
  it('refuses to format text with errors', () => {
    expect(() => fmt('policy "a" { b { x,, } }')).toThrow(PolicyFormatError);
    const r = tryFormatPolicy('policy "a" { b { x,, } }', 't.policy');
    expect(r.text).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(['POL0203']);
  });

  it('formats an empty file to an empty file', () => {
    expect(fmt('')).toBe('');
    expect(fmt('\n\n')).toBe('');
  });
});
