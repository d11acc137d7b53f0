// Policy test files (`*.policy.test`, docs/testing-policies.md): parsed with the .policy grammar, then read into test
// cases (request, upstream answer, expectations, clock steps). Problems are POL10xx diagnostics; nothing here runs a case.
import { parsePolicy, type Diagnostic } from '../../grammar/index.ts';
import type { Block, ScalarValue, Span, Statement, Value } from '../../grammar/ast.ts';
import { closestWord } from '../../grammar/suggest.ts';
import { ENDPOINTS, type Endpoint } from '../sdk/types.ts';

/** The file name suffix of policy test files. */
export const TEST_FILE_SUFFIX = '.policy.test';

/** One chat message of a test request. */
export interface TestMessage { readonly role: string; readonly text: string }

/** The request of a step: every field optional, so a step's request overrides the test's field by field. */
export interface RequestSpec {
  endpoint?: Endpoint;
  /** The route: `policy` (`/policy/…`, the default) or `v1` (`/v1/…`). */
  route?: 'policy' | 'v1';
  model?: string;
  messages?: TestMessage[];
  /** Extra request body fields (`body """{…}"""`), merged over the built request. */
  body?: Record<string, unknown>;
  user?: string;
  project?: string;
  target?: string;
  /** A policy key, sent as `Authorization: Bearer …`. */
  key?: string;
  headers?: Record<string, string>;
}

/** What the upstream answers: its text, a whole JSON answer, or the text of SSE chunks split where the test says. */
export type AnswerSpec =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'json'; readonly value: Record<string, unknown> }
  | { readonly kind: 'stream'; readonly chunks: readonly string[] };

/** The fields a case may expect, each compared with what the run gave. */
export const EXPECT_FIELDS = [
  'decision', 'effective_decision', 'reason', 'allowlist_hits', 'denylist_hits', 'categories', 'rollout', 'rule',
  'upstream', 'instruction', 'max_tokens', 'answer', 'redacted', 'status', 'error', 'header',
] as const;
export type ExpectField = typeof EXPECT_FIELDS[number];

/** One expectation: the canonical text of the expected value (compared with the actual value's), and where it is. */
export interface Expectation {
  readonly field: ExpectField;
  /** The header name of a `header` expectation (lower case). */
  readonly name?: string;
  readonly expected: string;
  readonly line: number;
}

/** One step of a case: send the request (`times` times), or set or move the clock. */
export type Step =
  | { readonly kind: 'send'; readonly times: number; readonly request: RequestSpec; readonly answer: AnswerSpec | undefined;
      readonly expects: readonly Expectation[]; readonly line: number; readonly answerSpan?: Span }
  | { readonly kind: 'at'; readonly time: number; readonly line: number }
  | { readonly kind: 'wait'; readonly ms: number; readonly line: number };

/** One test case: `test "name" { … }` inside `policy "id" { … }` of a test file. */
export interface TestCase {
  readonly policyId: string;
  readonly policyIdSpan: Span;
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly steps: readonly Step[];
}

/** A parsed test file: its cases and every problem found (any error means the file's cases do not run). */
export interface TestFile {
  readonly file: string;
  readonly cases: readonly TestCase[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Where a case's clock starts (a fixed instant, so quota windows are the same on every run). */
export const DEFAULT_START = Date.UTC(2026, 0, 1);
/** Most requests one `send` may repeat (a quota test needs a limit's worth; more is a typo). */
export const MAX_REPEAT = 10_000;

const DECISIONS = ['allow', 'rewrite', 'summary', 'escalate', 'refuse'];
const REQUEST_FIELDS = ['endpoint', 'route', 'model', 'message', 'body', 'user', 'project', 'target', 'key', 'header'];
const CASE_STATEMENTS = ['request', 'answer', 'expect', 'send', 'at', 'wait'];
const DURATION_NEEDS = 'a duration such as 30s, 1m or 1h';
/** An ISO 8601 time with its zone (`Z` or an offset). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

type Report = (code: `POL${string}`, span: Span, message: string, notes?: string[], severity?: 'error' | 'warning') => void;

/** The name of a bare word, or undefined. */
const word = (v: Value | undefined): string | undefined => (v?.kind === 'Ident' ? v.name : undefined);
const items = (v: Value): readonly ScalarValue[] => (v.kind === 'List' ? v.items : [v]);
const shown = (v: Value): string =>
  v.kind === 'Ident' ? `"${v.name}"` : v.kind === 'String' ? 'a string' : v.kind === 'Number' ? `${v.raw}` : v.kind === 'Regex' ? 'a regex' : 'a list';

/** Canonical text of a list expectation (`["a", "b"]`, or `[]` for `none`): the same form the runner gives actual lists. */
export function listText(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;
}

/** Reads one statement's values after its keyword; reports and returns undefined when there are not exactly `n`. */
function args(st: Statement, n: number, report: Report, usage: string): Value[] | undefined {
  const rest = st.terms.slice(1);
  if (rest.length !== n || st.body) {
    report('POL1004', st.span, `"${word(st.terms[0])}" takes ${n === 1 ? 'one value' : `${n} values`}${st.body ? ' and no body' : ''}`, [`write ${usage}`]);
    return undefined;
  }
  return rest;
}

/** A single string value, or undefined after a report. */
function stringArg(st: Statement, report: Report, usage: string): string | undefined {
  const a = args(st, 1, report, usage);
  if (!a) return undefined;
  if (a[0]!.kind !== 'String') { report('POL1004', a[0]!.span, `expected a string, found ${shown(a[0]!)}`, [`write ${usage}`]); return undefined; }
  return a[0].value;
}

/** A JSON object from a string value (`"""{…}"""`), or undefined after a report. */
function jsonObject(v: Value, report: Report): Record<string, unknown> | undefined {
  if (v.kind !== 'String') { report('POL1004', v.span, `expected a JSON object in a string, found ${shown(v)}`, ['write body """{ "temperature": 0 }"""']); return undefined; }
  let parsed: unknown;
  try {
    parsed = JSON.parse(v.value);
  } catch (e) {
    report('POL1006', v.span, `invalid JSON: ${(e as Error).message}`);
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) { report('POL1006', v.span, 'expected a JSON object'); return undefined; }
  return parsed as Record<string, unknown>;
}

/** Reads the statements of a `request { … }` body into `into`. */
function readRequest(body: readonly Statement[], into: RequestSpec, report: Report): void {
  for (const st of body) {
    const kw = word(st.terms[0]);
    switch (kw) {
      case 'endpoint': {
        const a = args(st, 1, report, `endpoint ${ENDPOINTS.join('|')}`);
        const e = a && word(a[0]);
        if (a && !ENDPOINTS.includes(e as Endpoint)) report('POL1004', a[0]!.span, `unknown endpoint ${shown(a[0]!)}`, [`expected one of: ${ENDPOINTS.map((x) => `"${x}"`).join(', ')}`]);
        else if (e) into.endpoint = e as Endpoint;
        break;
      }
      case 'route': {
        const a = args(st, 1, report, 'route policy|v1');
        const r = a && word(a[0]);
        if (a && r !== 'policy' && r !== 'v1') report('POL1004', a[0]!.span, `unknown route ${shown(a[0]!)}`, ['expected one of: "policy", "v1"']);
        else if (r) into.route = r as 'policy' | 'v1';
        break;
      }
      case 'model': case 'user': case 'project': case 'target': case 'key': {
        const v = stringArg(st, report, `${kw} "…"`);
        if (v !== undefined) into[kw] = v;
        break;
      }
      case 'message': {
        const a = args(st, 2, report, 'message user "text" (or system, assistant, developer)');
        if (!a) break;
        const role = word(a[0]);
        if (!role || !['user', 'system', 'assistant', 'developer'].includes(role)) {
          report('POL1004', a[0]!.span, `expected a role (user, system, assistant, developer), found ${shown(a[0]!)}`);
        } else if (a[1]!.kind !== 'String') report('POL1004', a[1]!.span, `expected the message text as a string, found ${shown(a[1]!)}`);
        else (into.messages ??= []).push({ role, text: a[1].value });
        break;
      }
      case 'body': {
        const a = args(st, 1, report, 'body """{ "temperature": 0 }"""');
        const v = a && jsonObject(a[0]!, report);
        if (v) into.body = { ...into.body, ...v };
        break;
      }
      case 'header': {
        const a = args(st, 2, report, 'header "x-name" "value"');
        if (!a) break;
        if (a[0]!.kind !== 'String' || a[1]!.kind !== 'String') report('POL1004', st.span, 'a header takes a name and a value, both strings');
        else (into.headers ??= {})[a[0].value.toLowerCase()] = a[1].value;
        break;
      }
      default:
        unknownStatement(st, 'request', REQUEST_FIELDS, report);
    }
  }
}

function unknownStatement(st: Statement, where: string, known: readonly string[], report: Report): void {
  const kw = word(st.terms[0]);
  const guess = kw === undefined ? undefined : closestWord(kw, known);
  report('POL1003', st.terms[0]!.span, kw === undefined ? `expected a statement name in ${where}, found ${shown(st.terms[0]!)}` : `unknown statement "${kw}" in ${where}`,
    [...(guess ? [`did you mean "${guess}"?`] : []), `expected one of: ${known.map((k) => `"${k}"`).join(', ')}`]);
}

/** Reads `answer "text"`, `answer json """{…}"""` or `answer stream "chunk", "chunk"`. */
function readAnswer(st: Statement, report: Report): AnswerSpec | undefined {
  const rest = st.terms.slice(1);
  const usage = 'answer "text", answer json """{…}""" or answer stream "first chunk", "second chunk"';
  if (st.body || rest.length === 0 || rest.length > 2) { report('POL1004', st.span, 'malformed answer', [`write ${usage}`]); return undefined; }
  if (rest.length === 1) {
    if (rest[0]!.kind === 'String') return { kind: 'text', text: rest[0].value };
    report('POL1004', rest[0]!.span, `expected the answer text as a string, found ${shown(rest[0]!)}`, [`write ${usage}`]);
    return undefined;
  }
  const how = word(rest[0]);
  if (how === 'json') {
    const v = jsonObject(rest[1]!, report);
    return v && { kind: 'json', value: v };
  }
  if (how === 'stream') {
    const chunks: string[] = [];
    for (const it of items(rest[1]!)) {
      if (it.kind !== 'String') { report('POL1004', it.span, `stream chunks are strings, found ${shown(it)}`); return undefined; }
      chunks.push(it.value);
    }
    return { kind: 'stream', chunks };
  }
  report('POL1004', rest[0]!.span, `expected "json" or "stream", found ${shown(rest[0]!)}`, [`write ${usage}`]);
  return undefined;
}

/** Canonical expected text of one `expect` statement, or undefined after a report. */
function readExpectation(st: Statement, report: Report): Expectation | undefined {
  const field = word(st.terms[0]);
  if (!field || !(EXPECT_FIELDS as readonly string[]).includes(field)) { unknownStatement(st, 'expect', EXPECT_FIELDS, report); return undefined; }
  const f = field as ExpectField;
  const rest = st.terms.slice(1);
  const line = st.span.start.line;
  const bad = (why: string, notes: string[] = []) => { report('POL1004', (rest[0] ?? st.terms[0]!).span, why, notes); return undefined; };
  if (f === 'header') {
    const [n, v] = rest;
    if (rest.length !== 2 || st.body || n?.kind !== 'String' || (v?.kind !== 'String' && word(v) !== 'none')) {
      return bad('"header" takes a header name and its value (or none)', ['write header "x-ratelimit-remaining-requests" "59"']);
    }
    return { field: f, name: n.value.toLowerCase(), expected: v.kind === 'String' ? JSON.stringify(v.value) : 'none', line };
  }
  if (rest.length !== 1 || st.body) return bad(`"${f}" takes one value${rest.length > 1 ? ' (a list is written "a", "b")' : ''}`);
  const v = rest[0]!;
  const none = word(v) === 'none';
  switch (f) {
    case 'decision': case 'effective_decision':
      if (!DECISIONS.includes(word(v) ?? '')) return bad(`expected a decision, found ${shown(v)}`, [`expected one of: ${DECISIONS.join(', ')}`]);
      return { field: f, expected: word(v)!, line };
    case 'rollout':
      if (word(v) !== 'enforced' && word(v) !== 'shadow') return bad(`expected enforced or shadow, found ${shown(v)}`);
      return { field: f, expected: word(v)!, line };
    case 'upstream':
      if (word(v) !== 'called' && word(v) !== 'not_called') return bad(`expected called or not_called, found ${shown(v)}`);
      return { field: f, expected: word(v)!, line };
    case 'reason': case 'error':
      if (v.kind !== 'String' && v.kind !== 'Ident') return bad(`expected a code, found ${shown(v)}`);
      return { field: f, expected: v.kind === 'String' ? v.value : v.name, line };
    case 'instruction': case 'answer':
      if (none && f === 'instruction') return { field: f, expected: 'none', line };
      if (v.kind !== 'String') return bad(`expected a string, found ${shown(v)}`);
      return { field: f, expected: JSON.stringify(v.value), line };
    case 'status': case 'max_tokens': case 'rule':
      if (none && f !== 'status') return { field: f, expected: 'none', line };
      if (v.kind !== 'Number' || v.unit !== 'none' || !Number.isInteger(v.value)) return bad(`expected a whole number, found ${shown(v)}`);
      return { field: f, expected: String(v.value), line };
    case 'allowlist_hits': case 'denylist_hits': case 'categories': case 'redacted': {
      if (none) return { field: f, expected: '[]', line };
      const out: string[] = [];
      for (const it of items(v)) {
        if (it.kind === 'String') out.push(it.value);
        else if (it.kind === 'Regex' && (f === 'allowlist_hits' || f === 'denylist_hits')) out.push(`/${it.source}/${it.flags}`);
        else if (it.kind === 'Ident' && f === 'redacted') out.push(it.name);
        else return bad(`expected ${f === 'redacted' ? 'detector names' : 'strings'}, found ${shown(it)}`, ['write none for an empty list']);
      }
      return { field: f, expected: listText(f === 'categories' || f === 'redacted' ? out.sort() : out), line };
    }
  }
}

function readExpect(st: Statement, report: Report): Expectation[] {
  const out: Expectation[] = [];
  if (st.terms.length > 1) {
    // `expect decision allow`: one expectation on one line.
    const e = readExpectation({ ...st, terms: st.terms.slice(1) }, report);
    if (e) out.push(e);
    return out;
  }
  if (!st.body) { report('POL1004', st.span, '"expect" needs a body or a field', ['write expect { decision allow } or expect decision allow']); return out; }
  for (const inner of st.body) {
    const e = readExpectation(inner, report);
    if (e) out.push(e);
  }
  return out;
}

/** A duration literal (`30s`, `1m`), in ms. */
function duration(v: Value | undefined): number | undefined {
  return v?.kind === 'Number' && v.unit === 'duration' ? v.value : undefined;
}

/** Reads one `test "name" { … }` block. */
function readCase(block: Block, policyId: string, policyIdSpan: Span, file: string, report: Report): TestCase | undefined {
  const nameTerm = block.qualifiers[0];
  if (block.qualifiers.length !== 1 || nameTerm?.kind !== 'String' || nameTerm.value.trim() === '') {
    report('POL1002', block.nameSpan, 'a test needs a name', ['write test "what it shows" { … }']);
    return undefined;
  }
  const base: RequestSpec = {};
  let baseAnswer: AnswerSpec | undefined;
  let baseAnswerSpan: Span | undefined;
  const baseExpects: Expectation[] = [];
  const steps: Step[] = [];
  // Whether the case wrote any expectation (a wrong one is reported as such, not as "expects nothing").
  const wroteExpect = block.statements.some((st) => word(st.terms[0]) === 'expect' || (word(st.terms[0]) === 'send' && st.body?.some((i) => word(i.terms[0]) === 'expect')));
  for (const st of block.statements) {
    const kw = word(st.terms[0]);
    switch (kw) {
      case 'request':
        if (st.terms.length !== 1 || !st.body) { report('POL1004', st.span, '"request" takes a body', ['write request { message user "Hi" }']); break; }
        readRequest(st.body, base, report);
        break;
      case 'answer': {
        const a = readAnswer(st, report);
        if (a) { baseAnswer = a; baseAnswerSpan = st.span; }
        break;
      }
      case 'expect':
        baseExpects.push(...readExpect(st, report));
        break;
      case 'at': {
        const s = st.terms.length === 2 && !st.body && st.terms[1]!.kind === 'String' ? st.terms[1].value : undefined;
        const t = s === undefined ? NaN : Date.parse(s);
        // A zone is required: a time without one would be read in the machine's zone, and runs would differ.
        if (!Number.isFinite(t) || !ISO_TIME.test(s!)) { report('POL1007', st.span, 'invalid time', ['write at "2026-01-01T09:00:00Z" (ISO 8601, with Z or an offset such as +01:00)']); break; }
        steps.push({ kind: 'at', time: t, line: st.span.start.line });
        break;
      }
      case 'wait': {
        const ms = st.terms.length === 2 && !st.body ? duration(st.terms[1]) : undefined;
        if (ms === undefined) { report('POL1007', st.span, 'invalid wait', [`write wait and ${DURATION_NEEDS}`]); break; }
        steps.push({ kind: 'wait', ms, line: st.span.start.line });
        break;
      }
      case 'send': {
        let times = 1;
        if (st.terms.length > 2 || (st.terms[1] && (st.terms[1].kind !== 'Number' || st.terms[1].unit !== 'none' || !Number.isInteger(st.terms[1].value) || st.terms[1].value < 1 || st.terms[1].value > MAX_REPEAT))) {
          report('POL1004', st.span, `"send" takes an optional count from 1 to ${MAX_REPEAT}`, ['write send 60 { expect decision allow }']);
          break;
        }
        if (st.terms[1]?.kind === 'Number') times = st.terms[1].value;
        const request: RequestSpec = {};
        let answer: AnswerSpec | undefined;
        let answerSpan: Span | undefined;
        const expects: Expectation[] = [];
        for (const inner of st.body ?? []) {
          const ik = word(inner.terms[0]);
          if (ik === 'request' && inner.body && inner.terms.length === 1) readRequest(inner.body, request, report);
          else if (ik === 'answer') {
            const a = readAnswer(inner, report);
            if (a) { answer = a; answerSpan = inner.span; }
          }
          else if (ik === 'expect') expects.push(...readExpect(inner, report));
          else unknownStatement(inner, 'send', ['request', 'answer', 'expect'], report);
        }
        steps.push({ kind: 'send', times, request, answer, expects, line: st.span.start.line, ...(answerSpan ? { answerSpan } : {}) });
        break;
      }
      default:
        unknownStatement(st, 'a test', CASE_STATEMENTS, report);
    }
  }
  // A case without `send` steps sends its request once; the case's expectations apply to every send.
  const sends = steps.filter((s) => s.kind === 'send');
  const resolved: Step[] = sends.length === 0 ? [...steps, { kind: 'send', times: 1, request: {}, answer: undefined, expects: [], line: block.span.start.line }] : steps;
  const final = resolved.map((s): Step => s.kind !== 'send' ? s : {
    ...s,
    request: { ...base, ...s.request, headers: { ...base.headers, ...s.request.headers }, body: { ...base.body, ...s.request.body } },
    answer: s.answer ?? baseAnswer,
    ...(s.answer ? {} : baseAnswerSpan ? { answerSpan: baseAnswerSpan } : {}),
    expects: [...baseExpects, ...s.expects],
  });
  if (!wroteExpect) {
    report('POL1005', block.nameSpan, `test "${nameTerm.value}" expects nothing`, ['add expect { … } with what the request must give'], 'warning');
  }
  return { policyId, policyIdSpan, name: nameTerm.value, file, line: block.span.start.line, steps: final };
}

/**
 * Reads a policy test file: `policy "id" { test "name" { … } … }` sections, in the .policy language. Never throws:
 * lexical and syntax problems are POL01xx/POL02xx diagnostics as for .policy files, test-file problems POL10xx.
 */
export function parseTestFile(text: string, file: string): TestFile {
  const parsed = parsePolicy(text, file);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const report: Report = (code, span, message, notes, severity = 'error') => {
    diagnostics.push(notes?.length ? { code, severity, message, span, notes } : { code, severity, message, span });
  };
  const cases: TestCase[] = [];
  for (const p of parsed.ast.policies) {
    const names = new Map<string, number>();
    for (const st of p.settings) {
      report('POL1001', st.terms[0]!.span, `expected a test, found ${shown(st.terms[0]!)}`,
        ['a test file holds tests of a policy: policy "id" { test "what it shows" { … } }']);
    }
    for (const b of p.blocks) {
      if (b.name !== 'test') {
        const guess = closestWord(b.name, ['test']);
        report('POL1001', b.nameSpan, `expected a test, found "${b.name}"`,
          [...(guess ? ['did you mean "test"?'] : []), 'a test file holds tests of a policy: policy "id" { test "what it shows" { … } }']);
        continue;
      }
      const c = readCase(b, p.id, p.idSpan, file, report);
      if (!c) continue;
      const first = names.get(c.name);
      if (first !== undefined) report('POL1002', b.qualifiers[0]!.span, `duplicate test name "${c.name}"`, [`first defined at line ${first}`]);
      else names.set(c.name, c.line);
      cases.push(c);
    }
  }
  diagnostics.sort((a, b) => a.span.start.offset - b.span.start.offset);
  return { file, cases, diagnostics };
}
