// Compile checks of the `audit` block on real .policy text: the defaults without a block (the auditor is always
// on), tags and the prompt opt-in, and every diagnostic code POL0490–POL0497 with its position and notes.
import { describe, expect, it } from 'vitest';
import { compileAuditText } from './helpers.ts';

describe('compiled audit config', () => {
  it('a policy without an audit block still gets a config: no tags, prompts off', () => {
    const { config, diagnostics } = compileAuditText('  description "x"');
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({ policyId: 'p', tags: [], prompts: false, replay: false });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config!.tags)).toBe(true);
  });

  it('reads tags in file order across statements and the prompt opt-in', () => {
    const { config, diagnostics } = compileAuditText('  audit {\n    tag "team:support", "tier:gold"  # two tags\n    tag "env:prod"\n    prompts on\n  }');
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({ policyId: 'p', tags: ['team:support', 'tier:gold', 'env:prod'], prompts: true, replay: false });
  });

  it('reads the replay opt-in, apart from prompts', () => {
    const { config, diagnostics } = compileAuditText('  audit {\n    replay on\n  }');
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({ policyId: 'p', tags: [], prompts: false, replay: true });
    expect(compileAuditText('  audit { replay off; prompts on }').config).toMatchObject({ prompts: true, replay: false });
  });

  it('prompts off is the explicit default', () => {
    expect(compileAuditText('  audit { prompts off }').config?.prompts).toBe(false);
  });
});

describe('diagnostics', () => {
  // The block starts on line 2; its first statement is on line 3 at column 5.
  const wrap = (lines: string[]): string => `  audit {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }`;
  const cases: { note: string; lines: string[]; want: string[]; notes?: string[]; tags?: string[] }[] = [
    { note: 'a misspelt statement gets a did-you-mean (shared POL0401)', lines: ['tags "a"'],
      want: ['POL0401 error 3:5 unknown statement "tags" in audit block'], notes: ['did you mean "tag"?'] },
    { note: '"tag" without a value', lines: ['tag'], want: ['POL0490 error 3:5 "tag" needs at least one tag'] },
    { note: 'a tag that is not a string', lines: ['tag team'], want: ['POL0490 error 3:9 expected a tag in double quotes, found the bare word "team"'] },
    { note: 'a regex is not a tag', lines: ['tag "a", /b/'], want: ['POL0490 error 3:14 expected a tag in double quotes, found /b/'], tags: ['a'] },
    { note: 'an empty tag', lines: ['tag ""'], want: ['POL0491 error 3:9 invalid audit tag "": an audit tag is empty'] },
    { note: 'a comma would split the tag list', lines: ['tag "a,b"'], want: ['POL0491 error 3:9 invalid audit tag "a,b": an audit tag may not contain ","'] },
    { note: 'a space would need quoting in every record', lines: ['tag "team support"'],
      want: ['POL0491 error 3:9 invalid audit tag "team support": an audit tag may not contain spaces, quotes, backslashes or control characters'] },
    { note: 'a tag longer than 128 characters', lines: [`tag "${'x'.repeat(129)}"`],
      want: [`POL0491 error 3:9 invalid audit tag "${'x'.repeat(128)}": an audit tag is longer than 128 characters`] },
    { note: 'a repeated tag is a warning and kept once', lines: ['tag "a", "b"', 'tag "a"'],
      want: ['POL0494 warning 4:9 audit tag "a" given twice'], notes: ['first given at rules/audit.policy:3:9'], tags: ['a', 'b'] },
    { note: '"prompts" with a misspelt value gets a did-you-mean', lines: ['prompts of'],
      want: ['POL0492 error 3:13 "prompts" expects on or off, found "of"'], notes: ['did you mean "on"?'] },
    { note: '"prompts" without a value', lines: ['prompts'], want: ['POL0492 error 3:5 "prompts" needs on or off'] },
    { note: '"prompts" with a string', lines: ['prompts "on"'], want: ['POL0492 error 3:13 "prompts" expects on or off, found "on"'] },
    { note: '"prompts" with a trailing word', lines: ['prompts on always'], want: ['POL0492 error 3:16 unexpected "always" after "prompts on"'] },
    { note: '"prompts" twice', lines: ['prompts on', 'prompts off'],
      want: ['POL0493 error 4:5 "prompts" given twice in the audit block'], notes: ['first given at rules/audit.policy:3:5'] },
    { note: '"replay" with a misspelt value gets a did-you-mean', lines: ['replay onn'],
      want: ['POL0492 error 3:12 "replay" expects on or off, found "onn"'], notes: ['did you mean "on"?'] },
    { note: '"replay" twice', lines: ['replay on', 'replay on'],
      want: ['POL0493 error 4:5 "replay" given twice in the audit block'], notes: ['first given at rules/audit.policy:3:5'] },
    { note: '"replay" with a body', lines: ['replay on { x }'], want: ['POL0496 error 3:5 "replay" takes no "{ … }" body'] },
    { note: 'the format is gateway-wide, and the note says how to set it', lines: ['format json'],
      want: ['POL0495 error 3:5 the audit format is set for the whole gateway, not per policy'],
      notes: ['start the gateway with --audit-format logfmt|json (or POLICY_GATEWAY_AUDIT_FORMAT)'] },
    { note: 'a statement with a body', lines: ['tag "a" { x }'], want: ['POL0496 error 3:5 "tag" takes no "{ … }" body'], tags: ['a'] },
  ];
  it.each(cases)('$note', ({ lines, want, notes, tags }) => {
    const r = compileAuditText(wrap(lines));
    expect(r.short).toEqual(want);
    for (const n of notes ?? []) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(n);
    if (tags) expect(r.config?.tags).toEqual(tags);
  });

  it('a qualifier on the block is an error', () => {
    const r = compileAuditText('  audit response { prompts on }');
    expect(r.short).toEqual(['POL0497 error 2:9 the audit block takes no qualifier, found "response"']);
  });
});
