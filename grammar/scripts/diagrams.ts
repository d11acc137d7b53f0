// Writes docs/diagrams/policy-syntax.html: railroad diagrams of every grammar rule (Chevrotain's
// createSyntaxDiagramsCode). Run: npm run docs:diagrams   (test/grammar/generated.test.ts fails on drift)
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { syntaxDiagramsHtml } from '../generated.ts';

const out = fileURLToPath(new URL('../../docs/diagrams/policy-syntax.html', import.meta.url));
mkdirSync(fileURLToPath(new URL('../../docs/diagrams/', import.meta.url)), { recursive: true });
writeFileSync(out, syntaxDiagramsHtml());
console.log(`wrote ${out}`);
