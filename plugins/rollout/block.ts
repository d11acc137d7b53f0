// Compile step of the `rollout` block: checks the target rules (conflicts, duplicates, unreachable rules,
// percentages) and builds a frozen RolloutConfig with one precomputed, shared RolloutResult per rule.
import type { Block, Span, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import type { RolloutMode } from '../../src/sdk/types.ts';
import {
  describeValue, flattenTerm, globMatch, hasWildcard, identName, reportError, reportWarning, ruleRef, suggestNotes,
} from '../../src/sdk/block-helpers.ts';
import { defineBlockSchema, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import type { RolloutResult } from '../../src/sdk/state-keys.ts';

/** Mode words of a rollout rule and the verdict mode each selects. */
export const MODES: Readonly<Record<string, RolloutMode>> = Object.freeze({ enforce: 'enforced', shadow: 'shadow' });
const MODE_WORDS: readonly string[] = Object.keys(MODES);

/** The `rollout` block's schema. Rules and `default` are read in file order (rule order is meaning) by compileRollout. */
export const ROLLOUT_SCHEMA = defineBlockSchema({
  block: 'rollout',
  statements: [
    {
      keyword: 'enforce',
      syntax: 'enforce target T [percent P%]',
      meaning: 'requests whose target matches T (and, with `percent`, whose user is in the first P% of buckets) are enforced: the decision is applied',
      default: '—',
      values: [{ kind: 'word', words: ['target'] }, { kind: 'string', name: 'T' }, { kind: 'word', words: ['percent'] }, { kind: 'number', name: 'P', unit: 'percent', min: 0, max: 100 }],
    },
    {
      keyword: 'shadow',
      syntax: 'shadow target T [percent P%]',
      meaning: 'the same, but shadowed: the decision is computed and recorded, and the request passes unchanged (`effective_decision: "allow"`, `enforced: false`, no escalation webhook)',
      default: '—',
      values: [{ kind: 'word', words: ['target'] }, { kind: 'string', name: 'T' }, { kind: 'word', words: ['percent'] }, { kind: 'number', name: 'P', unit: 'percent', min: 0, max: 100 }],
    },
    {
      keyword: 'default',
      syntax: 'default enforce\\|shadow',
      meaning: 'the mode when no rule matches (at most once)',
      default: '`enforce`',
      values: [{ kind: 'word', words: MODE_WORDS }],
      once: { code: 'POL0486', message: 'more than one "default" in rollout block', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
  ],
});

/** Statement keywords of the `rollout` block. */
export const ROLLOUT_STATEMENTS: readonly string[] = ROLLOUT_SCHEMA.keywords;
const DEFAULT = statementSchema(ROLLOUT_SCHEMA, 'default');

/** One compiled `enforce|shadow target … [percent N%]` rule (one per target when a rule lists several). */
export interface CompiledRolloutRule {
  /** `all`: the target is only `*`s (matches every request, also those without a target); `exact`; `glob`. */
  readonly match: 'all' | 'exact' | 'glob';
  readonly target: string;
  /** Percentage as written (0–100), or null for "all users". */
  readonly percent: number | null;
  /** Bucket threshold: users with `rolloutBucket(policy, user) < threshold` match; -1 when no percent. */
  readonly threshold: number;
  readonly result: RolloutResult;
}

/** The compiled `rollout` block of one policy. Deep-frozen. */
export interface RolloutConfig {
  readonly policyId: string;
  /** Rules in file order; the first that matches wins. */
  readonly rules: readonly CompiledRolloutRule[];
  /** The result when no rule matches (`default …`, else enforced). */
  readonly fallback: RolloutResult;
}

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

interface Draft {
  readonly st: Statement;
  readonly targetSpan: Span;
  readonly mode: RolloutMode;
  readonly modeWord: string;
  readonly target: string;
  readonly percent: number | null;
}

const SHAPE = 'expected: enforce|shadow target "name" [percent 10%]';

function matchKind(target: string): CompiledRolloutRule['match'] {
  if (/^\*+$/.test(target)) return 'all';
  return hasWildcard(target) ? 'glob' : 'exact';
}

/** Reads one `enforce|shadow target …` statement into one draft per target; [] after reporting errors. */
function readRule(st: Statement, modeWord: string, env: Env): Draft[] {
  const mode = MODES[modeWord]!;
  if (st.body) {
    reportError(env, 'POL0481', st.span, `"${modeWord}" takes no { … } block`, [SHAPE]);
    return [];
  }
  const t1 = st.terms[1];
  const kw1 = identName(t1);
  if (kw1 !== 'target') {
    const notes = kw1 !== undefined ? suggestNotes(kw1, ['target']) : [];
    reportError(env, 'POL0481', t1?.span ?? st.span, t1 ? `expected "target" after "${modeWord}", found ${describeValue(t1)}` : `"${modeWord}" needs a target`,
      [...notes.filter((n) => n.startsWith('did you mean')), SHAPE]);
    return [];
  }
  const tv = st.terms[2];
  if (tv === undefined) {
    reportError(env, 'POL0481', t1!.span, '"target" needs a name', [SHAPE]);
    return [];
  }
  const targets: { name: string; span: Span }[] = [];
  for (const item of flattenTerm(tv)) {
    if (item.kind === 'String' || item.kind === 'Ident') {
      const name = item.kind === 'String' ? item.value : item.name;
      if (name === '') {
        reportError(env, 'POL0481', item.span, 'empty target name');
        return [];
      }
      targets.push({ name, span: item.span });
    } else {
      reportError(env, 'POL0481', item.span, `expected a target name, found ${describeValue(item)}`, [SHAPE]);
      return [];
    }
  }
  let percent: number | null = null;
  let i = 3;
  if (st.terms.length > i) {
    const kw = identName(st.terms[i]);
    if (kw !== 'percent') {
      const t = st.terms[i]!;
      const notes = kw !== undefined ? suggestNotes(kw, ['percent']).filter((n) => n.startsWith('did you mean')) : [];
      reportError(env, 'POL0481', t.span, `unexpected ${describeValue(t)} in rollout rule`, [...notes, SHAPE]);
      return [];
    }
    const pv = st.terms[i + 1];
    if (pv === undefined || pv.kind !== 'Number' || (pv.unit !== 'percent' && pv.unit !== 'none')) {
      reportError(env, 'POL0485', pv?.span ?? st.terms[i]!.span, `"percent" needs a percentage${pv ? `, found ${describeValue(pv)}` : ''}`,
        ['e.g. percent 10%']);
      return [];
    }
    if (pv.value < 0 || pv.value > 100) {
      reportError(env, 'POL0485', pv.span, `percentage ${pv.raw} is outside 0–100`);
      return [];
    }
    percent = pv.value;
    i += 2;
  }
  if (st.terms.length > i) {
    reportError(env, 'POL0481', st.terms[i]!.span, `unexpected ${describeValue(st.terms[i]!)} in rollout rule`, [SHAPE]);
    return [];
  }
  return targets.map((t) => ({ st, targetSpan: t.span, mode, modeWord, target: t.name, percent }));
}

/** Reports conflicts, duplicates and unreachable rules (each rule against the earlier ones; first finding only). */
function checkOrder(drafts: readonly Draft[], env: Env): void {
  for (let j = 0; j < drafts.length; j++) {
    const b = drafts[j]!;
    const bKind = matchKind(b.target);
    for (let i = 0; i < j; i++) {
      const a = drafts[i]!;
      const at = ruleRef(a.targetSpan);
      if (a.target === b.target) {
        if (a.percent === b.percent) {
          if (a.mode !== b.mode) {
            reportError(env, 'POL0482', b.targetSpan, `conflicting rollout rules for target "${b.target}"`,
              [`"${a.modeWord}" at ${at}, "${b.modeWord}" here; the first one wins, so this one never applies`]);
          } else {
            reportWarning(env, 'POL0483', b.targetSpan, `duplicate rollout rule for target "${b.target}"`, [`first defined at ${at}`]);
          }
          break;
        }
        if (a.percent === null || (b.percent !== null && b.percent <= a.percent)) {
          reportWarning(env, 'POL0484', b.targetSpan, 'unreachable rollout rule', [
            a.percent === null
              ? `every request for target "${b.target}" already matches the rule at ${at}`
              : `percentages on one target share each user's bucket: the rule at ${at} already takes the first ${a.percent}%`,
          ]);
          break;
        }
        continue;
      }
      if (a.percent !== null) continue;
      const aKind = matchKind(a.target);
      if (aKind === 'all') {
        reportWarning(env, 'POL0484', b.targetSpan, 'unreachable rollout rule', [`it comes after the catch-all "${a.target}" at ${at}`]);
        break;
      }
      if (aKind === 'glob' && bKind === 'exact' && globMatch(a.target, b.target)) {
        reportWarning(env, 'POL0484', b.targetSpan, 'unreachable rollout rule', [`shadowed by rule at ${at} ("${a.target}" matches "${b.target}")`]);
        break;
      }
    }
  }
}

/**
 * Compiles the `rollout` block(s) of one policy into a frozen RolloutConfig; never throws, reports through `env`.
 * Returns undefined when the policy has no rollout block (every request is then enforced).
 */
export function compileRollout(blocks: readonly Block[], env: Env): RolloutConfig | undefined {
  if (blocks.length === 0) return undefined;
  for (const extra of blocks.slice(1)) {
    reportError(env, 'POL0487', extra.nameSpan, 'more than one "rollout" block in this policy', [`first defined at ${ruleRef(blocks[0]!.nameSpan)}`]);
  }
  const drafts: Draft[] = [];
  let fallback: RolloutResult = Object.freeze({ mode: 'enforced', rule: null, source: 'default' });
  let defaultSpan: Span | undefined;
  for (const st of blocks[0]!.statements) {
    const first = st.terms[0];
    const kw = identName(first);
    if (kw !== undefined && Object.hasOwn(MODES, kw)) {
      drafts.push(...readRule(st, kw, env));
      continue;
    }
    if (kw === 'default') {
      if (defaultSpan) {
        reportRepeat(env, DEFAULT, first!.span, defaultSpan);
        continue;
      }
      defaultSpan = st.span;
      const m = st.terms[1];
      const mw = identName(m);
      if (st.body || st.terms.length !== 2 || mw === undefined) {
        reportError(env, 'POL0481', st.span, 'expected: default enforce|shadow');
      } else if (!Object.hasOwn(MODES, mw)) {
        reportError(env, 'POL0480', m!.span, `unknown rollout mode "${mw}"`, suggestNotes(mw, MODE_WORDS));
      } else {
        fallback = Object.freeze({ mode: MODES[mw]!, rule: ruleRef(st.span), source: 'default' });
      }
      continue;
    }
    const shown = first ? describeValue(first) : '""';
    if (kw !== undefined && identName(st.terms[1]) === 'target') {
      reportError(env, 'POL0480', first!.span, `unknown rollout mode "${kw}"`, suggestNotes(kw, MODE_WORDS));
    } else {
      reportError(env, 'POL0401', first?.span ?? st.span, `unknown statement ${shown} in rollout block`, suggestNotes(kw ?? shown, ROLLOUT_STATEMENTS));
    }
  }
  checkOrder(drafts, env);
  const rules = drafts.map((d): CompiledRolloutRule => Object.freeze({
    match: matchKind(d.target),
    target: d.target,
    percent: d.percent,
    threshold: d.percent === null ? -1 : Math.round(d.percent * 100),
    result: Object.freeze({ mode: d.mode, rule: ruleRef(d.st.span), source: 'rule' as const }),
  }));
  return Object.freeze({ policyId: env.policyId, rules: Object.freeze(rules), fallback });
}
