// The policy language as plugins see it: the AST node types of the blocks they compile and the diagnostics they
// report, re-exported from grammar/ (plugins never import the grammar directly), and the parser for their own tools.
export type {
  Block, IdentValue, ListValue, NumberValue, Pos, RegexValue, ScalarValue, Span, Statement, StringValue, Value,
} from '../../grammar/ast.ts';
export type { Diagnostic } from '../../grammar/diagnostics.ts';
/** Parses policy text into the AST (a plugin's own tools and tests compile a block from text with it). */
export { parsePolicy } from '../../grammar/index.ts';
