// Compile step of the quota block: limits (`user 60 requests per minute`, `project 100 usd per month`), the
// price table, the completion reservation default and the fail mode → frozen config. Reports POL0410–POL0419.
import type { Block, NumberValue, Statement, Value } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import {
  describeValue, identName, reportError, reportWarning, suggestNotes,
} from '../../src/sdk/block-helpers.ts';
import { defineBlockSchema, readBlock, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import type { Price } from './estimate.ts';
import { WINDOWS, type WindowName } from './windows.ts';


/** The quota block's schema: statements, the repeat rules of `reserve` and `on_error`, and the reference table. */
export const QUOTA_SCHEMA = defineBlockSchema({
  block: 'quota',
  noQualifier: { code: 'POL0419', message: 'the quota block takes no qualifier' },
  statements: [
    {
      keyword: 'user', syntax: 'user N requests per W', meaning: 'at most N requests per user per window W', default: '—',
      moreRows: [{ syntax: '`user N tokens per W`', meaning: 'at most N tokens (prompt + completion, as the upstream reports them) per user per window', default: '—' }],
    },
    {
      keyword: 'project', syntax: 'project N tokens per W', meaning: 'token budget per project per window', default: '—',
      moreRows: [{ syntax: '`project N usd per W`', meaning: 'cost budget in US dollars (decimals allowed: `0.50`) per project per window, priced with the `price` table', default: '—' }, { syntax: '`user N usd per W`, `project N requests per W`', meaning: 'also accepted: any subject × any unit', default: '—' }],
    },
    { keyword: 'price', syntax: 'price "glob" input I output O', meaning: 'price of the models matching `glob` (`*` any run of characters, `?` one, case-sensitive) in **US dollars per 1M tokens** (prompt = input, completion = output); the first matching `price` in file order wins', default: '—' },
    {
      keyword: 'reserve', syntax: 'reserve N', meaning: 'completion tokens a request reserves when it gives neither `max_completion_tokens` nor `max_tokens` (1 … 10,000,000)', default: '`1024`',
      values: [{ kind: 'number', name: 'N', unit: 'none', min: 1, max: 10_000_000 }],
      once: { code: 'POL0419', message: '"reserve" is given more than once', notes: (first) => [`first given at ${first.file}:${first.start.line}`] },
    },
    {
      keyword: 'on_error', syntax: 'on_error open\\|closed', meaning: 'when the store (Redis) is unreachable: `open` admits the request without applying limits, `closed` answers 503 `GW_ERR_QUOTA_UNAVAILABLE`', default: '`open`',
      values: [{ kind: 'word', words: ['open', 'closed'] }],
      once: { code: 'POL0419', message: '"on_error" is given more than once', notes: (first) => [`first given at ${first.file}:${first.start.line}`] },
    },
  ],
});

/** Statement keywords of the quota block. */
export const QUOTA_STATEMENTS: readonly string[] = QUOTA_SCHEMA.keywords;
/** Units a limit counts in (singular forms are accepted too). */
export const QUOTA_UNITS = ['requests', 'tokens', 'usd'] as const;
const UNIT_ALIASES: Readonly<Record<string, 'requests' | 'tokens' | 'usd'>> = {
  requests: 'requests', request: 'requests', tokens: 'tokens', token: 'tokens', usd: 'usd',
};
/** Default completion tokens reserved when a request sets neither max_tokens nor max_completion_tokens. */
export const DEFAULT_RESERVE = 1024;
/** Largest `reserve` accepted. */
const MAX_RESERVE = 10_000_000;

/** What a limit counts. */
export type LimitKind = 'requests' | 'tokens' | 'cost';

/** One compiled limit. */
export interface Limit {
  readonly subject: 'user' | 'project';
  readonly kind: LimitKind;
  /** Requests, tokens, or micro-USD for cost limits. */
  readonly limit: number;
  readonly window: WindowName;
  /** The limit as written, normalised: `user 200k tokens per day` (used in error messages and audit). */
  readonly name: string;
  /** Metric label: user_requests, user_tokens, user_cost, project_requests, project_tokens, project_cost. */
  readonly scope: string;
  /** `pgw:q:<policy>:<scope>:<window>:` — the subject and window start are appended per request. */
  readonly keyPrefix: string;
  /** `file:line` of the statement. */
  readonly rule: string;
}

/** Compiled quota block of one policy. */
export interface QuotaConfig {
  readonly policyId: string;
  /** Limits in declaration order. */
  readonly limits: readonly Limit[];
  /** Price table in declaration order (first matching glob wins). */
  readonly prices: readonly Price[];
  /** Completion tokens reserved when the request gives no max_tokens / max_completion_tokens. */
  readonly reserve: number;
  /** What to do when the store is unreachable: admit (`open`, default) or reject with 503 (`closed`). */
  readonly onError: 'open' | 'closed';
  /** True when some limit counts tokens or cost (the prompt must be estimated). */
  readonly needsEstimate: boolean;
  readonly hasUserLimits: boolean;
  readonly hasProjectLimits: boolean;
}

const LIMIT_FORM = 'write a limit as: user 60 requests per minute · user 200k tokens per day · project 100 usd per month';

/** A positive whole number (optionally with a k/M/G suffix), or undefined after reporting. */
function wholeAmount(v: Value | undefined, what: string, code: `POL${string}`, env: CompileEnv, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v?.kind !== 'Number') {
    reportError(env, code, v!.span, `expected a number for ${what}, found ${describeValue(v!)}`);
    return undefined;
  }
  if (v.unit === 'duration' || v.unit === 'percent') {
    const notes = v.raw.endsWith('m') ? [`did you mean "${v.raw.slice(0, -1)}M" (millions)? "m" means minutes`] : ['use a plain number or a k, M, G suffix'];
    reportError(env, code, v.span, `${what} must be a count, not "${v.raw}"`, notes);
    return undefined;
  }
  if (!Number.isInteger(v.value) || v.value <= 0 || v.value > max) {
    reportError(env, code, v.span, `${what} must be a whole number from 1 to ${max}, found "${v.raw}"`);
    return undefined;
  }
  return v.value;
}

/** A number of US dollars (decimals allowed) → micro-USD (not rounded), or undefined after reporting. */
function usdAmount(v: NumberValue, what: string, code: `POL${string}`, env: CompileEnv, allowZero: boolean): number | undefined {
  if (v.unit === 'duration' || v.unit === 'percent') {
    reportError(env, code, v.span, `${what} must be an amount in US dollars, not "${v.raw}"`);
    return undefined;
  }
  const micros = v.value * 1e6;
  if (!(micros >= 1 || (allowZero && v.value === 0)) || micros > Number.MAX_SAFE_INTEGER) {
    reportError(env, code, v.span, `${what} must be ${allowZero ? 'zero or more' : 'at least 0.000001'}, found "${v.raw}"`);
    return undefined;
  }
  return micros;
}

/** A term as written in the statement a message quotes whole (bare words stay bare). */
const asWritten = (v: Value): string => identName(v) ?? describeValue(v);

function compileLimit(st: Statement, env: CompileEnv, policyId: string): Limit | undefined {
  const t = st.terms;
  const subject = identName(t[0]) as 'user' | 'project';
  if (t.length !== 5 || st.body) {
    const at = st.body || t.length > 5 ? (t[5] ?? t[0]!).span : st.span;
    reportError(env, 'POL0410', at, `malformed ${subject} limit "${t.map(asWritten).join(' ')}"`, [LIMIT_FORM]);
    return undefined;
  }
  const [, amountV, unitV, perV, windowV] = t as [Value, Value, Value, Value, Value];
  const unitName = identName(unitV);
  const unit = unitName === undefined ? undefined : UNIT_ALIASES[unitName];
  if (unit === undefined) {
    reportError(env, 'POL0411', unitV.span, `unknown unit ${describeValue(unitV)} in ${subject} limit`, suggestNotes(unitName ?? describeValue(unitV), QUOTA_UNITS));
    return undefined;
  }
  if (identName(perV) !== 'per') {
    reportError(env, 'POL0410', perV.span, `expected "per" after the unit, found ${describeValue(perV)}`, [LIMIT_FORM]);
    return undefined;
  }
  const windowName = identName(windowV);
  if (windowName === undefined || !(WINDOWS as readonly string[]).includes(windowName)) {
    const notes = suggestNotes(windowName ?? describeValue(windowV), WINDOWS);
    reportError(env, 'POL0412', windowV.span, `unknown window ${describeValue(windowV)}`, notes);
    return undefined;
  }
  const window = windowName as WindowName;
  const kind: LimitKind = unit === 'usd' ? 'cost' : unit;
  let limit: number | undefined;
  if (unit === 'usd') {
    if (amountV.kind !== 'Number') {
      reportError(env, 'POL0413', amountV.span, `expected an amount in US dollars, found ${describeValue(amountV)}`);
      return undefined;
    }
    limit = usdAmount(amountV, 'a cost budget', 'POL0413', env, false);
    if (limit !== undefined) limit = Math.floor(limit);
  } else {
    limit = wholeAmount(amountV, `a ${unit === 'requests' ? 'request' : 'token'} limit`, 'POL0413', env);
  }
  if (limit === undefined) return undefined;
  const raw = amountV.kind === 'Number' ? amountV.raw : String(limit);
  const scope = `${subject}_${kind}`;
  return Object.freeze({
    subject, kind, limit, window,
    name: `${subject} ${raw} ${unit} per ${window}`,
    scope,
    keyPrefix: `pgw:q:${policyId}:${scope}:${window}:`,
    rule: `${st.span.file}:${st.span.start.line}`,
  });
}

function compilePrice(st: Statement, env: CompileEnv): Price | undefined {
  const t = st.terms;
  const form = ['write: price "gpt-4o*" input 2.50 output 10.00  (US dollars per 1M tokens; * and ? are wildcards)'];
  const pattern = t[1];
  if (pattern?.kind !== 'String' || pattern.value === '' || t.length !== 6 || st.body) {
    reportError(env, 'POL0415', (pattern ?? t[0]!).span, `malformed price "${t.map(asWritten).join(' ')}"`, form);
    return undefined;
  }
  const got: Partial<Record<'input' | 'output', number>> = {};
  for (const at of [2, 4]) {
    const name = identName(t[at]);
    const v = t[at + 1]!;
    if (name !== 'input' && name !== 'output') {
      reportError(env, 'POL0415', t[at]!.span, `expected "input" or "output" in price, found ${describeValue(t[at]!)}`, form);
      return undefined;
    }
    if (got[name] !== undefined) {
      reportError(env, 'POL0415', t[at]!.span, `"${name}" given twice in price "${pattern.value}"`, form);
      return undefined;
    }
    if (v.kind !== 'Number') {
      reportError(env, 'POL0415', v.span, `expected a price in US dollars per 1M tokens, found ${describeValue(v)}`, form);
      return undefined;
    }
    const micros = usdAmount(v, `the ${name} price`, 'POL0415', env, true);
    if (micros === undefined) return undefined;
    got[name] = v.value;
  }
  return Object.freeze({ pattern: pattern.value, input: got.input!, output: got.output! });
}

/** Compiles the quota blocks of one policy; undefined when the policy has none (or the block is unusable). */
export function compileQuota(blocks: readonly Block[], env: CompileEnv): QuotaConfig | undefined {
  if (blocks.length === 0) return undefined;
  const block = blocks[0]!;
  // NOTE: a second quota block is reported by the core check (POL0303); only the first is compiled.
  const byKw = readBlock(block, QUOTA_SCHEMA, env);
  let ok = true;
  const limits: Limit[] = [];
  const seen = new Map<string, Statement>();
  for (const st of block.statements) {
    const kw = identName(st.terms[0]);
    if (kw !== 'user' && kw !== 'project') continue;
    const l = compileLimit(st, env, env.policyId);
    if (!l) { ok = false; continue; }
    const id = `${l.subject}:${l.kind}:${l.window}`;
    const prior = seen.get(id);
    if (prior) {
      reportError(env, 'POL0414', st.span, `duplicate limit: ${l.subject} ${l.kind === 'cost' ? 'usd' : l.kind} per ${l.window} is already limited`,
        [`first defined at ${prior.span.file}:${prior.span.start.line}`]);
      ok = false;
      continue;
    }
    seen.set(id, st);
    limits.push(l);
  }

  const prices: Price[] = [];
  let catchAll: Statement | undefined;
  for (const st of byKw.get('price') ?? []) {
    const p = compilePrice(st, env);
    if (!p) { ok = false; continue; }
    if (catchAll) {
      reportWarning(env, 'POL0415', st.terms[1]!.span, `price "${p.pattern}" is never used: the price "*" before it matches every model`,
        [`the catch-all is at ${catchAll.span.file}:${catchAll.span.start.line}; the first matching price wins`]);
    }
    if (p.pattern === '*' && !catchAll) catchAll = st;
    prices.push(p);
  }
  const costLimit = limits.find((l) => l.kind === 'cost');
  const priceStatements = byKw.get('price') ?? [];
  if (costLimit && priceStatements.length === 0) {
    reportError(env, 'POL0418', block.nameSpan, `cost budget "${costLimit.name}" needs a price table`,
      ['add prices in US dollars per 1M tokens: price "gpt-4o*" input 2.50 output 10.00']);
    ok = false;
  } else if (costLimit && !catchAll && prices.length === priceStatements.length) {
    reportWarning(env, 'POL0418', block.nameSpan, `models that match no price count as free against "${costLimit.name}"`,
      ['add a catch-all last: price "*" input 10.00 output 30.00']);
  } else if (!costLimit && prices.length > 0) {
    reportWarning(env, 'POL0418', (byKw.get('price') ?? [])[0]!.span, 'the price table is unused: no limit counts usd',
      ['add a cost budget: project 100 usd per month']);
  }

  let reserve = DEFAULT_RESERVE;
  const reserves = byKw.get('reserve') ?? [];
  for (const dup of reserves.slice(1)) {
    reportRepeat(env, statementSchema(QUOTA_SCHEMA, 'reserve'), dup.terms[0]!.span, reserves[0]!.span);
    ok = false;
  }
  if (reserves[0]) {
    const st = reserves[0];
    if (st.terms.length !== 2 || st.body) {
      reportError(env, 'POL0416', st.span, 'expected one number after "reserve"', ['write: reserve 1024  (completion tokens reserved when a request sets no max_tokens)']);
      ok = false;
    } else {
      const r = wholeAmount(st.terms[1], 'reserve', 'POL0416', env, MAX_RESERVE);
      if (r === undefined) ok = false; else reserve = r;
    }
  }

  let onError: 'open' | 'closed' = 'open';
  const modes = byKw.get('on_error') ?? [];
  for (const dup of modes.slice(1)) {
    reportRepeat(env, statementSchema(QUOTA_SCHEMA, 'on_error'), dup.terms[0]!.span, modes[0]!.span);
    ok = false;
  }
  if (modes[0]) {
    const st = modes[0];
    const mode = identName(st.terms[1]);
    if (st.terms.length !== 2 || st.body || (mode !== 'open' && mode !== 'closed')) {
      const shown = st.terms.slice(1).map(describeValue).join(' ');
      reportError(env, 'POL0417', (st.terms[1] ?? st.terms[0]!).span, `expected "open" or "closed" after "on_error"${shown ? `, found ${shown}` : ''}`,
        suggestNotes(mode ?? shown, ['open', 'closed']));
      ok = false;
    } else onError = mode;
  }

  let known = 0;
  for (const list of byKw.values()) known += list.length;
  if (limits.length === 0 && ok && known === block.statements.length) {
    reportWarning(env, 'POL0419', block.nameSpan, 'the quota block has no limits', [LIMIT_FORM]);
  }
  if (!ok) return undefined;
  return Object.freeze({
    policyId: env.policyId,
    limits: Object.freeze(limits),
    prices: Object.freeze(prices),
    reserve,
    onError,
    needsEstimate: limits.some((l) => l.kind !== 'requests'),
    hasUserLimits: limits.some((l) => l.subject === 'user'),
    hasProjectLimits: limits.some((l) => l.subject === 'project'),
  });
}
