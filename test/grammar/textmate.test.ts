// The TextMate grammar (grammar/policy.tmLanguage.json) run by a real TextMate engine (vscode-textmate +
// vscode-oniguruma): every comment, string, regex and number the real lexer finds gets the matching scope,
// in a fixture and in every bundled rules/*.policy file.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import vsctm from 'vscode-textmate';
import oniguruma from 'vscode-oniguruma';
import { tokenizePolicy } from '../../grammar/lexer.ts';
import { SourceText } from '../../grammar/source.ts';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url);
let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => scopeName === 'source.policy'
      ? vsctm.parseRawGrammar(readFileSync(new URL('grammar/policy.tmLanguage.json', root), 'utf8'), 'policy.tmLanguage.json')
      : null,
  });
  grammar = (await registry.loadGrammar('source.policy'))!;
});

/** Scopes of every character: scopesAt[line][col] (0-based). */
function scopesOf(text: string): string[][][] {
  let stack = vsctm.INITIAL;
  return text.split(/\r\n|\r|\n/).map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    const out: string[][] = [];
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) out[i] = t.scopes;
    return out;
  });
}

/** Checks the TextMate scopes against the real lexer's tokens; returns how many tokens were checked per kind. */
function crossCheck(text: string, file: string): Record<string, number> {
  const scopes = scopesOf(text);
  const lexed = tokenizePolicy(new SourceText(text, file));
  const src = new SourceText(text, file);
  const at = (offset: number) => { const p = src.pos(offset); return scopes[p.line - 1]?.[p.col - 1] ?? []; };
  const want: Record<string, string> = {
    PlainString: 'string.quoted.double.policy', TripleString: 'string.quoted.triple.policy', Regex: 'string.regexp.policy',
    NumberLiteral: 'constant.numeric.policy', Policy: 'keyword.declaration.policy', Comment: 'comment.line',
  };
  const counts: Record<string, number> = {};
  for (const t of [...lexed.tokens, ...lexed.comments]) {
    const scope = want[t.tokenType.name];
    if (!scope) continue;
    counts[t.tokenType.name] = (counts[t.tokenType.name] ?? 0) + 1;
    const first = at(t.startOffset);
    const last = at(t.endOffset!);
    expect({ token: t.image, line: t.startLine, scopes: first.join(' ') }).toMatchObject({ scopes: expect.stringContaining(scope) });
    expect({ token: t.image, line: t.startLine, scopes: last.join(' ') }).toMatchObject({ scopes: expect.stringContaining(scope) });
  }
  for (const line of scopes) for (const s of line) if (s) expect(s.join(' ')).not.toContain('invalid');
  return counts;
}

const FIXTURE = `# A fixture with every construct
policy "support-bot" {   // trailing comment
  description "Escapes: \\"quoted\\" \\t \\u{1F600}"
  default
  quota { user 60 requests per minute; project 5M tokens per month; window 30s; share 10%; ratio 0.5 }
  topics { deny "competitor pricing", /wire\\s+transfer/i, /a\\/b[/]c/g; deny list "lists/competitors.txt" }
  moderation { flag self-harm/intent above 0.5; flag "self-harm/*", violence/graphic }
  respond {
    when "self-harm/*" rewrite with """
      Answer with care.
      Point to "support resources".
      """
    otherwise allow
  }
  redact response { email, phone, credit_card; pattern /ACME-\\d{6}/ as "[ACCOUNT]" }
}
`;

describe('TextMate grammar', () => {
  it('scopes the fixture like the lexer tokenizes it', () => {
    const counts = crossCheck(FIXTURE, 'fixture.policy');
    expect(counts).toEqual({ Comment: 2, Policy: 1, PlainString: 7, Regex: 3, NumberLiteral: 6, TripleString: 1 });
  });

  it('scopes statement heads, units, escapes and words', () => {
    const s = scopesOf(FIXTURE);
    const scopeOf = (line: number, needle: string, nth = 0) => {
      const text = FIXTURE.split('\n')[line - 1]!;
      let col = -1;
      for (let i = 0; i <= nth; i++) col = text.indexOf(needle, col + 1);
      return s[line - 1]![col]!.join(' ');
    };
    expect(scopeOf(5, 'quota')).toContain('keyword.other.statement.policy');
    expect(scopeOf(5, 'user')).toContain('keyword.other.statement.policy');
    expect(scopeOf(5, 'requests')).toContain('variable.other.word.policy');
    expect(scopeOf(5, 'M tokens')).toContain('keyword.other.unit.policy');
    expect(scopeOf(3, '\\t')).toContain('constant.character.escape.policy');
    expect(scopeOf(7, 'self-harm/intent')).toContain('variable.other.word.policy');
    expect(scopeOf(7, 'intent')).not.toContain('string.regexp');
    expect(scopeOf(6, '/i')).toContain('string.regexp.policy');
    expect(scopeOf(6, 'i,')).toContain('keyword.other.flag.regexp.policy');
  });

  it('marks single quotes, bad escapes and unknown number suffixes as invalid', () => {
    const s = scopesOf(`x 'a' "\\q" 200kb`);
    expect(s[0]![2]!.join(' ')).toContain('invalid.illegal');
    expect(s[0]![7]!.join(' ')).toContain('invalid.illegal.escape');
    expect(s[0]![11]!.join(' ')).toContain('invalid.illegal.number');
  });

  const rules = (() => {
    try {
      return readdirSync(new URL('rules/', root)).filter((f) => f.endsWith('.policy')).sort();
    } catch {
      return [];
    }
  })();
  for (const file of rules) {
    it(`scopes rules/${file} like the lexer tokenizes it`, () => {
      const text = readFileSync(new URL(`rules/${file}`, root), 'utf8');
      const counts = crossCheck(text, `rules/${file}`);
      expect(counts['Policy'] ?? 0).toBeGreaterThan(0);
    });
  }
});
