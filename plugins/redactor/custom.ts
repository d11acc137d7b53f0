// Custom `pattern /…/ as "[LABEL]"` detectors: the policy's regex, checked by compileUserRegex (RE2, linear time,
// bounded length required) and run through an RE2 matcher that can search from any position with left context.
import { RE2JS } from 're2js';
import { RegExpParser } from '@chevrotain/regexp-to-ast';
import type { UserRegex } from '../../src/sdk/block-helpers.ts';
import type { Detector } from './detectors.ts';

interface ReNode {
  type: string;
  value?: unknown;
  complement?: boolean;
  quantifier?: { atMost: number };
}

/**
 * Upper bound of a policy regex's longest match in UTF-16 code units as RE2 runs it: RE2 matches code points, so
 * any atom that can match a character above U+FFFF (a negated class, `.`, `\D`, a surrogate or a range reaching
 * U+D800 and above) counts 2, the rest 1. Returns Infinity for unbounded patterns, undefined when it does not parse.
 */
export function userRegexMaxLength(source: string, flags: string): number | undefined {
  // Parsed without the unicode flag: an astral literal is two surrogate atoms there, so every surrogate code unit
  // counts 2 (RE2 matches code points; this over-estimates such patterns, never under-estimates them).
  let ast: ReNode;
  try {
    ast = new RegExpParser().pattern(`/${source}/${flags.replace(/[^gimsy]/g, '')}`) as unknown as ReNode;
  } catch {
    return undefined;
  }
  const walk = (n: ReNode): number => {
    let base: number;
    switch (n.type) {
      case 'Pattern': case 'Group': base = walk(n.value as ReNode); break;
      case 'Disjunction': base = Math.max(0, ...(n.value as ReNode[]).map(walk)); break;
      case 'Alternative': base = (n.value as ReNode[]).reduce((t, x) => t + walk(x), 0); break;
      case 'Character': {
        const v = n.value as number;
        base = v >= 0xd800 ? 2 : 1;
        break;
      }
      case 'Set': {
        const items = n.value as (number | { from: number; to: number })[];
        base = n.complement || items.some((v) => (typeof v === 'number' ? v : v.to) >= 0xd800) ? 2 : 1;
        break;
      }
      case 'GroupBackReference': base = Infinity; break;
      default: base = 0;
    }
    if (!n.quantifier) return base;
    if (base === 0) return 0;
    return n.quantifier.atMost === Infinity ? Infinity : base * n.quantifier.atMost;
  };
  return walk(ast);
}

/** RE2 flags for a policy regex's flags (the same mapping compileUserRegex uses). */
function re2Flags(flags: string): number {
  let f = 0;
  if (flags.includes('i')) f |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) f |= RE2JS.MULTILINE;
  if (flags.includes('s')) f |= RE2JS.DOTALL;
  return f;
}

/**
 * A detector for a custom pattern that compileUserRegex accepted with a finite `maxLength`.
 * `type` is the metric/audit name (the label without brackets), `label` the replacement text.
 */
export function customDetector(re: UserRegex, label: string, type: string): Detector {
  const compiled = RE2JS.compile(re.source, re2Flags(re.flags));
  const mine = userRegexMaxLength(re.source, re.flags);
  // our own measure when it parses (src/sdk/regex.ts under-counts quantified astral literals and over-counts
  // ASCII ranges); otherwise the contract's
  const max = mine !== undefined && Number.isFinite(mine) ? mine : re.maxLength;
  // one matcher per text: find(from) resets it, so repeated searches over the same buffer allocate nothing
  let lastText: string | null = null;
  let matcher: ReturnType<RE2JS['matcher']> | null = null;
  return Object.freeze({
    name: type,
    label,
    tokenName: type,
    triggerMax: max,
    lookahead: 1,  // \b and $ read one character past the match
    lookbehind: 1, // \b and ^ (multi-line) read one character before it
    maxCut: 0,
    maxLength: max,
    find(text: string, from: number, m: { start: number; end: number }): boolean {
      if (text !== lastText || matcher === null) { matcher = compiled.matcher(text); lastText = text; }
      for (let pos = from; pos <= text.length; ) {
        if (!matcher.find(pos)) return false;
        const s = matcher.start();
        const e = matcher.end();
        if (e > s) { m.start = s; m.end = e; return true; }
        pos = s + 1; // skip empty matches
      }
      return false;
    },
  });
}
