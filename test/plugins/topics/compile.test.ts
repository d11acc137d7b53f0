// Compile checks of the `topics` block on real .policy text: every diagnostic code POL0420–POL0429 with its position,
// list files (comments, blank lines, duplicates, unreadable), regex entries (RE2, flags) and the compiled shape.
import { describe, expect, it } from 'vitest';
import { topicsPlugin, type TopicsConfig } from '../../../plugins/topics/index.ts';
import { compileClean, compileWith } from './policy.ts';

const wrap = (lines: string[]): string => `  topics {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`;

interface Case { note: string; lines: string[]; files?: Record<string, string>; want: string[]; notes?: string[] }

// Statement lines start at line 3 (line 1 is `policy …`, line 2 `topics {`), column 5.
const cases: Case[] = [
  { note: 'the example of the issue compiles cleanly', lines: ['allow "refund policy", "shipping"', 'deny "competitor pricing", /wire\\s+transfer/i'], want: [] },
  { note: 'an empty phrase is an error', lines: ['allow "refund", ""'], want: ['POL0420 error 3:21 empty phrase'] },
  { note: 'a blank phrase is an error', lines: ['deny "   "'], want: ['POL0420 error 3:10 empty phrase'] },
  { note: 'a phrase that normalises to nothing is an error', lines: ['deny "!!!"', 'deny "\\u{200B}"'],
    want: ['POL0422 error 3:10 phrase "!!!" has no letters or digits', 'POL0422 error 4:10 phrase "\u200B" has no letters or digits'] },
  { note: 'a duplicate phrase is a warning naming the first', lines: ['allow "shipping"', 'allow "Shipping!"'],
    want: ['POL0421 warning 4:11 duplicate allow phrase "Shipping!"'], notes: ['first given at rules/test.policy:3 (both normalise to "shipping")'] },
  { note: 'the same phrase on both lists is a warning', lines: ['allow "refunds"', 'deny "REFUNDS"'],
    want: ['POL0424 warning 4:10 phrase "REFUNDS" is on both the allow and the deny list'] },
  { note: 'an identifier instead of a phrase is an error with a quoting hint', lines: ['deny competitor'],
    want: ['POL0423 error 3:10 expected a phrase or a regex, found the bare word "competitor"'], notes: ['quote phrases: deny "competitor"'] },
  { note: 'a number instead of a phrase is an error', lines: ['deny 42'], want: ['POL0423 error 3:10 expected a phrase or a regex, found 42'] },
  { note: '"deny" without phrases is an error', lines: ['deny'], want: ['POL0423 error 3:5 "deny" needs phrases'] },
  { note: 'terms after the phrase list are an error', lines: ['deny "a" "b"'], want: ['POL0423 error 3:14 unexpected "b" after the deny phrases'] },
  { note: '"list" needs one path', lines: ['deny list'], want: ['POL0423 error 3:10 "deny list" takes one file path'] },
  { note: 'an unreadable list file reports POL0310 once', lines: ['deny list "missing.txt"'], want: ['POL0310 error 3:15 cannot read file "missing.txt": no such file'] },
  { note: 'an empty list file is a warning', lines: ['deny list "empty.txt"'], files: { 'empty.txt': '# nothing yet\n\n' },
    want: ['POL0428 warning 3:15 list file "empty.txt" has no phrases', 'POL0429 warning 2:3 topics block has no allow or deny entries'] },
  { note: 'list file problems name the list file line', lines: ['deny list "l.txt"'], files: { 'l.txt': 'acme\n\n# c\n???\nACME\n' },
    want: ['POL0422 error 3:15 the phrase has no letters or digits (l.txt:4)', 'POL0421 warning 3:15 duplicate deny phrase (l.txt:5)'] },
  { note: 'an invalid regex is an error (RE2)', lines: ['deny /(a)\\1/'], want: ['POL0320 error 3:10 invalid regex /(a)\\1/: error parsing regexp: invalid escape sequence: `\\1`'] },
  { note: 'an unknown regex flag is an error', lines: ['deny /wire/x'], want: ['POL0321 error 3:10 unknown regex flag "x"'] },
  { note: 'a regex with upper-case letters and no "i" flag is a warning', lines: ['deny /Wire\\s+Transfer/'],
    want: ['POL0426 warning 3:10 regex /Wire\\s+Transfer/ has upper-case letters but runs on lower-cased text'] },
  { note: 'an escape like \\S is not an upper-case letter', lines: ['deny /wire\\S+/'], want: [] },
  { note: 'an unknown scan mode gets a did-you-mean', lines: ['allow "a"', 'scan last_usr'],
    want: ['POL0425 error 4:10 unknown scan mode "last_usr"'], notes: ['did you mean "last_user"?'] },
  { note: 'a duplicate scan statement is an error', lines: ['allow "a"', 'scan all', 'scan user'], want: ['POL0425 error 5:5 duplicate "scan" statement'] },
  { note: 'an unknown statement gets a did-you-mean (shared POL0401)', lines: ['alow "a"', 'deny "b"'],
    want: ['POL0401 error 3:5 unknown statement "alow" in topics block'], notes: ['did you mean "allow"?'] },
  { note: 'a body after allow is an error', lines: ['allow "a" { x }'], want: ['POL0427 error 3:5 "allow" takes no "{ … }" body'] },
  { note: 'a block without entries is a warning and turns the plugin off', lines: ['scan all'], want: ['POL0429 warning 2:3 topics block has no allow or deny entries'] },
];

describe('topics block compile', () => {
  it.each(cases)('$note', ({ lines, files, want, notes }) => {
    const r = compileWith(topicsPlugin, wrap(lines), files);
    expect(r.short).toEqual(want);
    if (notes) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toEqual(expect.arrayContaining(notes));
  });

  it('reports a qualifier on the block', () => {
    const r = compileWith(topicsPlugin, '  topics extra { allow "a" }');
    expect(r.short).toEqual(['POL0427 error 2:10 the topics block takes no qualifier, found "extra"']);
  });

  it('compiles entries in configuration order, with rules and the scan mode', () => {
    const c: TopicsConfig = compileClean(topicsPlugin, wrap([
      'allow "refund policy", "shipping"',
      'deny "competitor pricing", /wire\\s+transfer/i',
      'deny list "lists/competitors.txt"',
      'scan last_user',
    ]), { 'lists/competitors.txt': '# competitors\nAcme Corp\n\nGlobex\n' });
    expect(c.matcher.entries.map((e) => `${e.kind}:${e.text}@${e.rule}`)).toEqual([
      'allow:refund policy@rules/test.policy:3', 'allow:shipping@rules/test.policy:3',
      'deny:competitor pricing@rules/test.policy:4', 'deny:/wire\\s+transfer/i@rules/test.policy:4',
      'deny:Acme Corp@rules/test.policy:5', 'deny:Globex@rules/test.policy:5',
    ]);
    expect(c).toMatchObject({ allowlistConfigured: true, scan: 'last_user', scanRule: 'rules/test.policy:6', phraseCount: 5, regexCount: 1 });
    expect(Object.isFrozen(c)).toBe(true);
    // refund policy shipping competitor pricing acme corp globex, and the plural forms of each phrase's last word:
    // policies shippings pricings corps globexes
    expect(c.matcher.automaton!.vocabularySize).toBe(13);
    expect(c.scope).toBe('latest');
  });

  it('a deny-only block has no allowlist', () => {
    const c = compileClean(topicsPlugin, wrap(['deny "x"']));
    expect(c.allowlistConfigured).toBe(false);
    expect(c.scan).toBe('user');
    expect(c.scanRule).toBeNull();
  });

  it('plural forms of the last word, unless the statement says exact', () => {
    const c = compileClean(topicsPlugin, wrap(['deny "competitor", "gift box", "company", "photo"', 'deny exact "Apple"', 'allow exact list "a.txt"']), { 'a.txt': 'refund\n' });
    const hit = (t: string): string[] => { const h = c.matcher.matchText(t); return [...h.allow, ...h.deny].map((e) => c.matcher.entries[e]!.text); };
    expect(hit('our competitors')).toEqual(['competitor']);
    expect(hit('three gift boxes')).toEqual(['gift box']);
    expect(hit('two companies')).toEqual(['company']);
    expect(hit('photos and photoes')).toEqual(['photo']);
    expect(hit('apples')).toEqual([]);
    expect(hit("Apple's phones")).toEqual(['Apple']);
    expect(hit('refunds')).toEqual([]);
    expect(hit('refund')).toEqual(['refund']);
    expect(hit('gift boxs companys')).toEqual([]);
  });

  it('scope: latest (default) or conversation; unknown values are POL0425', () => {
    expect(compileClean(topicsPlugin, wrap(['deny "x"', 'scope conversation'])).scope).toBe('conversation');
    expect(compileWith(topicsPlugin, wrap(['deny "x"', 'scope lates'])).short).toEqual([
      'POL0425 error 4:11 unknown scope "lates"']);
  });

  it('caps duplicate warnings per list file and sums up the rest', () => {
    const list = Array.from({ length: 12 }, () => 'same phrase').join('\n');
    const r = compileWith(topicsPlugin, wrap(['deny list "d.txt"']), { 'd.txt': list });
    expect(r.short.filter((s) => s.startsWith('POL0421'))).toHaveLength(6);
    expect(r.short.at(-1)).toBe('POL0421 warning 3:15 6 more duplicate phrases in "d.txt"');
    expect(r.config!.phraseCount).toBe(1);
  });

  it('compiles 100,000 list phrases', () => {
    // letters only: with digits, leet folding would make "a0" and "ao" the same phrase
    const id = (i: number): string => { let s = ''; do { s += String.fromCharCode(97 + (i % 26)); i = Math.floor(i / 26); } while (i > 0); return s; };
    const phrases = Array.from({ length: 100_000 }, (_, i) => `phrase number ${id(i)}`);
    const c = compileClean(topicsPlugin, wrap(['deny list "big.txt"']), { 'big.txt': phrases.join('\n') });
    expect(c.phraseCount).toBe(100_000);
    expect(c.matcher.matchText(`say ${phrases[77_777]} now`).deny.map((e) => c.matcher.entries[e]!.text)).toEqual([phrases[77_777]]);
  });
});
