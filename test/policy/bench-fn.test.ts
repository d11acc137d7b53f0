// The load-time benchmark function (bench/policy-compile.ts) works with any plugin set; timings are only
// reported by `npm run bench`, never asserted here.
import { describe, expect, it } from 'vitest';
import { benchPolicyCompile, generateBenchPolicy } from '../../bench/policy-compile.ts';
import { parsePolicy } from '../../grammar/index.ts';
import { phrasePlugin } from './test-plugins.ts';

describe('benchPolicyCompile', () => {
  it('generates a clean policy with the asked number of phrases and rules', () => {
    const r = parsePolicy(generateBenchPolicy(30, 7), 'bench.policy');
    expect(r.diagnostics).toEqual([]);
    const [topics, respond] = r.ast.policies[0]!.blocks;
    expect(topics!.statements[0]!.terms[1]).toMatchObject({ kind: 'List' });
    expect(topics!.statements[0]!.terms[1]!.kind === 'List' && topics!.statements[0]!.terms[1]!.items.length).toBe(30);
    expect(respond!.statements).toHaveLength(8);
  });

  it('measures with plugins that own only some of the blocks', async () => {
    const r = await benchPolicyCompile([phrasePlugin], { phrases: 40, rules: 4, runs: 1 });
    expect(r).toMatchObject({ phrases: 40, rules: 4, errors: 0, warnings: 0, unownedBlocks: ['respond'] });
    expect(r.totalMs).toBe(r.parseMs + r.checkMs + r.compileMs);
  });
});
