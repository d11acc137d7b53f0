// Shared helpers for plugin compile steps: reading statement terms and reporting uniform diagnostics ("did you mean",
// "expected …"), so messages read the same everywhere; and the shared machinery a block compiles into: user regexes on
// the linear-time RE2 engine, globs, and the confinement check for files a policy names.
import type { Block, ScalarValue, Span, Statement, Value } from '../../grammar/ast.ts';
import type { CompileEnv } from './plugin.ts';

export { compileUserRegex, type UserRegex } from './regex.ts';
export { globMatch, hasWildcard } from './glob.ts';
export { isInside } from './confine.ts';

/** Edit distance (adjacent swaps count as one edit) and the closest plausible candidate: shared with the grammar. */
export { editDistance, closestWord as didYouMean } from '../../grammar/suggest.ts';
import { closestWord } from '../../grammar/suggest.ts';

/** Notes for an unknown name: a "did you mean" line when one fits, then the list of what is allowed. */
export function suggestNotes(word: string, candidates: readonly string[]): string[] {
  const s = closestWord(word, candidates);
  const notes: string[] = [];
  if (s) notes.push(`did you mean "${s}"?`);
  notes.push(`expected one of: ${candidates.map((c) => `"${c}"`).join(', ')}`);
  return notes;
}

/**
 * A term as a diagnostic names it: words and strings in double quotes (`"minut"`, `"x"`), `/x/i` for regexes,
 * numbers bare, lists item by item — so `unknown window "minut"` reads like `unknown detector "phone_number"`.
 */
export function describeValue(v: Value): string {
  switch (v.kind) {
    case 'String': return `"${v.value}"`;
    case 'Regex': return `/${v.source}/${v.flags}`;
    case 'Number': return v.raw;
    case 'Ident': return `"${v.name}"`;
    case 'List': return v.items.map(describeValue).join(', ');
  }
}

/** The identifier name of a term, or undefined if it is not a bare word. */
export function identName(v: Value | undefined): string | undefined {
  return v?.kind === 'Ident' ? v.name : undefined;
}

/** A term flattened to its scalar items (a List gives its items, a scalar gives itself). */
export function flattenTerm(v: Value): readonly ScalarValue[] {
  return v.kind === 'List' ? v.items : [v];
}

/** Reports an error diagnostic with the given code. */
export function reportError(env: Pick<CompileEnv, 'report'>, code: `POL${string}`, span: Span, message: string, notes?: string[]): void {
  env.report(notes && notes.length ? { code, severity: 'error', message, span, notes } : { code, severity: 'error', message, span });
}

/** Reports a warning diagnostic with the given code. */
export function reportWarning(env: Pick<CompileEnv, 'report'>, code: `POL${string}`, span: Span, message: string, notes?: string[]): void {
  env.report(notes && notes.length ? { code, severity: 'warning', message, span, notes } : { code, severity: 'warning', message, span });
}

/**
 * Splits a block's statements by their leading keyword. Statements whose first term is not a known keyword
 * are reported as POL0401 "unknown statement" with a did-you-mean note, and left out of the result.
 */
export function statementsByKeyword(block: Block, keywords: readonly string[], env: Pick<CompileEnv, 'report'>): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  for (const st of block.statements) {
    const first = st.terms[0];
    const kw = identName(first);
    if (kw === undefined || !keywords.includes(kw)) {
      const shown = first ? describeValue(first) : '""';
      reportError(env, 'POL0401', first?.span ?? st.span, `unknown statement ${shown} in ${block.name} block`, suggestNotes(kw ?? shown, keywords));
      continue;
    }
    let list = out.get(kw);
    if (!list) out.set(kw, (list = []));
    list.push(st);
  }
  return out;
}

/** `file:line` of a span, the form audit records and verdicts use to name a rule. */
export function ruleRef(span: Span): string {
  return `${span.file}:${span.start.line}`;
}
