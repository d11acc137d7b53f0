// Full case folding against the Unicode data: every code point that CaseFolding.txt (status C + F) folds normalises
// to the same words as its folding (test/fixtures/topics/casefold.txt, generated from the Unicode data; SOURCES.md).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeText } from '../../../src/text/normalize.ts';

const rows = readFileSync(new URL('../../fixtures/topics/casefold.txt', import.meta.url), 'utf8')
  .split('\n').filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [code, folded] = l.split(';').map((x) => x.trim());
    return { code: String.fromCodePoint(parseInt(code!, 16)), folded: String.fromCodePoint(...folded!.split(' ').map((h) => parseInt(h, 16))) };
  });

describe('case folding (CaseFolding.txt C + F)', () => {
  it('has the whole table', () => {
    expect(rows.length).toBeGreaterThan(1400);
  });

  it('every folding character normalises like its folded form (combining marks alone excepted)', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { code, folded } of rows) {
      const a = normalizeText(code);
      if (a === '') continue; // a lone combining mark (U+0345) is dropped like every mark
      checked++;
      if (a !== normalizeText(folded)) wrong.push(`${code} U+${code.codePointAt(0)!.toString(16)}: ${a} ≠ ${normalizeText(folded)}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(1400);
  });

  it('Greek final sigma folds like sigma, in words too', () => {
    expect(normalizeText('ΟΔΟΣ')).toBe(normalizeText('οδος'));
    expect(normalizeText('ΣΟΦΟΣ λόγος')).toBe(normalizeText('σοφος λογοσ'));
  });
});
