// Rendering, ordering and limiting of diagnostics (STYLE §4 format).
import { describe, expect, it } from 'vitest';
import { compareDiagnostics, type Diagnostic, finalizeDiagnostics, renderDiagnostic, renderDiagnostics, summarizeDiagnostics } from '../../grammar/diagnostics.ts';
import { SourceText } from '../../grammar/source.ts';

function diag(text: string, from: number, to: number, extra: Partial<Diagnostic> = {}): Diagnostic {
  return { code: 'POL0302', severity: 'error', message: 'unknown unit "tokns"', span: new SourceText(text, 'rules/quota.policy').span(from, to), ...extra };
}

describe('renderDiagnostic', () => {
  it('renders the STYLE example exactly', () => {
    const text = '\n'.repeat(11) + '  limit 1000 tokns per minute\n';
    const at = text.indexOf('tokns');
    const d = diag(text, at, at + 5, { notes: ['expected one of: "tokens", "requests"'] });
    expect(renderDiagnostic(d, text)).toBe([
      'rules/quota.policy:12:14: error[POL0302]: unknown unit "tokns"',
      '   |',
      '12 |   limit 1000 tokns per minute',
      '   |              ^^^^^',
      '   = note: expected one of: "tokens", "requests"',
    ].join('\n'));
  });

  it.each([
    { note: 'an empty span gets one caret', text: 'abc def', from: 4, to: 4, want: '  |     ^' },
    { note: 'a span past the end of the line is clamped to one caret after it', text: 'abc\nxyz', from: 3, to: 6, want: '  |    ^' },
    { note: 'a multi-line span is cut at the end of its first line', text: 'ab cd\nef', from: 3, to: 8, want: '  |    ^^' },
    { note: 'tabs expand the same in the excerpt and before the caret', text: '\tx\ty', from: 3, to: 4, want: '  |          ^' },
    { note: 'a tab inside the span widens the caret', text: 'a\tb', from: 0, to: 3, want: '  | ^^^^^^' },
  ])('$note', ({ text, from, to, want }) => {
    const lines = renderDiagnostic(diag(text, from, to), text).split('\n');
    expect(lines[3]).toBe(want);
  });

  it('expands tabs in the excerpt', () => {
    const lines = renderDiagnostic(diag('\tx\ty', 3, 4), '\tx\ty').split('\n');
    expect(lines[2]).toBe('1 |     x    y');
  });

  it('prints only the header and notes without source text', () => {
    const d = diag('abc', 0, 1, { severity: 'warning', notes: ['n'] });
    expect(renderDiagnostic(d)).toBe('rules/quota.policy:1:1: warning[POL0302]: unknown unit "tokns"\n  = note: n');
  });

  it('renders several diagnostics separated by blank lines, each with its own file', () => {
    const a: Diagnostic = { ...diag('x', 0, 1), span: new SourceText('aaa', 'a.policy').span(0, 1) };
    const b: Diagnostic = { ...diag('x', 0, 1), span: new SourceText('bbb', 'b.policy').span(1, 2) };
    const out = renderDiagnostics([a, b], new Map([['a.policy', 'aaa'], ['b.policy', 'bbb']]));
    expect(out).toBe([
      'a.policy:1:1: error[POL0302]: unknown unit "tokns"', '  |', '1 | aaa', '  | ^', '',
      'b.policy:1:2: error[POL0302]: unknown unit "tokns"', '  |', '1 | bbb', '  |  ^', '',
    ].join('\n'));
  });
});

describe('ordering and limits', () => {
  const at = (file: string, line: number, col: number, message = 'm', severity: 'error' | 'warning' = 'error'): Diagnostic => ({
    code: 'POL0301', severity, message, span: { file, start: { line, col, offset: 0 }, end: { line, col, offset: 0 } },
  });

  it('sorts by file, line, column, then message', () => {
    const list = [at('b', 1, 1), at('a', 2, 1), at('a', 1, 5, 'z'), at('a', 1, 5, 'b'), at('a', 1, 2)];
    expect(list.sort(compareDiagnostics).map((d) => `${d.span.file}:${d.span.start.line}:${d.span.start.col}:${d.message}`))
      .toEqual(['a:1:2:m', 'a:1:5:b', 'a:1:5:z', 'a:2:1:m', 'b:1:1:m']);
  });

  it('drops exact duplicates', () => {
    expect(finalizeDiagnostics([at('a', 1, 1), at('a', 1, 1)])).toHaveLength(1);
  });

  it('keeps 20 errors and summarises the rest with POL0001, keeping warnings before the cut', () => {
    const list = [at('a', 1, 1, 'w', 'warning'), ...Array.from({ length: 25 }, (_, i) => at('a', i + 2, 1))];
    const out = finalizeDiagnostics(list);
    expect(out).toHaveLength(22);
    expect(out[0]!.severity).toBe('warning');
    expect(out[21]).toMatchObject({ code: 'POL0001', notes: ['5 more errors not shown; fix the ones above and run again'] });
    expect(out[21]!.span.start.line).toBe(22);
  });

  it('summarises counts', () => {
    expect(summarizeDiagnostics([at('a', 1, 1), at('a', 1, 2), at('a', 1, 3, 'm', 'warning')])).toBe('2 errors, 1 warning');
    expect(summarizeDiagnostics([])).toBe('no problems');
  });
});
