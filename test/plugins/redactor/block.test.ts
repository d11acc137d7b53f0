// Compile tests of the `redact` block from real .policy text: scopes, detector names and groups, custom patterns,
// styles, the reported hold-back window, and every diagnostic POL0440–POL0454 the block reports.
import { describe, expect, it } from 'vitest';
import { boundedSuggestion } from '../../../plugins/redactor/block.ts';
import { userRegexMaxLength } from '../../../plugins/redactor/custom.ts';
import { compileRedactText } from './helpers.ts';

describe('redact block: valid configurations', () => {
  it('defaults to the response side, label style', () => {
    const { config, diagnostics } = compileRedactText('redact { email, phone }');
    expect(diagnostics).toEqual([]);
    expect(config!.request).toBeUndefined();
    expect(config!.response!.types).toEqual(['email', 'phone']);
    expect(config!.response!.style).toEqual({ kind: 'label' });
    expect(config!.response!.rule).toBe('rules/test.policy:2');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('expands groups: api_key and ip', () => {
    const { config } = compileRedactText('redact response { api_key, ip }');
    expect([...config!.response!.types].sort()).toEqual(
      ['aws_access_key', 'aws_secret_key', 'bearer_token', 'github_token', 'google_api_key', 'ipv4', 'ipv6', 'openai_key', 'private_key',
        'slack_token', 'slack_webhook', 'stripe_key']);
  });

  it('"both" configures request and response with one engine', () => {
    const { config, diagnostics } = compileRedactText('redact both {\n  email, phone\n  style hash\n}');
    expect(diagnostics).toEqual([]);
    expect(config!.request).toBe(config!.response);
    expect(config!.response!.style).toEqual({ kind: 'hash' });
  });

  it('separate request and response blocks with different detectors', () => {
    const { config, diagnostics } = compileRedactText('redact request { email }\nredact response { credit_card; style mask "***" }');
    expect(diagnostics).toEqual([]);
    expect(config!.request!.types).toEqual(['email']);
    expect(config!.response!.types).toEqual(['credit_card']);
    expect(config!.response!.style).toEqual({ kind: 'mask', mask: '***' });
  });

  it('custom patterns come first, typed by their label', () => {
    const { config, diagnostics } = compileRedactText('redact { email\n pattern /ACME-\\d{6}/ as "[ACCOUNT]"\n pattern /TKT-[0-9]{4}/ }');
    expect(diagnostics).toEqual([]);
    expect(config!.response!.types).toEqual(['ACCOUNT', 'custom', 'email']);
    const out = config!.response!.engine.redact('ACME-123456 TKT-0042 a@b.io', { key: 'k', counts: {} });
    expect(out).toBe('[ACCOUNT] [REDACTED] [EMAIL]');
  });

  it.each([
    { note: 'partial with default 4', src: 'style partial', want: { kind: 'partial', keep: 4, maskChar: '*' } },
    { note: 'partial 2', src: 'style partial 2', want: { kind: 'partial', keep: 2, maskChar: '*' } },
    { note: 'mask default', src: 'style mask', want: { kind: 'mask', mask: '****' } },
    { note: 'mask block character', src: 'style mask "█"', want: { kind: 'mask', mask: '█' } },
    { note: 'label', src: 'style label', want: { kind: 'label' } },
  ])('style: $note', ({ src, want }) => {
    const { config, diagnostics } = compileRedactText(`redact { email\n ${src} }`);
    expect(diagnostics).toEqual([]);
    expect(config!.response!.style).toEqual(want);
  });

  it('reports the hold-back window on the config', () => {
    const small = compileRedactText('redact { us_ssn }').config!;
    const all = compileRedactText('redact { all }').config!;
    const custom = compileRedactText('redact { us_ssn\n pattern /X{100}/ as "[X]" }').config!;
    expect(small.holdBackChars).toBe(13);
    expect(all.holdBackChars).toBe(all.response!.engine.holdBack);
    expect(all.holdBackChars).toBeGreaterThanOrEqual(66);
    expect(custom.holdBackChars).toBe(101);
    expect(all.maxHoldChars).toBeGreaterThan(16384);
    expect(compileRedactText('redact request { email }').config!.holdBackChars).toBe(0);
  });

  it('no redact block: plugin off', () => {
    expect(compileRedactText('description "x"').config).toBeUndefined();
  });
});

describe('redact block: diagnostics', () => {
  it.each([
    { note: 'unknown detector with did-you-mean', body: 'redact { emial }', want: ['POL0440 error 2:10 unknown detector "emial"'], notes: ['did you mean "email"?'] },
    { note: 'misspelt keyword suggests the keyword', body: 'redact { styel label }', want: ['POL0442 error 2:16 unexpected "label" after "styel"'] },
    { note: 'a string where a detector belongs', body: 'redact { "email" }', want: ['POL0440 error 2:10 expected a detector name, found "email"'] },
    { note: 'missing comma between detectors', body: 'redact { email phone }', want: ['POL0442 error 2:16 unexpected "phone" after "email"'] },
    { note: 'unknown scope', body: 'redact responses { email }', want: ['POL0441 error 2:8 unknown redact scope "responses"'], notes: ['did you mean "response"?'] },
    { note: 'two scopes', body: 'redact request response { email }', want: ['POL0441 error 2:16 a "redact" block takes one scope'] },
    { note: 'unbounded custom pattern', body: 'redact { pattern /ACME-\\d+/ as "[ACCOUNT]" }', want: ['POL0443 error 2:18 pattern /ACME-\\d+/ has no bounded match length'], notes: ['bound the repetitions, e.g. /ACME-\\d{1,64}/'] },
    { note: 'pattern without a regex', body: 'redact { pattern "ACME" }', want: ['POL0442 error 2:18 expected a regex after "pattern", found "ACME"'] },
    { note: 'pattern with a bad "as"', body: 'redact { pattern /A{3}/ is "[A]" }', want: ['POL0442 error 2:25 unexpected "is" in pattern statement'] },
    { note: 'invalid regex for RE2', body: 'redact { pattern /(a)\\1/ as "[A]" }', want: ['POL0320'] },
    { note: 'empty label', body: 'redact { pattern /A{3}/ as "" }', want: ['POL0448 error 2:28 empty redaction label'] },
    { note: 'too long a pattern', body: 'redact { pattern /.{600}/ as "[A]" }', want: ['POL0450 error 2:18 pattern /.{600}/ can match up to 1200 characters'] },
    { note: 'unknown style', body: 'redact { email\n style masked }', want: ['POL0444 error 3:8 unknown redaction style "masked"'], notes: ['did you mean "mask"?'] },
    { note: 'style twice', body: 'redact { email\n style hash\n style label }', want: ['POL0449 error 4:2 more than one "style" in this redact block'] },
    { note: 'partial out of range', body: 'redact { email\n style partial 20 }', want: ['POL0452 error 3:16 "partial" takes a whole number of characters from 1 to 8, found 20'] },
    { note: 'mask not a string', body: 'redact { email\n style mask 3 }', want: ['POL0453 error 3:13 "mask" takes a string, found 3'] },
    { note: 'label style with a value', body: 'redact { email\n style label "x" }', want: ['POL0444 error 3:14 style "label" takes no value'] },
    { note: 'two blocks on the response side', body: 'redact { email }\nredact both { phone }', want: ['POL0445 error 3:1 more than one redact block applies to responses'] },
    { note: 'empty block', body: 'redact { style hash }', want: ['POL0446 warning 2:1 this redact block enables no detector'] },
    { note: 'detector listed twice', body: 'redact { email, email }', want: ['POL0447 warning 2:17 detector "email" is listed twice'] },
    { note: '"all" with single detectors', body: 'redact { all, email }', want: ['POL0454 warning 2:15 "all" already enables every built-in detector'] },
    { note: 'statement with a body', body: 'redact { email { x } }', want: ['POL0442 error 2:10 "email" takes no { … } block'] },
  ])('$note', ({ body, want, notes }) => {
    const r = compileRedactText(body);
    expect(r.short.map((s) => s.slice(0, Math.max(...want.map((w) => w.length)))).filter((s) => want.some((w) => s.startsWith(w)))).toHaveLength(want.length);
    for (const w of want) expect(r.short.some((s) => s.startsWith(w))).toBe(true);
    if (notes) for (const n of notes) expect(r.diagnostics.flatMap((d) => d.notes ?? [])).toContain(n);
  });

  it('an erroneous block still compiles the valid parts (errors fail the load elsewhere)', () => {
    const r = compileRedactText('redact { emial, phone }');
    expect(r.config!.response!.types).toEqual(['phone']);
  });
});

describe('custom pattern lengths', () => {
  it.each([
    { note: 'fixed digits', src: 'ACME-\\d{6}', want: 11 },
    { note: 'alternation', src: '(?:ab|cde)f', want: 4 },
    { note: 'dot may match an astral character', src: 'x.{3}', want: 7 },
    { note: 'negated class may match an astral character', src: '[^a]{2}', want: 4 },
    { note: 'astral literal (over-estimated, never under)', src: '😀{2}', want: 6 },
    { note: 'unbounded', src: 'a+b', want: Infinity },
  ])('$note', ({ src, want }) => {
    expect(userRegexMaxLength(src, '')).toBe(want);
  });

  it.each([
    { src: 'ACME-\\d+', want: 'ACME-\\d{1,64}' },
    { src: 'a*b+?', want: 'a{0,64}b{1,64}?' },
    { src: '[+*]x{2,}', want: '[+*]x{2,64}' },
  ])('suggests a bounded rewrite of /$src/', ({ src, want }) => {
    expect(boundedSuggestion(src)).toBe(want);
  });

  it('custom pattern with astral characters streams like the whole text', () => {
    const engine = compileRedactText('redact { pattern /😀\\d{3}/ as "[EMOJI]" }').config!.response!.engine;
    const text = 'a😀123b😀😀456c';
    const want = engine.redact(text, { key: 'k', counts: {} });
    expect(want).toBe('a[EMOJI]b😀[EMOJI]c');
    for (let c = 1; c < text.length; c++) {
      const s = engine.stream({ key: 'k', counts: {} });
      expect(s.push(text.slice(0, c)) + s.push(text.slice(c)) + s.flush()).toBe(want);
    }
  });
});
