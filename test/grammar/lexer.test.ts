// Lex stage: token kinds, the newline-separator rule, comments kept aside, lexical diagnostics.
import { describe, expect, it } from 'vitest';
import { tokenizePolicy } from '../../grammar/lexer.ts';
import { SourceText } from '../../grammar/source.ts';

const lex = (text: string) => tokenizePolicy(new SourceText(text, 't.policy'));
const kinds = (text: string) => lex(text).tokens.map((t) => `${t.tokenType.name}:${t.tokenType.name === 'Newline' ? '⏎' : t.image}`);

describe('tokens', () => {
  it.each([
    { note: 'identifiers may hold - / * . inside', text: 'self-harm/intent credit_card self-harm/* a.b', want: ['Identifier:self-harm/intent', 'Identifier:credit_card', 'Identifier:self-harm/*', 'Identifier:a.b'] },
    { note: 'policy is a keyword but policyx is a word', text: 'policy policyx policy-id', want: ['Policy:policy', 'Identifier:policyx', 'Identifier:policy-id'] },
    { note: 'a trailing "-" or "/" is not part of a word', text: 'a- b', want: ['Identifier:a'] },
    { note: 'numbers keep their suffix', text: '200k 5M 1G 500ms 30s 5m 1h 7d 10% 0.5', want: ['NumberLiteral:200k', 'NumberLiteral:5M', 'NumberLiteral:1G', 'NumberLiteral:500ms', 'NumberLiteral:30s', 'NumberLiteral:5m', 'NumberLiteral:1h', 'NumberLiteral:7d', 'NumberLiteral:10%', 'NumberLiteral:0.5'] },
    { note: 'regexes may hold / inside a class and escaped', text: '/a\\/b[/]c/gi', want: ['Regex:/a\\/b[/]c/gi'] },
    { note: '// starts a comment, not an empty regex', text: 'a // b', want: ['Identifier:a'] },
    { note: 'strings with escapes', text: '"a\\"b" """x\ny"""', want: ['PlainString:"a\\"b"', 'TripleString:"""x\ny"""'] },
    { note: 'punctuation', text: '{ } , ;', want: ['LBrace:{', 'RBrace:}', 'Comma:,', 'Semicolon:;'] },
  ])('$note', ({ text, want }) => {
    expect(kinds(text).filter((k) => !k.startsWith('Newline') && k !== 'Identifier:b')).toEqual(want);
  });
});

describe('newline rule', () => {
  it.each([
    { note: 'a newline after a word ends the statement', text: 'a\nb', want: ['Identifier:a', 'Newline:⏎', 'Identifier:b'] },
    { note: 'a newline after a string, number, regex or "}" ends the statement', text: '"s"\n1\n/r/\n}\nx', want: ['PlainString:"s"', 'Newline:⏎', 'NumberLiteral:1', 'Newline:⏎', 'Regex:/r/', 'Newline:⏎', 'RBrace:}', 'Newline:⏎', 'Identifier:x'] },
    { note: 'a line ending in "," continues the list', text: 'a,\nb', want: ['Identifier:a', 'Comma:,', 'Identifier:b'] },
    { note: 'a newline after "{" or ";" is white space', text: '{\n a;\n b', want: ['LBrace:{', 'Identifier:a', 'Semicolon:;', 'Identifier:b'] },
    { note: 'blank lines give one separator', text: 'a\n\n\nb', want: ['Identifier:a', 'Newline:⏎', 'Identifier:b'] },
    { note: 'a comment does not hide the end of the line', text: 'a # c\nb', want: ['Identifier:a', 'Newline:⏎', 'Identifier:b'] },
    { note: 'a comment after "," keeps the list going', text: 'a, // c\nb', want: ['Identifier:a', 'Comma:,', 'Identifier:b'] },
    { note: 'CRLF and lone CR are newlines', text: 'a\r\nb\rc', want: ['Identifier:a', 'Newline:⏎', 'Identifier:b', 'Newline:⏎', 'Identifier:c'] },
  ])('$note', ({ text, want }) => {
    expect(kinds(text)).toEqual(want);
  });
});

describe('comments', () => {
  it('are kept in source order with their marker', () => {
    expect(lex('# one\na // two\n').comments.map((c) => c.image)).toEqual(['# one', '// two']);
  });
});

describe('lexical diagnostics', () => {
  it.each([
    { note: 'unexpected character', text: 'a @ b', code: 'POL0101', message: 'unexpected character "@"', col: 3 },
    { note: 'unterminated string', text: 'x "abc\n', code: 'POL0102', message: 'unterminated string', col: 3 },
    { note: 'unknown escape', text: '"a\\qb"', code: 'POL0103', message: 'unknown escape sequence "\\q"', col: 3 },
    { note: 'bad unicode escape', text: '"\\u{110000}"', code: 'POL0103', message: 'invalid unicode escape "\\u{110000}"', col: 2 },
    { note: 'unknown number suffix', text: 'x 200kb', code: 'POL0104', message: 'unknown number suffix "kb" in "200kb"', col: 6 },
    { note: 'unterminated regex', text: 'x /ab\n', code: 'POL0105', message: 'unterminated regex', col: 3 },
    { note: 'unterminated multi-line string', text: 'x """ab\ncd', code: 'POL0106', message: 'unterminated multi-line string', col: 3 },
    { note: 'number too large', text: 'x 99999999999G', code: 'POL0107', message: 'number "99999999999G" is too large', col: 3 },
    { note: 'single quotes', text: "x 'ab'", code: 'POL0108', message: 'strings use double quotes', col: 3 },
  ])('$note', ({ text, code, message, col }) => {
    const d = lex(text).diagnostics;
    expect(d.map((x) => [x.code, x.message, x.span.start.col])).toEqual([[code, message, col]]);
  });

  it('reports a run of unexpected characters once', () => {
    const d = lex('a @@@ b').diagnostics;
    expect(d).toHaveLength(1);
    expect(d[0]!.message).toBe('unexpected characters "@@@"');
    expect(d[0]!.span.end.col - d[0]!.span.start.col).toBe(3);
  });

  it('suggests a fix for a number glued to a word with a near suffix', () => {
    const d = lex('x 5K')!.diagnostics[0]!;
    expect(d.notes?.[0]).toBe('did you mean "5k"?');
  });
});
