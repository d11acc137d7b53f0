// Compile step of the `moderation` block: provider choice and settings, flag rules (category globs + thresholds),
// on_error, cache and scan; checks them (POL0430–POL0439) and builds the frozen ModerationConfig.
import type { Block, Span, Statement, Value } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import {
  describeValue, didYouMean, flattenTerm, identName, reportError, reportWarning, ruleRef, suggestNotes,
} from '../../src/sdk/block-helpers.ts';
import { checkNoBody, defineBlockSchema, readBlock, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import { DEFAULT_SCAN, SCAN_MODES, type ScanMode } from '../../src/sdk/text.ts';
import { builtinClassifier } from './builtin.ts';
import { PROVIDERS, REMOTE_DEFAULTS, type ProviderName, type RemoteSettings } from './providers.ts';
import { CATEGORIES, expandCategoryGlob } from '../../src/sdk/taxonomy.ts';

/** Default flag threshold (`flag c` = `flag c above 0.5`) and cache size. */
export const MODERATION_DEFAULTS = Object.freeze({ threshold: 0.5, cacheSize: 10_000, maxCacheSize: 10_000_000, maxTimeoutMs: 60_000, band: Object.freeze([0.1, 0.9] as const) });

/** One compiled flag rule as it applies to one category. */
export interface FlagRule {
  readonly threshold: number;
  /** `file:line` of the flag statement (or of the block for the default rule). */
  readonly rule: string;
}

/** The compiled `moderation` block of one policy. Frozen. */
export interface ModerationConfig {
  readonly policyId: string;
  readonly provider: ProviderName;
  /** Settings of a remote provider; null for builtin. */
  readonly remote: RemoteSettings | null;
  /**
   * `provider builtin then <remote>`: the builtin classifier scores every request first; only requests whose highest
   * builtin score lies inside `[low, high]` go to the remote provider, the others are decided on the builtin scores.
   * null: no cascade.
   */
  readonly cascade: { readonly low: number; readonly high: number } | null;
  /** Per category (taxonomy order): the flag rules covering it, in file order. A category is flagged when its score is above a threshold. */
  readonly flags: readonly (readonly FlagRule[])[];
  readonly onError: 'open' | 'closed';
  /** Result cache entries for remote providers (0: off). */
  readonly cacheSize: number;
  readonly scan: ScanMode;
}

/** The settings of a remote provider's `{ … }` body: keywords, repeat rule, reference table. */
export const PROVIDER_SCHEMA = defineBlockSchema({
  block: 'provider',
  statements: [
    { keyword: 'url', syntax: 'url "…"', meaning: 'absolute `http://` or `https://` URL of the endpoint (for `llama_guard`, its chat completions URL)', default: '— (required)', once: { code: 'POL0436', message: 'duplicate provider setting "url"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'key', syntax: 'key env "NAME"', meaning: 'environment variable holding the API key, sent as `Authorization: Bearer …`; a key written in the policy is an error (POL0433)', default: 'no key', once: { code: 'POL0436', message: 'duplicate provider setting "key"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'model', syntax: 'model "…"', meaning: 'model name sent to the provider', default: '`omni-moderation-latest` (openai), `meta-llama/Llama-Guard-3-8B` (llama_guard)', once: { code: 'POL0436', message: 'duplicate provider setting "model"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'timeout', syntax: 'timeout D', meaning: 'per-call timeout, 1ms–60s', default: '`2s`', once: { code: 'POL0436', message: 'duplicate provider setting "timeout"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'template', syntax: 'template gateway\\|server', meaning: '`llama_guard` only: `gateway` sends the full Llama Guard 3 prompt, `server` sends the raw conversation for a server that applies the template itself', default: '`gateway`', once: { code: 'POL0436', message: 'duplicate provider setting "template"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
    { keyword: 'band', syntax: 'band LOW HIGH', meaning: 'cascades only: requests whose highest builtin score is from LOW to HIGH (inclusive, 0 ≤ LOW ≤ HIGH ≤ 1; numbers or percentages) go to the remote provider; `band 0 1` sends every request', default: '`band 0.1 0.9`', once: { code: 'POL0436', message: 'duplicate provider setting "band"', notes: (first) => [`first given at ${ruleRef(first)}`] } },
  ],
});
/** Settings of a remote provider body. */
export const PROVIDER_SETTINGS: readonly string[] = PROVIDER_SCHEMA.keywords;

/** The `moderation` block's schema: statements, their repeat and body rules, and the reference table. */
export const MODERATION_SCHEMA = defineBlockSchema({
  block: 'moderation',
  noQualifier: { code: 'POL0436', message: (found) => `the moderation block takes no qualifier, found ${found}`, notes: ['write moderation { … }'], every: true },
  statements: [
    {
      keyword: 'provider', body: PROVIDER_SCHEMA, syntax: 'provider builtin', meaning: 'the built-in classifier: a lexicon of cue phrases matched on the same normalised text as `topics`, in process, synchronous, explainable', default: '✓ (the default)',
      moreRows: [
        { syntax: '`provider openai { … }`', meaning: 'an OpenAI-style moderation endpoint (`POST {input, model}`, `category_scores` read from the answer)', default: '—' },
        { syntax: '`provider llama_guard { … }`', meaning: 'a Llama-Guard-style classifier served over chat completions (answer `safe` or `unsafe` with its hazard categories, mapped onto the taxonomy)', default: '—' },
        { syntax: '`provider builtin then openai { … }`, `provider builtin then llama_guard { … }`', meaning: 'a **cascade**: the builtin classifier scores every request; a request whose highest builtin score lies inside the `band` (a body setting, below) goes to the remote provider and its scores decide; any other is decided on the builtin scores, with no call. The builtin\'s recall is low, so the low end of the band decides what is never checked remotely: `npm run eval:moderation` prints the share sent and the cascade\'s precision/recall for several bands. When the remote call fails under `on_error open`, the builtin scores decide', default: '—' },
      ],
      once: { code: 'POL0436', message: 'duplicate "provider" statement', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
    { keyword: 'flag', syntax: 'flag CATEGORIES [above T]', meaning: 'flag the categories covered (a category, a glob, or a comma list of them) when their score is above T: a score from 0 up to, not including, 1 (`0.7`) or a percentage below 100 (`70%`). May be repeated: a category is flagged when its score is above the threshold of any rule that covers it', default: 'without any `flag`, every category is flagged above `0.5`; `above` defaults to `0.5`', noBody: { code: 'POL0436', message: '"flag" takes no "{ … }" body', at: 'keyword' } },
    { keyword: 'on_error', syntax: 'on_error open\\|closed', meaning: 'when a remote provider fails (timeout, network, HTTP error, bad answer, missing key): `open` counts the request as "nothing flagged" (the audit record gets `moderation_error`), `closed` rejects it with 503 `GW_ERR_MODERATION_UNAVAILABLE`', default: '`open`', values: [{ kind: 'word', words: ['open', 'closed'] }], once: { code: 'POL0436', message: 'duplicate "on_error" statement', notes: (first) => [`first given at ${ruleRef(first)}`] }, noBody: { code: 'POL0436', message: '"on_error" takes no "{ … }" body', at: 'keyword' } },
    { keyword: 'cache', syntax: 'cache N\\|off', meaning: 'results of a remote provider kept in memory (LRU, keyed by a sha256 of the scanned text), a whole number up to 10M (`50k`); no effect with `builtin` (a warning)', default: '`10000`', once: { code: 'POL0436', message: 'duplicate "cache" statement', notes: (first) => [`first given at ${ruleRef(first)}`] }, noBody: { code: 'POL0436', message: '"cache" takes no "{ … }" body', at: 'keyword' } },
    { keyword: 'scan', syntax: 'scan user\\|last_user\\|all', meaning: 'which messages are classified, as in [topics](#topics)', default: '`user`', values: [{ kind: 'word', words: SCAN_MODES }], once: { code: 'POL0436', message: 'duplicate "scan" statement', notes: (first) => [`first given at ${ruleRef(first)}`] }, noBody: { code: 'POL0436', message: '"scan" takes no "{ … }" body', at: 'keyword' } },
  ],
});

/** Statement keywords of the `moderation` block. */
export const MODERATION_STATEMENTS: readonly string[] = MODERATION_SCHEMA.keywords;

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

function once(sts: readonly Statement[] | undefined, kw: string, env: Env): Statement | undefined {
  if (!sts || sts.length === 0) return undefined;
  for (const st of sts.slice(1)) reportRepeat(env, statementSchema(MODERATION_SCHEMA, kw), st.terms[0]!.span, sts[0]!.span);
  return sts[0];
}

function noBody(st: Statement, env: Env): void {
  checkNoBody(st, statementSchema(MODERATION_SCHEMA, identName(st.terms[0])!), env);
}

/** A bare word or string value, or undefined. */
function word(v: Value | undefined): string | undefined {
  return v?.kind === 'Ident' ? v.name : v?.kind === 'String' ? v.value : undefined;
}

function readTimeout(v: Value | undefined, span: Span, env: Env): number | undefined {
  if (v?.kind !== 'Number' || v.unit !== 'duration' || v.value <= 0 || v.value > MODERATION_DEFAULTS.maxTimeoutMs) {
    reportError(env, 'POL0439', v?.span ?? span, v === undefined ? '"timeout" needs a duration' : `invalid timeout ${describeValue(v)}`,
      ['expected a duration between 1ms and 60s, e.g. timeout 2s or timeout 1500ms']);
    return undefined;
  }
  return v.value;
}

function readProvider(st: Statement, env: Env): { name: ProviderName; remote: RemoteSettings | null; cascade: { low: number; high: number } | null } | undefined {
  // `provider builtin then openai|llama_guard { … }`: a cascade; the remote provider is the last term
  const cascaded = st.terms.length === 4 && word(st.terms[1]) === 'builtin' && identName(st.terms[2]) === 'then';
  const v = cascaded ? st.terms[3] : st.terms[1];
  const name = word(v);
  if (cascaded && (name === 'builtin' || name === undefined || !(PROVIDERS as readonly string[]).includes(name))) {
    reportError(env, 'POL0430', v!.span, `a cascade ends with a remote provider, found ${describeValue(v!)}`,
      ['write provider builtin then openai { … }  or  provider builtin then llama_guard { … }']);
    return undefined;
  }
  if (name === undefined || (st.terms.length !== 2 && !cascaded)) {
    reportError(env, 'POL0430', (st.terms[2] ?? v ?? st.terms[0]!).span, '"provider" takes one provider name',
      [`expected one of: ${PROVIDERS.map((p) => `"${p}"`).join(', ')}`]);
    return undefined;
  }
  if (!(PROVIDERS as readonly string[]).includes(name)) {
    reportError(env, 'POL0430', v!.span, `unknown moderation provider "${name}"`, suggestNotes(name, PROVIDERS));
    return undefined;
  }
  if (name === 'builtin') {
    if (st.body) reportError(env, 'POL0433', v!.span, 'provider "builtin" takes no settings', ['write provider builtin']);
    return { name, remote: null, cascade: null };
  }
  let band: [number, number] = [MODERATION_DEFAULTS.band[0], MODERATION_DEFAULTS.band[1]];
  const kind = name as 'openai' | 'llama_guard';
  let url: string | undefined;
  let keyEnv: string | null = null;
  let model: string = kind === 'openai' ? REMOTE_DEFAULTS.openaiModel : REMOTE_DEFAULTS.llamaGuardModel;
  let timeoutMs: number = REMOTE_DEFAULTS.timeoutMs;
  let template: 'gateway' | 'server' = 'gateway';
  let ok = true;
  const seen = new Map<string, Span>();
  for (const s of st.body ?? []) {
    const key = identName(s.terms[0]);
    if (key === undefined || !PROVIDER_SETTINGS.includes(key)) {
      const shown = describeValue(s.terms[0]!);
      reportError(env, 'POL0433', s.terms[0]!.span, `unknown provider setting ${shown}`, suggestNotes(key ?? shown, PROVIDER_SETTINGS));
      ok = false;
      continue;
    }
    if (seen.has(key)) {
      reportRepeat(env, statementSchema(PROVIDER_SCHEMA, key), s.terms[0]!.span, seen.get(key)!);
      ok = false;
      continue;
    }
    seen.set(key, s.span);
    const val = s.terms[1];
    if (key === 'url') {
      let parsed: URL | undefined;
      try { if (val?.kind === 'String') parsed = new URL(val.value); } catch { /* reported below */ }
      if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || s.terms.length !== 2) {
        reportError(env, 'POL0433', (val ?? s.terms[0]!).span, val?.kind === 'String' ? `invalid url "${val.value}"` : '"url" takes one quoted http(s) URL',
          [kind === 'openai' ? 'e.g. url "https://api.openai.com/v1/moderations"' : 'e.g. url "http://127.0.0.1:8000/v1/chat/completions"']);
        ok = false;
      } else url = val!.kind === 'String' ? val!.value : undefined;
    } else if (key === 'key') {
      const name2 = s.terms[2];
      if (identName(val) !== 'env' || name2?.kind !== 'String' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name2.value) || s.terms.length !== 3) {
        reportError(env, 'POL0433', (val ?? s.terms[0]!).span,
          val?.kind === 'String' ? 'API keys cannot be written in a policy' : '"key" takes env "VARIABLE_NAME"',
          ['write key env "OPENAI_API_KEY": the key is read from that environment variable at request time']);
        ok = false;
      } else keyEnv = name2.value;
    } else if (key === 'model') {
      if (val?.kind !== 'String' || val.value.trim() === '' || s.terms.length !== 2) {
        reportError(env, 'POL0433', (val ?? s.terms[0]!).span, '"model" takes one quoted model name', [`e.g. model "${model}"`]);
        ok = false;
      } else model = val.value;
    } else if (key === 'band') {
      const lo = s.terms[1];
      const hi = s.terms[2];
      const num = (x: Value | undefined): number | undefined =>
        x?.kind === 'Number' && (x.unit === 'none' || x.unit === 'percent') ? (x.unit === 'percent' ? x.value / 100 : x.value) : undefined;
      const a = num(lo);
      const b = num(hi);
      if (!cascaded) {
        reportError(env, 'POL0433', s.terms[0]!.span, '"band" only applies to a cascade', ['write provider builtin then openai { …; band 0.1 0.9 }']);
        ok = false;
      } else if (a === undefined || b === undefined || s.terms.length !== 3 || !(a >= 0 && a <= b && b <= 1)) {
        reportError(env, 'POL0433', (lo ?? s.terms[0]!).span, '"band" takes two scores LOW HIGH with 0 ≤ LOW ≤ HIGH ≤ 1',
          ['e.g. band 0.1 0.9: requests the builtin scores from 0.1 to 0.9 go to the remote provider, the others are decided locally']);
        ok = false;
      } else band = [a, b];
    } else if (key === 'timeout') {
      const t = readTimeout(val, s.terms[0]!.span, env);
      if (t === undefined) ok = false; else timeoutMs = t;
    } else {
      const t = word(val);
      if (kind !== 'llama_guard') {
        reportError(env, 'POL0433', s.terms[0]!.span, '"template" only applies to provider "llama_guard"');
        ok = false;
      } else if (t !== 'gateway' && t !== 'server') {
        reportError(env, 'POL0433', (val ?? s.terms[0]!).span, t === undefined ? '"template" takes gateway or server' : `unknown template "${t}"`,
          suggestNotes(t ?? '', ['gateway', 'server']));
        ok = false;
      } else template = t;
    }
  }
  if (url === undefined && ok) {
    reportError(env, 'POL0433', v!.span, `provider "${kind}" needs a url`,
      [kind === 'openai' ? `write provider openai { url "https://api.openai.com/v1/moderations"; key env "OPENAI_API_KEY" }`
        : 'write provider llama_guard { url "http://127.0.0.1:8000/v1/chat/completions"; model "meta-llama/Llama-Guard-3-8B" }']);
    ok = false;
  }
  if (!ok || url === undefined) return undefined;
  return {
    name: kind,
    remote: Object.freeze({ kind, url, keyEnv, model, timeoutMs, template }),
    cascade: cascaded ? Object.freeze({ low: band[0], high: band[1] }) : null,
  };
}

interface FlagDraft { readonly cats: readonly number[]; readonly threshold: number; readonly rule: string; readonly span: Span }

function readFlag(st: Statement, env: Env): FlagDraft | undefined {
  noBody(st, env);
  const target = st.terms[1];
  if (target === undefined) {
    reportError(env, 'POL0431', st.span, '"flag" needs a category', ['e.g. flag "self-harm/*" above 0.5  or  flag violence/graphic']);
    return undefined;
  }
  const cats = new Set<number>();
  let ok = true;
  for (const item of flattenTerm(target)) {
    const name = word(item);
    if (name === undefined) {
      reportError(env, 'POL0431', item.span, `expected a category, found ${describeValue(item)}`, ['e.g. "self-harm/*" or violence/graphic']);
      ok = false;
      continue;
    }
    const covered = expandCategoryGlob(name);
    if (covered.length === 0) {
      const s = didYouMean(name, CATEGORIES);
      const notes = s ? [`did you mean "${s}"?`] : [];
      notes.push(`known categories: ${CATEGORIES.map((c) => `"${c}"`).join(', ')}`);
      reportError(env, 'POL0431', item.span,
        name.includes('*') || name.includes('?') ? `category pattern "${name}" matches no known category` : `unknown category "${name}"`, notes);
      ok = false;
      continue;
    }
    for (const c of covered) cats.add(CATEGORIES.indexOf(c));
  }
  let threshold: number = MODERATION_DEFAULTS.threshold;
  if (st.terms.length > 2) {
    const kw = identName(st.terms[2]);
    const v = st.terms[3];
    if (kw !== 'above' || st.terms.length !== 4) {
      reportError(env, 'POL0432', st.terms[2]!.span, `unexpected ${describeValue(st.terms[2]!)} in flag rule`,
        [kw !== undefined && kw !== 'above' && didYouMean(kw, ['above']) ? 'did you mean "above"?' : 'write flag "category" above 0.7']);
      return undefined;
    }
    if (v?.kind !== 'Number' || (v.unit !== 'none' && v.unit !== 'percent') || !(v.value >= 0)
      || (v.unit === 'none' ? v.value >= 1 : v.value >= 100)) {
      reportError(env, 'POL0432', (v ?? st.terms[2]!).span, `invalid threshold ${v ? describeValue(v) : ''}`.trim(),
        ['a threshold is a score from 0 up to (not including) 1, e.g. above 0.7 or above 70%; a category is flagged when its score is above it']);
      return undefined;
    }
    threshold = v.unit === 'percent' ? v.value / 100 : v.value;
  }
  return ok ? { cats: [...cats].sort((a, b) => a - b), threshold, rule: ruleRef(st.span), span: st.terms[0]!.span } : undefined;
}

/**
 * Compiles the `moderation` block of one policy into a frozen ModerationConfig, or undefined without a block.
 * Without `flag` statements every category is flagged above 0.5. Never throws.
 */
export function compileModeration(blocks: readonly Block[], outer: Env): ModerationConfig | undefined {
  const block = blocks[0];
  if (block === undefined) return undefined;
  let errors = 0;
  const env: Env = { policyId: outer.policyId, report: (d) => { if (d.severity === 'error') errors++; outer.report(d); } };
  const byKw = readBlock(block, MODERATION_SCHEMA, env);
  let failed = false;
  // provider
  let provider: ProviderName = 'builtin';
  let remote: RemoteSettings | null = null;
  let cascade: { low: number; high: number } | null = null;
  const pst = once(byKw.get('provider'), 'provider', env);
  if (pst) {
    const p = readProvider(pst, env);
    if (p === undefined) failed = true;
    else { provider = p.name; remote = p.remote; cascade = p.cascade; }
  }
  if (provider === 'builtin' || cascade !== null) {
    try {
      builtinClassifier();
    } catch (e) {
      reportError(env, 'POL0430', pst?.span ?? block.nameSpan, `the builtin classifier failed to load: ${(e as Error).message}`,
        ['this is a bug in policy-gateway (plugins/moderation/lexicon); please report it']);
      failed = true;
    }
  }
  // flag rules
  const drafts: FlagDraft[] = [];
  for (const st of byKw.get('flag') ?? []) {
    const d = readFlag(st, env);
    if (d === undefined) { failed = true; continue; }
    const redundant = d.cats.every((c) => drafts.some((e) => e.cats.includes(c) && e.threshold <= d.threshold));
    if (redundant && drafts.length > 0) {
      const by = [...new Set(drafts.filter((e) => d.cats.some((c) => e.cats.includes(c))).map((e) => e.rule))];
      reportWarning(env, 'POL0437', d.span, 'flag rule never flags anything new',
        [`every category it covers is already flagged at the same or a lower threshold by ${by.length > 1 ? 'rules at' : 'the rule at'} ${by.join(', ')}`]);
    }
    drafts.push(d);
  }
  if (drafts.length === 0) {
    drafts.push({ cats: CATEGORIES.map((_, i) => i), threshold: MODERATION_DEFAULTS.threshold, rule: ruleRef(block.nameSpan), span: block.nameSpan });
  }
  const flags = CATEGORIES.map((_, c) => Object.freeze(drafts.filter((d) => d.cats.includes(c)).map((d) => Object.freeze({ threshold: d.threshold, rule: d.rule }))));
  // on_error
  let onError: 'open' | 'closed' = 'open';
  const est = once(byKw.get('on_error'), 'on_error', env);
  if (est) {
    noBody(est, env);
    const w = word(est.terms[1]);
    if (w === 'open' || w === 'closed') {
      if (est.terms.length !== 2) { reportError(env, 'POL0434', est.terms[2]!.span, '"on_error" takes one value'); failed = true; } else onError = w;
    } else {
      reportError(env, 'POL0434', (est.terms[1] ?? est.terms[0]!).span, w === undefined ? '"on_error" takes open or closed' : `unknown on_error value "${w}"`,
        [...suggestNotes(w ?? '', ['open', 'closed']), 'open: a provider failure counts as "not flagged"; closed: the request is rejected (503)']);
      failed = true;
    }
  }
  // cache
  let cacheSize: number = MODERATION_DEFAULTS.cacheSize;
  const cst = once(byKw.get('cache'), 'cache', env);
  if (cst) {
    noBody(cst, env);
    const v = cst.terms[1];
    if (identName(v) === 'off' && cst.terms.length === 2) cacheSize = 0;
    else if (v?.kind === 'Number' && (v.unit === 'none' || v.unit === 'count') && Number.isInteger(v.value) && v.value >= 0
      && v.value <= MODERATION_DEFAULTS.maxCacheSize && cst.terms.length === 2) cacheSize = v.value;
    else {
      reportError(env, 'POL0435', (v ?? cst.terms[0]!).span, v === undefined ? '"cache" needs a size' : `invalid cache size ${describeValue(v)}`,
        ['expected a whole number of entries (up to 10M, e.g. cache 10000 or cache 50k) or cache off']);
      failed = true;
    }
    if (provider === 'builtin' && cacheSize > 0 && !failed) {
      reportWarning(env, 'POL0437', cst.terms[0]!.span, '"cache" has no effect with provider "builtin"', ['only remote providers cache results']);
    }
  }
  // scan
  let scan: ScanMode = DEFAULT_SCAN;
  const sst = once(byKw.get('scan'), 'scan', env);
  if (sst) {
    noBody(sst, env);
    const w = word(sst.terms[1]);
    if (w !== undefined && (SCAN_MODES as readonly string[]).includes(w) && sst.terms.length === 2) scan = w as ScanMode;
    else {
      reportError(env, 'POL0438', (sst.terms[1] ?? sst.terms[0]!).span, w === undefined ? '"scan" takes one mode' : `unknown scan mode "${w}"`,
        suggestNotes(w ?? '', SCAN_MODES));
      failed = true;
    }
  }
  if (failed || errors > 0) return undefined;
  return Object.freeze({ policyId: env.policyId, provider, remote, cascade, flags: Object.freeze(flags), onError, cacheSize, scan });
}
