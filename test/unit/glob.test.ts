// Glob matching (`*`, `?`) for categories and rollout targets, checked against a regex reference on random
// inputs, plus the category family rule (`self-harm/*` covers `self-harm`).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { globMatch } from '../../src/sdk/glob.ts';
import { categoryGlobMatch, expandCategoryGlob } from '../../src/sdk/taxonomy.ts';

/** Reference semantics: the glob as an anchored regex (test-only; the matcher itself builds no regex). */
function reference(pattern: string, text: string): boolean {
  const src = [...pattern].map((ch) => (ch === '*' ? '[\\s\\S]*' : ch === '?' ? '[\\s\\S]' : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))).join('');
  return new RegExp(`^${src}$`).test(text);
}

describe('globMatch', () => {
  it.each([
    { note: 'exact match', p: 'support-bot', t: 'support-bot', want: true },
    { note: 'exact mismatch', p: 'support-bot', t: 'support-bots', want: false },
    { note: 'prefix star', p: 'beta-*', t: 'beta-eu', want: true },
    { note: 'star matches empty', p: 'beta-*', t: 'beta-', want: true },
    { note: 'star crosses slashes', p: 'a*z', t: 'a/b/z', want: true },
    { note: 'question mark is one character', p: 'bot-?', t: 'bot-1', want: true },
    { note: 'question mark is not zero characters', p: 'bot-?', t: 'bot-', want: false },
    { note: 'several stars with backtracking', p: '*a*b*c', t: 'xxaxxbxxbxc', want: true },
    { note: 'catch-all', p: '*', t: '', want: true },
  ])('$note', ({ p, t, want }) => {
    expect(globMatch(p, t)).toBe(want);
  });

  it('agrees with the regex reference on random patterns and texts', () => {
    const alpha = fc.constantFrom('a', 'b', '-', '/', '*', '?');
    const text = fc.constantFrom('a', 'b', '-', '/');
    fc.assert(fc.property(fc.array(alpha, { maxLength: 8 }), fc.array(text, { maxLength: 10 }), (p, t) => {
      const ps = p.join('');
      const ts = t.join('');
      return globMatch(ps, ts) === reference(ps, ts);
    }), { numRuns: 3000 });
  });
});

describe('category globs', () => {
  it.each([
    { note: 'family glob covers its parent', g: 'self-harm/*', c: 'self-harm', want: true },
    { note: 'family glob covers children', g: 'self-harm/*', c: 'self-harm/intent', want: true },
    { note: 'family glob does not cover a sibling family', g: 'self-harm/*', c: 'sexual', want: false },
    { note: 'an exact category covers only itself', g: 'violence', c: 'violence/graphic', want: false },
  ])('$note', ({ g, c, want }) => {
    expect(categoryGlobMatch(g, c)).toBe(want);
  });

  it('expands globs to taxonomy categories', () => {
    expect(expandCategoryGlob('self-harm/*')).toEqual(['self-harm', 'self-harm/instructions', 'self-harm/intent']);
    expect(expandCategoryGlob('*/threatening')).toEqual(['harassment/threatening', 'hate/threatening']);
    expect(expandCategoryGlob('nope/*')).toEqual([]);
  });
});
