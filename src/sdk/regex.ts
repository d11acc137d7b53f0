// User regexes from .policy files: compiled once at load time onto RE2 (linear time, cannot hang the
// process), with their longest possible match computed for the streaming redactor's hold-back window.
import { RE2JS } from 're2js';
import { RegExpParser } from '@chevrotain/regexp-to-ast';
import type { RegexValue } from '../../grammar/ast.ts';
import type { CompileEnv } from './plugin.ts';

/** A compiled user regex. Matching is linear in the input length whatever the pattern. */
export interface UserRegex {
  readonly source: string;
  readonly flags: string;
  /** Longest possible match in UTF-16 code units; Infinity when unbounded (`+`, `*`, `{n,}`). */
  readonly maxLength: number;
  /** True when the pattern matches somewhere in `text`. */
  test(text: string): boolean;
  /** Calls `onMatch(start, end)` for each non-overlapping, non-empty match, left to right. */
  forEachMatch(text: string, onMatch: (start: number, end: number) => void): void;
}

const ALLOWED_FLAGS = new Set(['i', 'm', 's', 'u', 'g']);
const parser = new RegExpParser();

interface ReNode {
  type: string;
  value?: unknown;
  quantifier?: { atLeast: number; atMost: number };
  complement?: boolean;
}

/** Longest match (UTF-16 units) of a regexp-to-ast node; astral-capable atoms count 2. */
function maxLen(node: ReNode): number {
  let base: number;
  switch (node.type) {
    case 'Pattern': return maxLen(node.value as ReNode);
    case 'Disjunction': {
      base = 0;
      for (const alt of node.value as ReNode[]) base = Math.max(base, maxLen(alt));
      return base;
    }
    case 'Alternative': {
      base = 0;
      for (const term of node.value as ReNode[]) base += maxLen(term);
      return base;
    }
    case 'Character': base = (node.value as number) > 0xffff ? 2 : 1; break;
    case 'Set': base = node.complement ? 2 : ((node.value as unknown[]).some((v) => typeof v === 'object' || (v as number) > 0xffff) ? 2 : 1); break;
    case 'Group': base = maxLen(node.value as ReNode); break;
    case 'GroupBackReference': base = Infinity; break;
    default: base = 0; // anchors, boundaries, lookarounds consume nothing
  }
  const q = node.quantifier;
  if (!q) return base;
  if (base === 0) return 0;
  return q.atMost === Infinity ? Infinity : base * q.atMost;
}

/** Longest possible match of `/source/flags` in UTF-16 units (Infinity if unbounded), or an error text. */
export function regexMaxLength(source: string, flags: string): number | { error: string } {
  try {
    const ast = parser.pattern(`/${source}/${flags.replace(/[^gimsuy]/g, '')}`) as unknown as ReNode;
    return maxLen(ast);
  } catch (e) {
    return { error: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
}

/**
 * The first construct of `source` that RE2 lacks by design — a backreference (`\1`, `\k<name>`) or lookaround
 * (`(?=`, `(?!`, `(?<=`, `(?<!`) outside a character class — described for a note, or undefined when there is none
 * (a plain syntax error such as a missing `)` gets no note about them).
 */
export function unsupportedFeature(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!inClass && n >= '1' && n <= '9') return `the backreference "\\${/^\d+/.exec(source.slice(i + 1))![0]}"`;
      if (!inClass && n === 'k' && source[i + 2] === '<') return `the named backreference "${/^\\k<[^>]*>?/.exec(source.slice(i))![0]}"`;
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && source[i + 1] === '?') {
      const look = /^\(\?(=|!|<=|<!)/.exec(source.slice(i));
      if (look) return `the ${look[1]!.startsWith('<') ? 'lookbehind' : 'lookahead'} "${look[0]}…)"`;
    }
  }
  return undefined;
}

/**
 * Compiles a regex literal from a policy onto the linear-time engine. Reports POL0320 (invalid or
 * unsupported by the linear-time engine, e.g. backreferences or lookaround) or POL0321 (unknown flag)
 * and returns undefined on failure. Never throws.
 */
export function compileUserRegex(re: RegexValue, env: Pick<CompileEnv, 'report'>): UserRegex | undefined {
  for (const f of re.flags) {
    if (!ALLOWED_FLAGS.has(f)) {
      env.report({ code: 'POL0321', severity: 'error', message: `unknown regex flag "${f}"`, span: re.span,
        notes: ['allowed flags: "i" (ignore case), "m" (multi-line), "s" (dot matches newline), "u" (unicode)'] });
      return undefined;
    }
  }
  let flags = 0;
  if (re.flags.includes('i')) flags |= RE2JS.CASE_INSENSITIVE;
  if (re.flags.includes('m')) flags |= RE2JS.MULTILINE;
  if (re.flags.includes('s')) flags |= RE2JS.DOTALL;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(re.source, flags);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    const feature = unsupportedFeature(re.source);
    env.report(feature === undefined
      ? { code: 'POL0320', severity: 'error', message: `invalid regex /${re.source}/: ${why}`, span: re.span }
      : { code: 'POL0320', severity: 'error', message: `invalid regex /${re.source}/: ${why}`, span: re.span,
        notes: [`${feature} is not supported: user regexes run on a linear-time (RE2) engine`] });
    return undefined;
  }
  const len = regexMaxLength(re.source, re.flags);
  const maxLength = typeof len === 'number' ? len : Infinity;
  return Object.freeze({
    source: re.source,
    flags: re.flags,
    maxLength,
    test: (text: string) => compiled.matcher(text).find(),
    forEachMatch(text: string, onMatch: (start: number, end: number) => void): void {
      const m = compiled.matcher(text);
      while (m.find()) {
        const s = m.start();
        const e = m.end();
        if (e > s) onMatch(s, e);
      }
    },
  });
}
