// Compile step of the `redact` block: reads scope, detector names, custom patterns and the replacement style,
// reports POL0440–POL0459, and builds one frozen RedactionEngine per side (request / response).
import type { Block, RegexValue, Span, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import {
  compileUserRegex, describeValue, flattenTerm, identName, reportError, reportWarning, ruleRef, suggestNotes,
} from '../../src/sdk/block-helpers.ts';
import { defineBlockSchema, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import { BUILTIN_DETECTORS, DETECTOR_GROUPS, DETECTOR_NAMES, type Detector } from './detectors.ts';
import { customDetector } from './custom.ts';
import { RedactionEngine, type RedactStyle } from './engine.ts';

/** Block qualifiers: which side(s) a `redact` block applies to. `response` when none is given. */
export const SCOPES: readonly string[] = Object.freeze(['response', 'request', 'both']);
/** Statement keywords besides detector names. */
export const KEYWORDS: readonly string[] = Object.freeze(['pattern', 'style']);

/**
 * The `redact` block's schema, for its reference table and the `style` repeat rule: the qualifier and detector lists
 * are constructs of their own (the groups' rows follow DETECTOR_GROUPS); compileRedact reads every statement itself.
 */
export const REDACT_SCHEMA = defineBlockSchema({
  block: 'redact',
  column: 'construct',
  preamble: [
    { syntax: 'qualifier `response`, `request`, `both`', meaning: 'which side is redacted: `response` (every choice\'s content, refusal and reasoning text, tool-call arguments), `request` (every message before it goes upstream: string content, text parts, tool-call arguments), or both. At most one qualifier (POL0441)', default: '`response`' },
    { syntax: 'detector list', meaning: 'enables built-in detectors by name or group (table below), separated by commas; one list per line, or several lines', default: '— (a block that enables nothing is a warning, POL0446)' },
    { syntax: '`all`', meaning: 'every built-in detector', default: '—' },
    ...Object.entries(DETECTOR_GROUPS).filter(([g]) => g !== 'all')
      .map(([g, names]) => ({ syntax: `\`${g}\``, meaning: `group: ${names.map((n) => `\`${n}\``).join(', ')}`, default: '—' })),
  ],
  statements: [
    { keyword: 'pattern', syntax: 'pattern /re/ [as "L"]', meaning: 'a custom detector. The regex runs on RE2 (flags `i m s u`); its longest match must be bounded (POL0443: `/ACME-\\d+/` is refused, `/ACME-\\d{1,64}/` is fine) and at most 512 characters (POL0450). `L` (1–64 printable characters) replaces the match; the metric and audit type is `L` without surrounding brackets (`[ACCOUNT]` → `ACCOUNT`)', default: 'label `[REDACTED]`, type `custom`' },
    {
      keyword: 'style', syntax: 'style label', meaning: 'replace with the detector\'s label: `[EMAIL]`, `[PHONE]`, `[CREDIT_CARD]`, `[US_SSN]`, `[IBAN]`, `[IPV4]`, `[IPV6]`, `[JWT]`, `[URL_CREDENTIALS]`, `[API_KEY]`, `[PRIVATE_KEY]`, `[TOKEN]`, or the pattern\'s label', default: '✓ (the default style)',
      values: [{ kind: 'word', words: ['label', 'mask', 'partial', 'hash'] }],
      moreRows: [
        { syntax: '`style mask ["x"]`', meaning: 'replace every value with the fixed text (1–32 characters), hiding its length', default: '`"****"`' },
        { syntax: '`style partial [n]`', meaning: 'keep the last `n` letters or digits (1–8; never more than half of them), replace the others with `*`, keep separators: `**** **** **** 1111`', default: '`4`' },
        { syntax: '`style hash`', meaning: 'a stable keyed token such as `[EMAIL:3f9a1c2b]` (HMAC-SHA256 of type and value): same value, same token, not reversible. Key: the environment variable `POLICY_GATEWAY_REDACT_KEY`; without it a random key per process', default: '—' },
      ],
      once: { code: 'POL0449', message: 'more than one "style" in this redact block', notes: (first) => [`first given at ${ruleRef(first)}`] },
    },
  ],
});
/** Replacement styles. */
export const STYLES: readonly string[] = Object.freeze(['label', 'mask', 'partial', 'hash']);
/** Longest match a custom pattern may have (it becomes the streaming hold-back window). */
export const MAX_PATTERN_LENGTH = 512;
/** Default replacement of `style mask`. */
export const DEFAULT_MASK = '****';
/** Default number of trailing characters `style partial` keeps. */
export const DEFAULT_PARTIAL = 4;

/** One side's compiled redaction (request or response). Deep-frozen. */
export interface RedactSide {
  readonly engine: RedactionEngine;
  /** Detector type names in priority order (custom pattern types first). */
  readonly types: readonly string[];
  readonly style: RedactStyle;
  /** `file:line` of the block that configured this side. */
  readonly rule: string;
  /** Characters a stream holds back while no sensitive value is in progress (the delay this side adds). */
  readonly holdBackChars: number;
  /** Most characters a stream can hold at once: the window plus the longest possible match. */
  readonly maxHoldChars: number;
}

/** The compiled `redact` block(s) of one policy. */
export interface RedactConfig {
  readonly policyId: string;
  readonly request: RedactSide | undefined;
  readonly response: RedactSide | undefined;
  /** Streaming hold-back window of the response side in characters (0 when responses are not redacted). */
  readonly holdBackChars: number;
  /** Worst-case characters held by one response stream (0 when responses are not redacted). */
  readonly maxHoldChars: number;
}

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

interface Draft {
  readonly block: Block;
  readonly names: Set<string>;
  readonly custom: Detector[];
  style: RedactStyle | undefined;
  styleSpan: Span | undefined;
  /** Errors reported while reading the block (an unknown detector, a bad pattern): then "enables no detector" is noise. */
  errors: number;
}

const PATTERN_SHAPE = 'write pattern /ACME-\\d{6}/ as "[ACCOUNT]"';
const STYLE_SHAPE = 'expected: style label | style mask "***" | style partial 4 | style hash';

/** A rewrite of an unbounded regex with `+`, `*` and `{n,}` capped at 64 repetitions, as a suggestion. */
export function boundedSuggestion(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') { out += c + (source[i + 1] ?? ''); i++; continue; }
    if (inClass) { if (c === ']') inClass = false; out += c; continue; }
    if (c === '[') { inClass = true; out += c; continue; }
    if (c === '+' || c === '*') {
      const lazy = source[i + 1] === '?';
      out += c === '+' ? '{1,64}' : '{0,64}';
      if (lazy) { out += '?'; i++; }
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+),\}/.exec(source.slice(i));
      if (m) { out += `{${m[1]},${Math.max(64, +m[1]!)}}`; i += m[0].length - 1; continue; }
    }
    out += c;
  }
  return out;
}

/** The scope of a block from its qualifiers; reports POL0441 and returns undefined when they are wrong. */
function readScope(block: Block, env: Env): 'response' | 'request' | 'both' | undefined {
  if (block.qualifiers.length === 0) return 'response';
  const q = block.qualifiers[0]!;
  const name = identName(q);
  if (block.qualifiers.length > 1) {
    reportError(env, 'POL0441', block.qualifiers[1]!.span, 'a "redact" block takes one scope',
      ['write redact response { … }, redact request { … } or redact both { … }']);
    return undefined;
  }
  if (name === undefined || !SCOPES.includes(name)) {
    reportError(env, 'POL0441', q.span, `unknown redact scope ${describeValue(q)}`,
      suggestNotes(name ?? describeValue(q), SCOPES));
    return undefined;
  }
  return name as 'response' | 'request' | 'both';
}

function readDetectors(st: Statement, draft: Draft, env: Env): void {
  if (st.terms.length > 1) {
    reportError(env, 'POL0442', st.terms[1]!.span, `unexpected ${describeValue(st.terms[1]!)} after ${describeValue(st.terms[0]!)}`,
      ['separate detector names with commas: email, phone, credit_card']);
    return;
  }
  for (const item of flattenTerm(st.terms[0]!)) {
    const name = identName(item);
    if (name === undefined) {
      reportError(env, 'POL0440', item.span, `expected a detector name, found ${describeValue(item)}`,
        [`detectors: ${DETECTOR_NAMES.map((n) => `"${n}"`).join(', ')}`, 'custom patterns: pattern /regex/ as "[LABEL]"']);
      continue;
    }
    if (!DETECTOR_NAMES.includes(name)) {
      reportError(env, 'POL0440', item.span, `unknown detector "${name}"`, suggestNotes(name, [...DETECTOR_NAMES, ...KEYWORDS]));
      continue;
    }
    if (draft.names.has(name)) {
      reportWarning(env, 'POL0447', item.span, `detector "${name}" is listed twice`);
      continue;
    }
    if (draft.names.has('all') || (name === 'all' && draft.names.size > 0)) {
      reportWarning(env, 'POL0454', item.span, '"all" already enables every built-in detector', ['list either "all" or single detectors']);
    }
    draft.names.add(name);
  }
}

const LABEL_RE = /^[^\u0000-\u001f\u007f]{1,64}$/;

function readPattern(st: Statement, draft: Draft, env: Env): void {
  const head = st.terms[0]!;
  const rv = st.terms[1];
  if (rv === undefined || rv.kind !== 'Regex') {
    reportError(env, 'POL0442', (rv ?? head).span, rv ? `expected a regex after "pattern", found ${describeValue(rv)}` : '"pattern" needs a regex', [PATTERN_SHAPE]);
    return;
  }
  let label = '[REDACTED]';
  let type = 'custom';
  if (st.terms.length > 2) {
    const kw = identName(st.terms[2]);
    const lv = st.terms[3];
    if (kw !== 'as' || lv === undefined || lv.kind !== 'String' || st.terms.length > 4) {
      const bad = kw !== 'as' ? st.terms[2]! : (lv && lv.kind !== 'String' ? lv : st.terms[4] ?? st.terms[2]!);
      reportError(env, 'POL0442', bad.span, `unexpected ${describeValue(bad)} in pattern statement`, [PATTERN_SHAPE]);
      return;
    }
    if (!LABEL_RE.test(lv.value)) {
      reportError(env, 'POL0448', lv.span, lv.value === '' ? 'empty redaction label' : 'redaction label is too long or has control characters',
        ['a label is 1–64 printable characters, e.g. "[ACCOUNT]"']);
      return;
    }
    label = lv.value;
    type = typeOfLabel(label);
  }
  const re = compileUserRegex(rv as RegexValue, env);
  if (!re) return;
  if (!Number.isFinite(re.maxLength)) {
    const fix = boundedSuggestion(rv.source);
    reportError(env, 'POL0443', rv.span, `pattern ${describeValue(rv)} has no bounded match length`, [
      'the streaming redactor holds back as many characters as the longest possible match, so it must be bounded',
      fix !== rv.source ? `bound the repetitions, e.g. /${fix}/${rv.flags}` : 'replace "+" and "*" by bounded repetitions such as {1,64}',
    ]);
    return;
  }
  const det = customDetector(re, label, type);
  if (det.triggerMax > MAX_PATTERN_LENGTH) {
    reportError(env, 'POL0450', rv.span, `pattern ${describeValue(rv)} can match up to ${det.triggerMax} characters`,
      [`at most ${MAX_PATTERN_LENGTH} are allowed: the longest match is how much streamed text is held back`]);
    return;
  }
  draft.custom.push(det);
}

/** Metric and audit type of a custom label: the label without surrounding brackets (`[ACCOUNT]` → `ACCOUNT`). */
export function typeOfLabel(label: string): string {
  const inner = label.startsWith('[') && label.endsWith(']') && label.length > 2 ? label.slice(1, -1) : label;
  return inner.trim() === '' ? 'custom' : inner.trim();
}

function readStyle(st: Statement, draft: Draft, env: Env): void {
  const head = st.terms[0]!;
  if (draft.style !== undefined) {
    reportRepeat(env, statementSchema(REDACT_SCHEMA, 'style'), head.span, draft.styleSpan!);
    return;
  }
  const kv = st.terms[1];
  const kind = identName(kv);
  if (kind === undefined) {
    reportError(env, 'POL0444', (kv ?? head).span, kv ? `expected a style name, found ${describeValue(kv)}` : '"style" needs a style name', [STYLE_SHAPE]);
    return;
  }
  if (!STYLES.includes(kind)) {
    reportError(env, 'POL0444', kv!.span, `unknown redaction style "${kind}"`, suggestNotes(kind, STYLES));
    return;
  }
  const arg = st.terms[2];
  if (st.terms.length > 3) {
    reportError(env, 'POL0444', st.terms[3]!.span, `unexpected ${describeValue(st.terms[3]!)} in style statement`, [STYLE_SHAPE]);
    return;
  }
  let style: RedactStyle;
  switch (kind) {
    case 'mask': {
      let mask = DEFAULT_MASK;
      if (arg !== undefined) {
        if (arg.kind !== 'String') {
          reportError(env, 'POL0453', arg.span, `"mask" takes a string, found ${arg.kind === 'Ident' ? 'the bare word ' : ''}${describeValue(arg)}`, ['e.g. style mask "***"']);
          return;
        }
        if (arg.value.length === 0 || arg.value.length > 32 || !LABEL_RE.test(arg.value)) {
          reportError(env, 'POL0453', arg.span, 'mask must be 1–32 printable characters');
          return;
        }
        mask = arg.value;
      }
      style = Object.freeze({ kind: 'mask', mask });
      break;
    }
    case 'partial': {
      let keep = DEFAULT_PARTIAL;
      if (arg !== undefined) {
        if (arg.kind !== 'Number' || arg.unit !== 'none' || !Number.isInteger(arg.value) || arg.value < 1 || arg.value > 8) {
          reportError(env, 'POL0452', arg.span, `"partial" takes a whole number of characters from 1 to 8, found ${describeValue(arg)}`,
            ['e.g. style partial 4 (keeps the last 4 letters or digits)']);
          return;
        }
        keep = arg.value;
      }
      style = Object.freeze({ kind: 'partial', keep, maskChar: '*' });
      break;
    }
    default:
      if (arg !== undefined) {
        reportError(env, 'POL0444', arg.span, `style "${kind}" takes no value`, [STYLE_SHAPE]);
        return;
      }
      style = Object.freeze({ kind: kind as 'label' | 'hash' });
  }
  draft.style = style;
  draft.styleSpan = st.span;
}

function readBlock(block: Block, outer: Env): Draft {
  const draft: Draft = { block, names: new Set(), custom: [], style: undefined, styleSpan: undefined, errors: 0 };
  const env: Env = { policyId: outer.policyId, report: (d) => { if (d.severity === 'error') draft.errors++; outer.report(d); } };
  for (const st of block.statements) {
    const kw = identName(st.terms[0]);
    if (st.body) {
      reportError(env, 'POL0442', st.span, `${st.terms[0] ? describeValue(st.terms[0]) : 'statement'} takes no { … } block`);
      continue;
    }
    if (kw === 'pattern') readPattern(st, draft, env);
    else if (kw === 'style') readStyle(st, draft, env);
    else readDetectors(st, draft, env);
  }
  return draft;
}

function buildSide(draft: Draft): RedactSide | undefined {
  const enabled = new Set<string>();
  for (const n of draft.names) for (const d of DETECTOR_GROUPS[n] ?? [n]) enabled.add(d);
  const detectors: Detector[] = [...draft.custom, ...BUILTIN_DETECTORS.filter((d) => enabled.has(d.name))];
  if (detectors.length === 0) return undefined;
  const style = draft.style ?? Object.freeze({ kind: 'label' as const });
  const engine = new RedactionEngine(detectors, style);
  const longest = Math.max(...detectors.map((d) => d.maxLength));
  return Object.freeze({
    engine,
    types: Object.freeze([...new Set(detectors.map((d) => d.name))]),
    style,
    rule: ruleRef(draft.block.nameSpan),
    holdBackChars: engine.holdBack,
    maxHoldChars: engine.holdBack + longest,
  });
}

/**
 * Compiles the `redact` block(s) of one policy into a frozen RedactConfig; never throws, reports through `env`.
 * At most one block may cover each side (`both` covers both). Returns undefined when no block enables anything.
 */
export function compileRedact(blocks: readonly Block[], env: Env): RedactConfig | undefined {
  if (blocks.length === 0) return undefined;
  let request: RedactSide | undefined;
  let response: RedactSide | undefined;
  let requestBlock: Block | undefined;
  let responseBlock: Block | undefined;
  for (const block of blocks) {
    const scope = readScope(block, env);
    const draft = readBlock(block, env);
    if (scope === undefined) continue;
    const covers = scope === 'both' ? ['request', 'response'] : [scope];
    let clash = false;
    for (const side of covers) {
      const prev = side === 'request' ? requestBlock : responseBlock;
      if (prev) {
        reportError(env, 'POL0445', block.nameSpan, `more than one redact block applies to ${side}s`,
          [`first given at ${ruleRef(prev.nameSpan)}`, 'use one block per side, or one "redact both" block']);
        clash = true;
      }
    }
    if (clash) continue;
    const side = buildSide(draft);
    if (side === undefined && draft.errors === 0) {
      reportWarning(env, 'POL0446', block.nameSpan, 'this redact block enables no detector',
        ['list detectors such as email, phone, credit_card (or all), or add pattern /regex/ as "[LABEL]"']);
    }
    if (covers.includes('request')) { request = side; requestBlock = block; }
    if (covers.includes('response')) { response = side; responseBlock = block; }
  }
  if (request === undefined && response === undefined) return undefined;
  return Object.freeze({
    policyId: env.policyId,
    request,
    response,
    holdBackChars: response?.holdBackChars ?? 0,
    maxHoldChars: response?.maxHoldChars ?? 0,
  });
}
