// The decision flow (DESIGN §3) over real compiled `respond` blocks: allowlist miss first, then the first rule in
// file order that any trigger fires (categories, denylist, any), then `otherwise`; reason-code defaults and overrides.
import { describe, expect, it } from 'vitest';
import { decidePlugin } from '../../../plugins/decide/index.ts';
import { evaluateDecision, type DecisionInput } from '../../../plugins/decide/evaluate-decision.ts';
import fc from 'fast-check';
import { categoryGlobMatch } from '../../../src/sdk/taxonomy.ts';
import { compileClean, compileWith } from './policy-helpers.ts';

const F = 'rules/test.policy';

// Line numbers: the helper wraps the body in `policy "test-policy" {` (line 1), so `respond {` is line 2.
const MAIN = `  respond {
    when "sexual/minors" escalate reason "CSAM_REVIEW" with "A specialist will follow up."
    when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care; point to professional support resources."
    when "violence/*" summary max_tokens 150 with "Give only a brief, high-level answer."
    when denylist refuse with "I can't help with that topic."
    when allowlist_miss refuse reason "OFF_TOPIC" with "I can only help with refunds and shipping."
    otherwise allow
    refusal "Sorry, I can't help with that."
    escalation { url "http://127.0.0.1:9/hook"; retries 0; timeout 1s }
  }`;

const main = compileClean(decidePlugin, MAIN);

const input = (p: Partial<DecisionInput>): DecisionInput => ({
  allowlistConfigured: false, allowlistHits: [], denylistHits: [], flagged: [], ...p,
});

interface Case {
  note: string;
  input: Partial<DecisionInput>;
  decision: string;
  reason: string;
  rule: string | null;
  text?: string;
}

const cases: Case[] = [
  { note: 'no triggers falls to otherwise allow', input: {}, decision: 'allow', reason: 'ALLOW', rule: `${F}:8` },
  { note: 'allowlist configured and hit, no triggers: allow', input: { allowlistConfigured: true, allowlistHits: ['refund policy'] },
    decision: 'allow', reason: 'ALLOW', rule: `${F}:8` },
  { note: 'allowlist configured and nothing matched: refused with the allowlist_miss rule text and reason',
    input: { allowlistConfigured: true }, decision: 'refuse', reason: 'OFF_TOPIC', rule: `${F}:7`,
    text: 'I can only help with refunds and shipping.' },
  { note: 'allowlist miss wins over a flagged category (step 1 before step 2)',
    input: { allowlistConfigured: true, flagged: ['self-harm/intent'] }, decision: 'refuse', reason: 'OFF_TOPIC', rule: `${F}:7` },
  { note: 'allowlist miss wins over a denylist hit', input: { allowlistConfigured: true, denylistHits: ['x'] },
    decision: 'refuse', reason: 'OFF_TOPIC', rule: `${F}:7` },
  { note: 'no allowlist configured: an empty allowlist_hits is not a miss', input: { allowlistConfigured: false },
    decision: 'allow', reason: 'ALLOW', rule: `${F}:8` },
  { note: 'a denylist hit is a trigger and follows its rule (refuse, default reason REFUSE)', input: { denylistHits: ['competitor pricing'] },
    decision: 'refuse', reason: 'REFUSE', rule: `${F}:6`, text: "I can't help with that topic." },
  { note: 'denylist hit with an allowlist hit still triggers', input: { allowlistConfigured: true, allowlistHits: ['shipping'], denylistHits: ['x'] },
    decision: 'refuse', reason: 'REFUSE', rule: `${F}:6` },
  { note: 'flagged self-harm/intent rewrites with the configured reason', input: { flagged: ['self-harm/intent'] },
    decision: 'rewrite', reason: 'SELF_HARM', rule: `${F}:4`, text: 'Answer with care; point to professional support resources.' },
  { note: '"self-harm/*" also covers the parent category self-harm', input: { flagged: ['self-harm'] },
    decision: 'rewrite', reason: 'SELF_HARM', rule: `${F}:4` },
  { note: 'flagged violence/graphic gets a summary with default reason SUMMARY', input: { flagged: ['violence/graphic'] },
    decision: 'summary', reason: 'SUMMARY', rule: `${F}:5`, text: 'Give only a brief, high-level answer.' },
  { note: 'rule order: violence (line 5) beats denylist (line 6) when both trigger', input: { flagged: ['violence'], denylistHits: ['x'] },
    decision: 'summary', reason: 'SUMMARY', rule: `${F}:5` },
  { note: 'rule order: sexual/minors (line 3) beats self-harm (line 4) whatever the flag order',
    input: { flagged: ['self-harm/intent', 'sexual/minors'] }, decision: 'escalate', reason: 'CSAM_REVIEW', rule: `${F}:3`,
    text: 'A specialist will follow up.' },
  { note: 'a flagged category no rule names falls to otherwise', input: { flagged: ['hate'] },
    decision: 'allow', reason: 'ALLOW', rule: `${F}:8` },
  { note: 'a category outside the taxonomy still matches a rule glob ("self-harm/*")', input: { flagged: ['self-harm/other'] },
    decision: 'rewrite', reason: 'SELF_HARM', rule: `${F}:4` },
  { note: 'a category outside the taxonomy that no glob covers falls to otherwise', input: { flagged: ['spam'] },
    decision: 'allow', reason: 'ALLOW', rule: `${F}:8` },
];

function textOf(o: ReturnType<typeof evaluateDecision>): string | undefined {
  const e = o.effect;
  return e.kind === 'refuse' || e.kind === 'escalate' ? e.content : e.kind === 'rewrite' || e.kind === 'summary' ? e.instruction : undefined;
}

describe('evaluateDecision on the main policy', () => {
  it.each(cases)('$note', (c) => {
    const o = evaluateDecision(main, input(c.input));
    expect({ decision: o.decision, reason: o.reasonCode, rule: o.rule }).toEqual({ decision: c.decision, reason: c.reason, rule: c.rule });
    if (c.text !== undefined) expect(textOf(o)).toBe(c.text);
  });

  it('is deterministic and does not mutate its frozen config', () => {
    const snapshot = JSON.stringify(main);
    for (let i = 0; i < 3; i++) {
      expect(evaluateDecision(main, input({ flagged: ['violence'], denylistHits: ['x'] })).rule).toBe(`${F}:5`);
    }
    expect(JSON.stringify(main)).toBe(snapshot);
    expect(Object.isFrozen(main) && Object.isFrozen(main.rules) && Object.isFrozen(main.rules[0]!.outcome)).toBe(true);
  });
});

describe('rule order and trigger kinds', () => {
  const reversed = compileClean(decidePlugin, `  respond {
    when denylist refuse
    when "violence/*" summary
  }`);
  it('the first rule in file order wins: denylist before violence refuses', () => {
    const o = evaluateDecision(reversed, input({ flagged: ['violence'], denylistHits: ['x'] }));
    expect([o.decision, o.rule]).toEqual(['refuse', `${F}:3`]);
  });
  it('without an otherwise rule, nothing matched means allow with no rule named', () => {
    const o = evaluateDecision(reversed, input({ flagged: ['hate'] }));
    expect([o.decision, o.reasonCode, o.rule]).toEqual(['allow', 'ALLOW', null]);
  });

  const anyPolicy = compileClean(decidePlugin, `  respond {
    when "hate" rewrite
    when any escalate reason "REVIEW"
    otherwise refuse reason "NOT_ALLOWED"
    escalation { url "https://hooks.example.com/x" }
  }`);
  it.each([
    { note: 'any fires on a category the earlier rule does not name', input: { flagged: ['illicit'] }, want: ['escalate', 'REVIEW', `${F}:4`] },
    { note: 'any fires on a denylist hit', input: { denylistHits: ['x'] }, want: ['escalate', 'REVIEW', `${F}:4`] },
    { note: 'an earlier specific rule still wins over any', input: { flagged: ['hate', 'illicit'] }, want: ['rewrite', 'REWRITE', `${F}:3`] },
    { note: 'no trigger: the otherwise pattern and its reason apply', input: {}, want: ['refuse', 'NOT_ALLOWED', `${F}:5`] },
  ])('$note', (c) => {
    const o = evaluateDecision(anyPolicy, input(c.input));
    expect([o.decision, o.reasonCode, o.rule]).toEqual(c.want);
  });

  it('a rule with several triggers fires on any one of them', () => {
    const cfg = compileClean(decidePlugin, `  respond {
    when "hate", harassment/threatening, denylist summary
  }`);
    for (const inp of [{ flagged: ['hate'] }, { flagged: ['harassment/threatening'] }, { denylistHits: ['x'] }]) {
      expect(evaluateDecision(cfg, input(inp)).decision).toBe('summary');
    }
    expect(evaluateDecision(cfg, input({ flagged: ['harassment'] })).decision).toBe('allow');
  });
});

describe('defaults', () => {
  const none = decidePlugin.compile([], { policyId: 'p', file: F, dir: '.', report: () => { throw new Error('no diagnostics expected'); }, readText: () => undefined })!;
  it.each([
    { note: 'no respond block: a denylist hit is refused with REFUSE', input: { denylistHits: ['x'] }, want: ['refuse', 'REFUSE', null] },
    { note: 'no respond block: a flagged category is refused with REFUSE', input: { flagged: ['hate'] }, want: ['refuse', 'REFUSE', null] },
    { note: 'no respond block: no trigger is allowed', input: {}, want: ['allow', 'ALLOW', null] },
    { note: 'no respond block: an allowlist miss is refused with ALLOWLIST_MISS', input: { allowlistConfigured: true }, want: ['refuse', 'ALLOWLIST_MISS', null] },
  ])('$note', (c) => {
    const o = evaluateDecision(none, input(c.input));
    expect([o.decision, o.reasonCode, o.rule]).toEqual(c.want);
    if (o.effect.kind === 'refuse') expect(o.effect.content).toBe("Sorry, I can't help with that.");
  });

  it('an allowlist miss without an allowlist_miss rule uses the block refusal text and ALLOWLIST_MISS', () => {
    const cfg = compileClean(decidePlugin, `  respond {
    when denylist refuse
    refusal "Off topic, sorry."
  }`);
    const o = evaluateDecision(cfg, input({ allowlistConfigured: true }));
    expect([o.decision, o.reasonCode, o.rule, o.effect]).toEqual(['refuse', 'ALLOWLIST_MISS', null, { kind: 'refuse', content: 'Off topic, sorry.' }]);
    expect(evaluateDecision(cfg, input({ denylistHits: ['x'] })).effect).toEqual({ kind: 'refuse', content: 'Off topic, sorry.' });
  });

  it('rewrite and summary without "with" use the documented default instructions; summary defaults to 256 tokens', () => {
    const cfg = compileClean(decidePlugin, `  respond {
    when "hate" rewrite
    when "violence" summary
  }`);
    const rw = evaluateDecision(cfg, input({ flagged: ['hate'] })).effect;
    const sm = evaluateDecision(cfg, input({ flagged: ['violence'] })).effect;
    expect(rw.kind === 'rewrite' && rw.instruction.startsWith('Answer within policy')).toBe(true);
    expect(sm.kind === 'summary' && sm.instruction.startsWith('Give only a brief, high-level answer') && sm.maxTokens === 256).toBe(true);
  });

  it.each([
    { note: 'allow → ALLOW', pattern: 'allow', code: 'ALLOW' },
    { note: 'rewrite → REWRITE', pattern: 'rewrite', code: 'REWRITE' },
    { note: 'summary → SUMMARY', pattern: 'summary', code: 'SUMMARY' },
    { note: 'escalate → ESCALATE', pattern: 'escalate', code: 'ESCALATE' },
    { note: 'refuse → REFUSE', pattern: 'refuse', code: 'REFUSE' },
  ])('default reason code: $note; an override replaces it', ({ pattern, code }) => {
    const esc = '\n    escalation { url "http://127.0.0.1:1/h" }';
    const plain = compileClean(decidePlugin, `  respond {\n    when "hate" ${pattern}${pattern === 'escalate' ? esc : ''}\n  }`);
    const custom = compileClean(decidePlugin, `  respond {\n    when "hate" ${pattern} reason "MY_CODE_2"${pattern === 'escalate' ? esc : ''}\n  }`);
    expect(evaluateDecision(plain, input({ flagged: ['hate'] })).reasonCode).toBe(code);
    expect(evaluateDecision(custom, input({ flagged: ['hate'] })).reasonCode).toBe('MY_CODE_2');
  });
});

describe('precomputed tables agree with a naive first-match scan', () => {
  // Reference: walk the written rules in order and test each trigger directly (globs via categoryGlobMatch).
  const TRIGGERS = ['"self-harm/*"', '"violence"', '"violence/*"', '"*/threatening"', '"hate"', '"sexual/minors"', 'denylist', 'any', '"*"'];
  const CATS = ['self-harm', 'self-harm/intent', 'violence', 'violence/graphic', 'hate', 'hate/threatening', 'harassment/threatening', 'sexual/minors', 'illicit', 'vendor/custom'];

  it('for random rule lists and random triggers', () => {
    const rule = fc.record({ triggers: fc.uniqueArray(fc.constantFrom(...TRIGGERS), { minLength: 1, maxLength: 3 }), pattern: fc.constantFrom('allow', 'rewrite', 'summary', 'refuse') });
    fc.assert(fc.property(
      fc.array(rule, { minLength: 1, maxLength: 6 }),
      fc.uniqueArray(fc.constantFrom(...CATS), { maxLength: 4 }),
      fc.boolean(),
      (rules, flagged, deny) => {
        const body = `  respond {\n${rules.map((r) => `    when ${r.triggers.join(', ')} ${r.pattern}`).join('\n')}\n  }`;
        const compiled = compileWith(decidePlugin, body);
        if (compiled.errors > 0) return false;
        let want: string | null = null;
        for (let i = 0; i < rules.length && want === null; i++) {
          const fires = rules[i]!.triggers.some((t) => t === 'any' ? flagged.length > 0 || deny
            : t === 'denylist' ? deny : flagged.some((c) => categoryGlobMatch(t.slice(1, -1), c)));
          if (fires) want = `${F}:${i + 3}`;
        }
        const got = evaluateDecision(compiled.config!, input({ flagged, denylistHits: deny ? ['x'] : [] }));
        return got.rule === want && (want === null ? got.decision === 'allow' : got.decision === rules[Number(want.split(':')[1]) - 3]!.pattern);
      },
    ), { numRuns: 1500 });
  });
});
