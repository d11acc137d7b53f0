// The `escalation { … }` sub-block of `respond`: its settings (webhook url, retries, per-attempt timeout, backoff,
// whether the prompt is sent), checked and read into a draft that compileRespond completes with the defaults.
// The webhook call itself is escalation.ts.
import type { Span, Statement, Value } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import { describeValue, identName, reportError, ruleRef, suggestNotes } from '../../src/sdk/block-helpers.ts';
import { defineBlockSchema, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';

/** The settings of the `escalation { … }` sub-block: keywords, values, repeat rule, reference table. */
export const ESCALATION_SCHEMA = defineBlockSchema({
  block: 'escalation',
  statements: [
    {
      keyword: 'url', syntax: 'url "https://…"', meaning: 'absolute `http://` or `https://` URL the event is POSTed to (required)', default: '—',
      values: [{ kind: 'string', name: 'url' }],
      once: { code: 'POL0464', message: 'duplicate escalation setting "url"', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
    {
      keyword: 'retries', syntax: 'retries N', meaning: 'retries after the first attempt, 0–10', default: '`3`',
      values: [{ kind: 'number', name: 'N', unit: 'none', min: 0, max: 10 }],
      once: { code: 'POL0464', message: 'duplicate escalation setting "retries"', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
    {
      keyword: 'timeout', syntax: 'timeout D', meaning: 'per-attempt timeout, 1ms–60s', default: '`5s`',
      values: [{ kind: 'number', name: 'D', unit: 'duration', min: 1, max: 60_000 }],
      once: { code: 'POL0464', message: 'duplicate escalation setting "timeout"', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
    {
      keyword: 'backoff', syntax: 'backoff D', meaning: 'wait before the first retry; doubles each retry (capped at 30s), 0–60s', default: '`250ms`',
      values: [{ kind: 'number', name: 'D', unit: 'duration', min: 0, max: 60_000 }],
      once: { code: 'POL0464', message: 'duplicate escalation setting "backoff"', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
    {
      keyword: 'include_prompt', syntax: 'include_prompt on\\|off', meaning: 'add the request\'s `messages` to the event', default: '`off`',
      values: [{ kind: 'word', words: ['on', 'off'] }],
      once: { code: 'POL0464', message: 'duplicate escalation setting "include_prompt"', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
  ],
});

/** Settings of the `escalation { … }` sub-block. */
export const ESCALATION_SETTINGS: readonly string[] = ESCALATION_SCHEMA.keywords;

/** The `escalation { … }` settings. */
export interface EscalationConfig {
  readonly url: string;
  /** Retries after the first attempt (total attempts = retries + 1). */
  readonly retries: number;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  /** First backoff delay; doubles after each failed attempt. */
  readonly backoffMs: number;
  readonly includePrompt: boolean;
}

type Env = Pick<CompileEnv, 'report' | 'policyId'>;
/** The settings an `escalation` block gave (the rest come from the defaults). */
export type EscalationDraft = { -readonly [K in keyof EscalationConfig]?: EscalationConfig[K] };

/** Reads a duration term (`2s`, `250ms`) within [min, max] ms. */
function readDuration(v: Value | undefined, name: string, minMs: number, maxMs: number, at: Span, env: Env): number | undefined {
  if (v === undefined || v.kind !== 'Number' || v.unit !== 'duration') {
    reportError(env, 'POL0470', v?.span ?? at, `"${name}" needs a duration`, [`e.g. ${name} ${name === 'backoff' ? '250ms' : '2s'}`]);
    return undefined;
  }
  if (v.value < minMs || v.value > maxMs) {
    reportError(env, 'POL0470', v.span, `"${name}" ${v.raw} is out of range`, [`expected between ${minMs}ms and ${maxMs / 1000}s`]);
    return undefined;
  }
  return v.value;
}

/** Reads the `escalation { … }` sub-block. */
export function readEscalation(st: Statement, env: Env): EscalationDraft | undefined {
  if (st.terms.length !== 1 || !st.body) {
    reportError(env, 'POL0470', st.span, 'expected escalation { url "…"; retries 3; timeout 2s; include_prompt off }');
    return undefined;
  }
  const out: EscalationDraft = {};
  const seen = new Map<string, Span>();
  let ok = true;
  for (const s of st.body) {
    const kwTerm = s.terms[0];
    const kw = identName(kwTerm);
    if (kw === undefined || !ESCALATION_SETTINGS.includes(kw)) {
      const shown = kwTerm ? describeValue(kwTerm) : '""';
      reportError(env, 'POL0470', kwTerm?.span ?? s.span, `unknown escalation setting ${shown}`, suggestNotes(kw ?? shown, ESCALATION_SETTINGS));
      ok = false;
      continue;
    }
    const prev = seen.get(kw);
    if (prev) {
      reportRepeat(env, statementSchema(ESCALATION_SCHEMA, kw), kwTerm!.span, prev);
      ok = false;
      continue;
    }
    seen.set(kw, s.span);
    const v = s.terms[1];
    if (s.terms.length > 2 || s.body) {
      reportError(env, 'POL0470', s.span, `"${kw}" takes one value`);
      ok = false;
      continue;
    }
    switch (kw) {
      case 'url': {
        if (v === undefined || v.kind !== 'String') {
          reportError(env, 'POL0469', v?.span ?? s.span, '"url" needs a string', ['e.g. url "https://hooks.example.com/policy"']);
          ok = false;
          break;
        }
        let u: URL | undefined;
        try { u = new URL(v.value); } catch { u = undefined; }
        if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
          reportError(env, 'POL0469', v.span, `invalid escalation url "${v.value}"`, ['expected an absolute http:// or https:// URL']);
          ok = false;
          break;
        }
        out.url = u.href;
        break;
      }
      case 'retries':
        if (v === undefined || v.kind !== 'Number' || v.unit !== 'none' || !Number.isInteger(v.value) || v.value > 10) {
          reportError(env, 'POL0470', v?.span ?? s.span, '"retries" needs a whole number from 0 to 10');
          ok = false;
        } else out.retries = v.value;
        break;
      case 'timeout': {
        const ms = readDuration(v, 'timeout', 1, 60_000, s.span, env);
        if (ms === undefined) ok = false; else out.timeoutMs = ms;
        break;
      }
      case 'backoff': {
        const ms = readDuration(v, 'backoff', 0, 60_000, s.span, env);
        if (ms === undefined) ok = false; else out.backoffMs = ms;
        break;
      }
      case 'include_prompt': {
        const n = identName(v);
        if (n === 'on' || n === 'off') out.includePrompt = n === 'on';
        else {
          reportError(env, 'POL0470', v?.span ?? s.span, `"include_prompt" needs on or off${v ? `, found ${describeValue(v)}` : ''}`,
            n ? suggestNotes(n, ['on', 'off']) : ['expected one of: "on", "off"']);
          ok = false;
        }
        break;
      }
    }
  }
  return ok ? out : undefined;
}
