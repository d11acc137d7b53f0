// Writes grammar/cst.d.ts (CST node types for the AST builder) from the parser's grammar.
// Run: node grammar/scripts/gen-cst-dts.ts   (test/grammar/generated.test.ts fails when the file drifts)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cstDtsText } from '../generated.ts';

const out = fileURLToPath(new URL('../cst.d.ts', import.meta.url));
writeFileSync(out, cstDtsText());
console.log(`wrote ${out}`);
