// Generated files stay in sync with the grammar: grammar/cst.d.ts (npm run gen:cst) and the syntax diagrams
// docs/diagrams/policy-syntax.html (npm run docs:diagrams).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cstDtsText, syntaxDiagramsHtml } from '../../grammar/generated.ts';

const read = (rel: string) => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');

describe('generated files', () => {
  it('grammar/cst.d.ts matches the parser (regenerate with npm run gen:cst)', () => {
    const text = cstDtsText();
    expect(text).toContain('export interface PolicyFileCstNode extends CstNode');
    expect(read('grammar/cst.d.ts')).toBe(text);
  });

  it('docs/diagrams/policy-syntax.html matches the parser (regenerate with npm run docs:diagrams)', () => {
    const html = syntaxDiagramsHtml();
    for (const rule of ['policyFile', 'policyDecl', 'body', 'statement', 'term', 'scalar']) expect(html).toContain(`"name": "${rule}"`);
    expect(read('docs/diagrams/policy-syntax.html')).toBe(html);
  });
});
