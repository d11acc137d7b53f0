// Formatter goldens: test/golden/format/x.policy → x.policy.formatted, plus the formatter's contract on each:
// the output parses cleanly, formatting it again changes nothing, and the meaning and comments are kept.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatPolicy, parsePolicy } from '../../grammar/index.ts';
import { stripSpans } from '../grammar/helpers.ts';

const dir = fileURLToPath(new URL('./format/', import.meta.url));
const inputs = readdirSync(dir).filter((f) => f.endsWith('.policy')).sort();

describe('formatter goldens', () => {
  it('has inputs', () => {
    expect(inputs.length).toBeGreaterThanOrEqual(3);
  });

  it.each(inputs)('%s', async (name) => {
    const src = readFileSync(dir + name, 'utf8');
    const out = formatPolicy(src, { file: name });
    await expect(out).toMatchFileSnapshot(`./format/${name}.formatted`);
    const again = parsePolicy(out, name);
    expect(again.diagnostics).toEqual([]);
    expect(formatPolicy(out, { file: name })).toBe(out);
    const before = parsePolicy(src, name).ast;
    expect(stripSpans(again.ast, true)).toEqual(stripSpans(before, true));
    expect(again.ast.comments.map((c) => c.text.trimEnd())).toEqual(before.comments.map((c) => c.text.trimEnd()));
  });
});
