// Public API of the grammar: parse a .policy file into an AST with diagnostics, format it, render diagnostics.
// Callers never see tokens or CST nodes. Pipeline: lexer.ts → parser.ts → ast-builder.ts (format.ts to print).
export type * from './ast.ts';
export type { Diagnostic } from './diagnostics.ts';
export {
  compareDiagnostics, finalizeDiagnostics, MAX_ERRORS, renderDiagnostic, renderDiagnostics, summarizeDiagnostics,
} from './diagnostics.ts';
export { parsePolicy, type ParseOptions, type ParseResult } from './parse-policy.ts';
export { formatPolicy, PolicyFormatError, tryFormatPolicy, type FormatOptions } from './format.ts';
export { SourceText, formatLocation } from './source.ts';
export { NUMBER_SUFFIXES } from './literals.ts';
