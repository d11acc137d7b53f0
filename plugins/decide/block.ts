// Compile step of the `respond` block: checks the rules and turns them into a frozen RespondConfig whose
// trigger → rule lookups are precomputed (category globs expanded to taxonomy sets, texts ready to insert).
import type { Block, Span, Statement, Value } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import type { Decision } from '../../src/sdk/types.ts';
import {
  describeValue, didYouMean, flattenTerm, globMatch, identName, reportError, reportWarning, ruleRef, suggestNotes,
} from '../../src/sdk/block-helpers.ts';
import { defineBlockSchema, readBlock, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import { ALLOWLIST_MISS, DEFAULT_REASON_CODES, REASON_CODE_PATTERN } from './reason-codes.ts';
import { CATEGORIES as MODERATION_CATEGORIES, expandCategoryGlob } from '../../src/sdk/taxonomy.ts';
import { ESCALATION_SCHEMA, readEscalation, type EscalationConfig, type EscalationDraft } from './escalation-block.ts';

export { ESCALATION_SETTINGS, type EscalationConfig } from './escalation-block.ts';

/** Response patterns, in the order the docs list them. */
export const PATTERNS: readonly Decision[] = Object.freeze(['allow', 'rewrite', 'summary', 'escalate', 'refuse']);
/** The `respond` block's schema: statements, the repeat rule of its settings, and the reference table (rules are read in file order). */
export const RESPOND_SCHEMA = defineBlockSchema({
  block: 'respond',
  statements: [
    { keyword: 'when', syntax: 'when TRIGGERS PATTERN [reason "CODE"] [with "TEXT"] [max_tokens N]', meaning: 'a rule; TRIGGERS is one trigger or a comma list (`"violence/*", denylist`); categories may be strings or bare words', default: '—' },
    { keyword: 'otherwise', syntax: 'otherwise PATTERN [reason "CODE"] [with "TEXT"] [max_tokens N]', meaning: 'what happens when no rule fired; at most one, and the last rule (POL0463)', default: '`otherwise allow`' },
    { keyword: 'refusal', syntax: 'refusal "TEXT"', meaning: 'text of `refuse` rules without `with`, and of the allowlist-miss refusal', default: '`Sorry, I can\'t help with that.`', values: [{ kind: 'string', name: 'TEXT' }], once: { code: 'POL0464', message: 'duplicate "refusal" statement', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'holding', syntax: 'holding "TEXT"', meaning: 'holding message of `escalate` rules without `with`', default: '`Thanks for your message. It needs a review by our team, and someone will follow up with you shortly.`', values: [{ kind: 'string', name: 'TEXT' }], once: { code: 'POL0464', message: 'duplicate "holding" statement', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'escalation', body: ESCALATION_SCHEMA, syntax: 'escalation { … }', meaning: 'the webhook escalations are POSTed to; required when a rule escalates (POL0468)', default: '—', once: { code: 'POL0464', message: 'duplicate "escalation" statement', notes: (first) => [`first given at ${ruleRef(first)}`] } },
  ],
});
/** Statement keywords of the `respond` block. */
export const RESPOND_STATEMENTS: readonly string[] = RESPOND_SCHEMA.keywords;
/** Trigger keywords a `when` rule may use besides category names and globs. */
export const TRIGGER_KEYWORDS: readonly string[] = Object.freeze(['denylist', 'any', 'allowlist_miss']);
/** Options that may follow a response pattern. */
export const RULE_OPTIONS: readonly string[] = Object.freeze(['reason', 'with', 'max_tokens']);

/** Default texts and limits (documented in plugins/decide/README.md). */
export const DEFAULTS = Object.freeze({
  refusal: "Sorry, I can't help with that.",
  holding: 'Thanks for your message. It needs a review by our team, and someone will follow up with you shortly.',
  rewriteInstruction:
    'Answer within policy: respond safely and respectfully, do not provide harmful, dangerous or explicit content, ' +
    'and point to appropriate professional help where relevant.',
  summaryInstruction:
    'Give only a brief, high-level answer. Do not provide step-by-step instructions or specific operational details.',
  summaryMaxTokens: 256,
  escalationRetries: 3,
  escalationTimeoutMs: 5000,
  escalationBackoffMs: 250,
});

/** What an enforced decision does to the request. Built once at compile time; the hot path only reads it. */
export type Effect =
  | { readonly kind: 'allow' }
  /** Answer locally with `content`; the upstream is never called. */
  | { readonly kind: 'refuse'; readonly content: string }
  /** Forward with `instruction` added as (or appended to) the first system message. */
  | { readonly kind: 'rewrite'; readonly instruction: string; readonly suffix: string }
  /** Like rewrite, and cap the completion tokens at `maxTokens`. */
  | { readonly kind: 'summary'; readonly instruction: string; readonly suffix: string; readonly maxTokens: number }
  /** Answer locally with the holding message `content` and POST an escalation event. */
  | { readonly kind: 'escalate'; readonly content: string };

/** One possible result of the decision flow, precomputed per rule: the request path picks one, never builds one. */
export interface DecisionOutcome {
  readonly decision: Decision;
  readonly reasonCode: string;
  /** `file:line` of the statement that produced it, or null for built-in defaults. */
  readonly rule: string | null;
  /** Which step of the flow produced it. */
  readonly source: 'allowlist_miss' | 'rule' | 'otherwise';
  readonly effect: Effect;
}

/** A compiled `when` rule. */
export interface CompiledRespondRule {
  /** Position among the ordered rules (allowlist_miss rules are not in this list). */
  readonly index: number;
  /** Taxonomy categories this rule's category triggers cover. */
  readonly categories: readonly string[];
  /** Category globs as written, with their family parent (`self-harm` for `self-harm/*`), for non-taxonomy categories. */
  readonly globs: readonly { readonly glob: string; readonly parent: string | null }[];
  readonly denylist: boolean;
  readonly any: boolean;
  readonly outcome: DecisionOutcome;
}

/** The compiled `respond` block of one policy. Deep-frozen. */
export interface RespondConfig {
  readonly policyId: string;
  /** `when` rules in file order (first match wins). */
  readonly rules: readonly CompiledRespondRule[];
  /** For each taxonomy category, the index of the first rule it triggers (absent: none). */
  readonly firstRuleByCategory: Readonly<Record<string, number>>;
  /** Index of the first rule a denylist hit triggers, or -1. */
  readonly firstDenylistRule: number;
  /** Step 1: the refusal when an allowlist is configured and nothing on it matched. */
  readonly allowlistMiss: DecisionOutcome;
  /** Step 3: the outcome when no rule matched. */
  readonly otherwise: DecisionOutcome;
  /** Webhook settings, or null when the block has none. */
  readonly escalation: EscalationConfig | null;
}

interface RuleDraft {
  readonly st: Statement;
  readonly keyword: 'when' | 'otherwise';
  readonly patternSpan: Span;
  readonly pattern: Decision;
  readonly categories: Set<string>;
  readonly globs: { glob: string; parent: string | null }[];
  readonly denylist: boolean;
  readonly any: boolean;
  readonly allowlistMiss: boolean;
  readonly reason: string | undefined;
  readonly text: string | undefined;
  readonly maxTokens: number | undefined;
}

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

const ALL_TRIGGER_NAMES: readonly string[] = [...TRIGGER_KEYWORDS, ...MODERATION_CATEGORIES];

/** Upper-cases and replaces invalid characters: the suggestion for an invalid reason code. */
function suggestReasonCode(raw: string): string {
  const s = raw.toUpperCase().replace(/[^A-Z0-9_]+/g, '_').replace(/^[^A-Z]+/, '');
  return s.length > 0 ? s : 'CUSTOM_REASON';
}

/** Reads the triggers of a `when` rule (`terms[1]`). Returns undefined after reporting when they are unusable. */
function readTriggers(v: Value, env: Env): Pick<RuleDraft, 'categories' | 'globs' | 'denylist' | 'any' | 'allowlistMiss'> | undefined {
  const categories = new Set<string>();
  const globs: { glob: string; parent: string | null }[] = [];
  let denylist = false;
  let any = false;
  let allowlistMiss = false;
  let ok = true;
  const items = flattenTerm(v);
  for (const item of items) {
    let name: string;
    if (item.kind === 'String') name = item.value;
    else if (item.kind === 'Ident') {
      name = item.name;
      if (name === 'denylist') { denylist = true; continue; }
      if (name === 'any') { any = true; continue; }
      if (name === 'allowlist_miss') { allowlistMiss = true; continue; }
    } else {
      reportError(env, 'POL0467', item.span, `expected a trigger, found ${describeValue(item)}`,
        [`expected a category such as "self-harm/*", or one of: ${TRIGGER_KEYWORDS.map((k) => `"${k}"`).join(', ')}`]);
      ok = false;
      continue;
    }
    const covered = expandCategoryGlob(name);
    if (covered.length === 0) {
      const s = didYouMean(name, ALL_TRIGGER_NAMES);
      const notes: string[] = [];
      if (s) notes.push(`did you mean "${s}"?`);
      notes.push(`known categories: ${MODERATION_CATEGORIES.map((c) => `"${c}"`).join(', ')}`);
      notes.push(`other triggers: ${TRIGGER_KEYWORDS.map((k) => `"${k}"`).join(', ')}`);
      reportError(env, 'POL0461', item.span,
        name.includes('*') || name.includes('?') ? `category pattern "${name}" matches no known category` : `unknown category "${name}"`, notes);
      ok = false;
      continue;
    }
    for (const c of covered) categories.add(c);
    globs.push({ glob: name, parent: name.length > 2 && name.endsWith('/*') ? name.slice(0, -2) : null });
  }
  if (allowlistMiss && items.length > 1) {
    reportError(env, 'POL0471', v.span, '"allowlist_miss" cannot be combined with other triggers',
      ['an allowlist miss is decided before any other trigger; write it as its own rule: when allowlist_miss refuse …']);
    ok = false;
  }
  return ok ? { categories, globs, denylist, any, allowlistMiss } : undefined;
}

/** Reads `reason`, `with` and `max_tokens` after the pattern. Returns undefined after reporting on any error. */
function readOptions(st: Statement, from: number, pattern: Decision, env: Env):
  Pick<RuleDraft, 'reason' | 'text' | 'maxTokens'> | undefined {
  let reason: string | undefined;
  let text: string | undefined;
  let maxTokens: number | undefined;
  const seen = new Map<string, Span>();
  let ok = true;
  for (let i = from; i < st.terms.length; i += 2) {
    const keyTerm = st.terms[i]!;
    const key = identName(keyTerm);
    if (key === undefined || !RULE_OPTIONS.includes(key)) {
      const shown = describeValue(keyTerm);
      reportError(env, 'POL0467', keyTerm.span, `unknown rule option ${shown}`,
        suggestNotes(key ?? shown, RULE_OPTIONS));
      return undefined;
    }
    const prev = seen.get(key);
    if (prev) {
      reportError(env, 'POL0464', keyTerm.span, `duplicate option "${key}"`, [`first given at ${ruleRef(prev)}`]);
      ok = false;
    }
    seen.set(key, keyTerm.span);
    const val = st.terms[i + 1];
    if (val === undefined) {
      reportError(env, 'POL0467', keyTerm.span, `option "${key}" needs a value`,
        [key === 'max_tokens' ? 'expected a number, e.g. max_tokens 150' : `expected a string, e.g. ${key} "…"`]);
      return undefined;
    }
    if (key === 'reason') {
      const raw = val.kind === 'String' ? val.value : val.kind === 'Ident' ? val.name : undefined;
      if (raw === undefined) {
        reportError(env, 'POL0467', val.span, `option "reason" needs a string, found ${val.kind === 'Ident' ? 'the bare word ' : ''}${describeValue(val)}`);
        ok = false;
      } else if (!REASON_CODE_PATTERN.test(raw)) {
        reportError(env, 'POL0465', val.span, `invalid reason code "${raw}"`, [
          `did you mean "${suggestReasonCode(raw)}"?`,
          'reason codes are upper-case letters, digits and "_", starting with a letter',
        ]);
        ok = false;
      } else reason = raw;
    } else if (key === 'with') {
      if (val.kind !== 'String') {
        reportError(env, 'POL0467', val.span, `option "with" needs a string, found ${val.kind === 'Ident' ? 'the bare word ' : ''}${describeValue(val)}`);
        ok = false;
      } else if (pattern === 'allow') {
        reportError(env, 'POL0472', keyTerm.span, '"allow" takes no text',
          ['"with" sets the refusal, holding message or instruction of refuse, escalate, rewrite and summary']);
        ok = false;
      } else if (val.value.trim() === '') {
        reportError(env, 'POL0472', val.span, 'empty text');
        ok = false;
      } else text = val.value;
    } else {
      if (pattern !== 'summary') {
        reportError(env, 'POL0466', keyTerm.span, `"max_tokens" only applies to "summary", not "${pattern}"`);
        ok = false;
      } else if (val.kind !== 'Number' || (val.unit !== 'none' && val.unit !== 'count') || !Number.isInteger(val.value) || val.value < 1) {
        reportError(env, 'POL0466', val.span, `invalid max_tokens ${describeValue(val)}`, ['expected a whole number of tokens, at least 1']);
        ok = false;
      } else maxTokens = val.value;
    }
  }
  return ok ? { reason, text, maxTokens } : undefined;
}

/** Reads the response pattern at `terms[i]`; reports and returns undefined when it is missing or unknown. */
function readPattern(st: Statement, i: number, env: Env): Decision | undefined {
  const t = st.terms[i];
  if (t === undefined) {
    reportError(env, 'POL0467', st.span, `"${identName(st.terms[0])}" needs a response pattern`,
      [`expected one of: ${PATTERNS.map((p) => `"${p}"`).join(', ')}`]);
    return undefined;
  }
  const name = identName(t);
  if (name !== undefined && (PATTERNS as readonly string[]).includes(name)) return name as Decision;
  if (name !== undefined) reportError(env, 'POL0460', t.span, `unknown response pattern "${name}"`, suggestNotes(name, PATTERNS));
  else reportError(env, 'POL0467', t.span, `expected a response pattern, found ${describeValue(t)}`,
    [`expected one of: ${PATTERNS.map((p) => `"${p}"`).join(', ')}`]);
  return undefined;
}

/** Whether a respond statement is a rule (`when …` or `otherwise …`). */
function isRule(st: Statement): boolean {
  const kw = identName(st.terms[0]);
  return kw === 'when' || kw === 'otherwise';
}

/** Parses one `when` / `otherwise` statement into a draft; undefined after reporting errors. */
function readRule(st: Statement, env: Env): RuleDraft | undefined {
  const keyword = identName(st.terms[0]) as 'when' | 'otherwise';
  if (st.body) {
    reportError(env, 'POL0467', st.span, `"${keyword}" takes no { … } block`);
    return undefined;
  }
  let triggers: ReturnType<typeof readTriggers> = { categories: new Set(), globs: [], denylist: false, any: false, allowlistMiss: false };
  let pi = 1;
  if (keyword === 'when') {
    const t1 = st.terms[1];
    const n1 = identName(t1);
    if (t1 === undefined || (n1 !== undefined && (PATTERNS as readonly string[]).includes(n1))) {
      reportError(env, 'POL0467', t1?.span ?? st.span, '"when" needs a trigger before the response pattern', [
        `expected a category such as "self-harm/*", or one of: ${TRIGGER_KEYWORDS.map((k) => `"${k}"`).join(', ')}`,
        'use "otherwise" for the rule that applies when nothing else matched',
      ]);
      return undefined;
    }
    triggers = readTriggers(t1, env);
    pi = 2;
  }
  const pattern = readPattern(st, pi, env);
  if (triggers === undefined || pattern === undefined) return undefined;
  const patternSpan = st.terms[pi]!.span;
  const opts = readOptions(st, pi + 1, pattern, env);
  if (opts === undefined) return undefined;
  if (triggers.allowlistMiss && pattern !== 'refuse') {
    reportError(env, 'POL0471', patternSpan, `"allowlist_miss" rules must use "refuse", not "${pattern}"`, [
      'a request that matches none of the configured allow topics is always refused; use "with" and "reason" to set its text and reason code',
    ]);
    return undefined;
  }
  return { st, keyword, patternSpan, pattern, ...triggers, ...opts };
}

/** Reads a `refusal "…"` / `holding "…"` statement. */
function readText(st: Statement, env: Env): string | undefined {
  const kw = identName(st.terms[0])!;
  const v = st.terms[1];
  if (st.body || v === undefined || v.kind !== 'String' || st.terms.length !== 2) {
    reportError(env, 'POL0467', st.span, `expected ${kw} "text"`);
    return undefined;
  }
  if (v.value.trim() === '') {
    reportError(env, 'POL0472', v.span, 'empty text');
    return undefined;
  }
  return v.value;
}

function effectFor(pattern: Decision, text: string | undefined, maxTokens: number | undefined, refusal: string, holding: string): Effect {
  switch (pattern) {
    case 'allow': return Object.freeze({ kind: 'allow' });
    case 'refuse': return Object.freeze({ kind: 'refuse', content: text ?? refusal });
    case 'escalate': return Object.freeze({ kind: 'escalate', content: text ?? holding });
    case 'rewrite': {
      const instruction = text ?? DEFAULTS.rewriteInstruction;
      return Object.freeze({ kind: 'rewrite', instruction, suffix: `\n\n${instruction}` });
    }
    case 'summary': {
      const instruction = text ?? DEFAULTS.summaryInstruction;
      return Object.freeze({ kind: 'summary', instruction, suffix: `\n\n${instruction}`, maxTokens: maxTokens ?? DEFAULTS.summaryMaxTokens });
    }
  }
}

function outcome(decision: Decision, reasonCode: string, rule: string | null, source: DecisionOutcome['source'], effect: Effect): DecisionOutcome {
  return Object.freeze({ decision, reasonCode, rule, source, effect });
}

/** The config of a policy without a `respond` block: `when any refuse; otherwise allow`, allowlist misses refused. */
function defaultConfig(policyId: string): RespondConfig {
  const refuse = effectFor('refuse', undefined, undefined, DEFAULTS.refusal, DEFAULTS.holding);
  const rule: CompiledRespondRule = Object.freeze({
    index: 0, categories: MODERATION_CATEGORIES, globs: Object.freeze([Object.freeze({ glob: '*', parent: null })]),
    denylist: true, any: true, outcome: outcome('refuse', DEFAULT_REASON_CODES.refuse, null, 'rule', refuse),
  });
  const first: Record<string, number> = Object.create(null);
  for (const c of MODERATION_CATEGORIES) first[c] = 0;
  return Object.freeze({
    policyId,
    rules: Object.freeze([rule]),
    firstRuleByCategory: Object.freeze(first),
    firstDenylistRule: 0,
    allowlistMiss: outcome('refuse', ALLOWLIST_MISS, null, 'allowlist_miss', refuse),
    otherwise: outcome('allow', DEFAULT_REASON_CODES.allow, null, 'otherwise', effectFor('allow', undefined, undefined, '', '')),
    escalation: null,
  });
}

/**
 * Compiles the `respond` block(s) of one policy into a frozen RespondConfig; never throws, reports through `env`.
 * Always returns a config (the decision flow runs for every policy): without a block, the built-in default is
 * `when any refuse; otherwise allow`, and an allowlist miss is refused with ALLOWLIST_MISS.
 */
export function compileRespond(blocks: readonly Block[], env: Env): RespondConfig {
  if (blocks.length === 0) return defaultConfig(env.policyId);
  for (const extra of blocks.slice(1)) {
    reportError(env, 'POL0474', extra.nameSpan, 'more than one "respond" block in this policy',
      [`first defined at ${ruleRef(blocks[0]!.nameSpan)}`]);
  }
  const block = blocks[0]!;
  const byKw = readBlock(block, RESPOND_SCHEMA, env);
  const statements = [...byKw.values()].flat().sort((a, b) => a.span.start.offset - b.span.start.offset);

  let refusal: string | undefined;
  let holding: string | undefined;
  let escalation: EscalationDraft | undefined;
  const singles = new Map<string, Span>();
  const drafts: RuleDraft[] = [];
  let otherwiseSt: Statement | undefined;

  for (const st of statements) {
    const kw = identName(st.terms[0])!;
    if (kw === 'when' || kw === 'otherwise') {
      if (otherwiseSt) {
        reportError(env, 'POL0463', st.terms[0]!.span,
          kw === 'otherwise' ? 'more than one "otherwise" rule' : '"when" rule after "otherwise"',
          [`"otherwise" at ${ruleRef(otherwiseSt.span)} must be the last rule`]);
        continue;
      }
      if (kw === 'otherwise') otherwiseSt = st;
      const d = readRule(st, env);
      if (d) drafts.push(d);
      continue;
    }
    const prev = singles.get(kw);
    if (prev) {
      reportRepeat(env, statementSchema(RESPOND_SCHEMA, kw), st.terms[0]!.span, prev);
      continue;
    }
    singles.set(kw, st.span);
    if (kw === 'refusal') refusal = readText(st, env);
    else if (kw === 'holding') holding = readText(st, env);
    else escalation = readEscalation(st, env);
  }

  const refusalText = refusal ?? DEFAULTS.refusal;
  const holdingText = holding ?? DEFAULTS.holding;

  // Escalation: every escalate rule needs a url; settings without an escalate rule are unused.
  const escalateRules = drafts.filter((d) => d.pattern === 'escalate');
  let escalationConfig: EscalationConfig | null = null;
  if (escalation?.url !== undefined) {
    escalationConfig = Object.freeze({
      url: escalation.url,
      retries: escalation.retries ?? DEFAULTS.escalationRetries,
      timeoutMs: escalation.timeoutMs ?? DEFAULTS.escalationTimeoutMs,
      backoffMs: escalation.backoffMs ?? DEFAULTS.escalationBackoffMs,
      includePrompt: escalation.includePrompt ?? false,
    });
  }
  const escalationSpan = singles.get('escalation');
  if (escalationSpan === undefined) {
    for (const d of escalateRules) {
      reportError(env, 'POL0468', d.patternSpan, '"escalate" needs an escalation url',
        ['add escalation { url "https://…" } to this respond block']);
    }
  } else if (escalation !== undefined && escalation.url === undefined) {
    reportError(env, 'POL0468', escalationSpan, 'escalation settings without a "url"', ['add url "https://…" inside escalation { … }']);
  }
  // A rule that says "escalate" (or a misspelling of it) but failed on another error still wants the settings.
  const mentionsEscalate = statements.some((st) => isRule(st) && st.terms.some((t) => {
    const w = identName(t);
    return w !== undefined && didYouMean(w, ['escalate']) !== undefined;
  }));
  if (escalationSpan !== undefined && escalateRules.length === 0 && !mentionsEscalate) {
    reportWarning(env, 'POL0473', escalationSpan, 'escalation settings are unused', ['no rule in this block uses "escalate"']);
  }

  // Step 1: the allowlist-miss refusal (optionally configured by a `when allowlist_miss refuse …` rule).
  let allowlistMiss = outcome('refuse', ALLOWLIST_MISS, null, 'allowlist_miss', effectFor('refuse', undefined, undefined, refusalText, holdingText));
  let allowlistMissRef: string | null = null;
  // Step 2: ordered rules with precomputed first-match tables; step 3: otherwise.
  const rules: CompiledRespondRule[] = [];
  const firstByCat = new Map<string, number>();
  let firstDeny = -1;
  let otherwise = outcome('allow', DEFAULT_REASON_CODES.allow, null, 'otherwise', effectFor('allow', undefined, undefined, '', ''));

  for (const d of drafts) {
    const ref = ruleRef(d.st.span);
    const reasonCode = d.reason ?? (d.allowlistMiss ? ALLOWLIST_MISS : DEFAULT_REASON_CODES[d.pattern]);
    const eff = effectFor(d.pattern, d.text, d.maxTokens, refusalText, holdingText);
    if (d.keyword === 'otherwise') {
      otherwise = outcome(d.pattern, reasonCode, ref, 'otherwise', eff);
      continue;
    }
    if (d.allowlistMiss) {
      if (allowlistMissRef !== null) {
        reportWarning(env, 'POL0462', d.st.terms[0]!.span, 'unreachable rule', [`shadowed by rule at ${allowlistMissRef}`]);
        continue;
      }
      allowlistMissRef = ref;
      allowlistMiss = outcome('refuse', reasonCode, ref, 'allowlist_miss', eff);
      continue;
    }
    // Unreachable: every trigger of this rule is already claimed by earlier rules.
    const needCats = d.any ? MODERATION_CATEGORIES : [...d.categories];
    const needDeny = d.any || d.denylist;
    const shadowers = new Set<number>();
    let covered = true;
    for (const c of needCats) {
      const i = firstByCat.get(c);
      if (i === undefined) { covered = false; break; }
      shadowers.add(i);
    }
    if (covered && needDeny) {
      if (firstDeny === -1) covered = false; else shadowers.add(firstDeny);
    }
    if (covered && (needCats.length > 0 || needDeny)) {
      const refs = [...shadowers].sort((a, b) => a - b).map((i) => rules[i]!.outcome.rule);
      reportWarning(env, 'POL0462', d.st.terms[0]!.span, 'unreachable rule',
        [`shadowed by ${refs.length === 1 ? 'rule' : 'rules'} at ${refs.join(', ')}`]);
    }
    const index = rules.length;
    for (const c of needCats) if (!firstByCat.has(c)) firstByCat.set(c, index);
    if (needDeny && firstDeny === -1) firstDeny = index;
    rules.push(Object.freeze({
      index,
      categories: Object.freeze(d.any ? MODERATION_CATEGORIES : MODERATION_CATEGORIES.filter((c) => d.categories.has(c))),
      globs: Object.freeze(d.globs.map((g) => Object.freeze(g))),
      denylist: d.denylist,
      any: d.any,
      outcome: outcome(d.pattern, reasonCode, ref, 'rule', eff),
    }));
  }

  const first: Record<string, number> = Object.create(null);
  for (const c of MODERATION_CATEGORIES) {
    const i = firstByCat.get(c);
    if (i !== undefined) first[c] = i;
  }
  return Object.freeze({
    policyId: env.policyId,
    rules: Object.freeze(rules),
    firstRuleByCategory: Object.freeze(first),
    firstDenylistRule: firstDeny,
    allowlistMiss,
    otherwise,
    escalation: escalationConfig,
  });
}

/** True when a compiled rule's category triggers cover `category` (also categories outside the taxonomy). */
export function ruleCoversCategory(rule: CompiledRespondRule, category: string): boolean {
  if (rule.any) return true;
  for (const g of rule.globs) {
    if (globMatch(g.glob, category) || (g.parent !== null && globMatch(g.parent, category))) return true;
  }
  return false;
}
