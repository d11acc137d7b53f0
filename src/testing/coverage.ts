// `test --coverage`: which respond rules, allow/deny phrases and redaction detectors of the tested policies no test
// exercised, per file with line numbers (OPA-style). Items come from each policy's source; what a request exercised
// comes from its evaluation trace (the steps explain shows): the rule decide chose, phrases hit, detectors that redacted.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parsePolicy } from '../../grammar/index.ts';
import type { Block, Policy } from '../../grammar/ast.ts';
import type { CompiledPolicySet } from '../policy/types.ts';
import type { TraceRecorder } from '../sdk/trace.ts';

/** One thing a test can exercise. */
export interface CoverageItem {
  readonly kind: 'respond' | 'phrase' | 'detector';
  readonly policyId: string;
  /** The file and line it is written at (a list file's line for phrases from `deny list "…"`). */
  readonly file: string;
  readonly line: number;
  /** As written: `when denylist refuse`, `deny "competitor pricing"`, `email`. */
  readonly text: string;
  exercised: boolean;
}

/** Coverage of one policy file. */
export interface FileCoverage {
  readonly file: string;
  readonly items: readonly CoverageItem[];
}

/** Detector groups whose spans are reported under their members' names (plugins/redactor/README.md). */
const GROUP_NAMES = new Set(['all', 'api_key', 'ip']);

const word = (t: { kind: string; name?: string } | undefined): string | undefined => (t?.kind === 'Ident' ? t.name : undefined);

function respondItems(p: Policy, b: Block, src: string[]): CoverageItem[] {
  const out: CoverageItem[] = [];
  for (const st of b.statements) {
    const w = word(st.terms[0]);
    if (w !== 'when' && w !== 'otherwise') continue;
    out.push({ kind: 'respond', policyId: p.id, file: st.span.file, line: st.span.start.line, text: (src[st.span.start.line - 1] ?? '').trim(), exercised: false });
  }
  return out;
}

async function phraseItems(p: Policy, b: Block): Promise<CoverageItem[]> {
  const out: CoverageItem[] = [];
  for (const st of b.statements) {
    const kind = word(st.terms[0]);
    if (kind !== 'allow' && kind !== 'deny') continue;
    const exact = word(st.terms[1]) === 'exact';
    const first = st.terms[exact ? 2 : 1];
    if (word(first) === 'list') {
      const path = st.terms[exact ? 3 : 2];
      if (path?.kind !== 'String') continue;
      const listFile = join(dirname(st.span.file), path.value);
      let text: string;
      try { text = await readFile(listFile, 'utf8'); } catch { continue; }
      text.split(/\r?\n/).forEach((l, i) => {
        const phrase = l.trim();
        if (phrase && !phrase.startsWith('#')) out.push({ kind: 'phrase', policyId: p.id, file: listFile, line: i + 1, text: `${kind} "${phrase}"`, exercised: false });
      });
      continue;
    }
    for (const term of st.terms.slice(exact ? 2 : 1)) {
      for (const it of term.kind === 'List' ? term.items : [term]) {
        const shown = it.kind === 'String' ? JSON.stringify(it.value) : it.kind === 'Regex' ? `/${it.source}/${it.flags}` : undefined;
        if (shown) out.push({ kind: 'phrase', policyId: p.id, file: it.span.file, line: it.span.start.line, text: `${kind} ${shown}`, exercised: false });
      }
    }
  }
  return out;
}

function detectorItems(p: Policy, b: Block): CoverageItem[] {
  const out: CoverageItem[] = [];
  for (const st of b.statements) {
    const w = word(st.terms[0]);
    if (w === 'style') continue;
    if (w === 'pattern') {
      const label = st.terms[3]?.kind === 'String' ? st.terms[3].value : '[REDACTED]';
      out.push({ kind: 'detector', policyId: p.id, file: st.span.file, line: st.span.start.line, text: `pattern ${label}`, exercised: false });
      continue;
    }
    for (const term of st.terms) {
      for (const it of term.kind === 'List' ? term.items : [term]) {
        if (it.kind === 'Ident') out.push({ kind: 'detector', policyId: p.id, file: it.span.file, line: it.span.start.line, text: it.name, exercised: false });
      }
    }
  }
  return out;
}

/** The redaction type a custom pattern's spans are reported under: its label without brackets, or `custom`. */
function patternType(text: string): string {
  const label = text.slice('pattern '.length);
  return label === '[REDACTED]' ? 'custom' : label.replace(/^\[(.*)\]$/, '$1');
}

/**
 * What the tests exercised, per policy, read from each request's evaluation trace (src/sdk/trace.ts) — the steps
 * `explain` shows — so coverage, explain and a live request's trace never disagree: the respond rule decide chose,
 * the phrases topics hit, the detectors whose spans the redactor recorded in an answer.
 */
export class CoverageRecorder {
  readonly #rules = new Map<string, Set<string>>();
  readonly #hits = new Map<string, Set<string>>();
  readonly #redacted = new Map<string, Set<string>>();

  static #of(m: Map<string, Set<string>>, id: string): Set<string> {
    let s = m.get(id);
    if (!s) m.set(id, (s = new Set()));
    return s;
  }

  /** Notes what one request's trace shows was exercised. */
  observe(policyId: string, trace: TraceRecorder | undefined): void {
    if (!trace) return;
    const rules = CoverageRecorder.#of(this.#rules, policyId);
    const hits = CoverageRecorder.#of(this.#hits, policyId);
    const redacted = CoverageRecorder.#of(this.#redacted, policyId);
    for (const step of trace.snapshot().steps) {
      if (step.plugin === 'decide' && step.kind === 'decide') {
        if (typeof step.rule === 'string') rules.add(step.rule);
        for (const r of (step.rules ?? []) as { rule?: unknown; matched?: unknown }[]) if (r.matched === true && typeof r.rule === 'string') rules.add(r.rule);
      } else if (step.plugin === 'topics' && step.kind === 'topics') {
        for (const h of (step.hits ?? []) as { list?: unknown; phrase?: unknown }[]) if (typeof h.phrase === 'string') hits.add(`${String(h.list)} ${h.phrase}`);
      } else if (step.plugin === 'redactor' && step.kind === 'redaction' && step.scope === 'response') {
        for (const sp of (step.field_spans ?? []) as { type?: unknown }[]) if (typeof sp.type === 'string') redacted.add(sp.type);
      }
    }
  }

  rulesOf(id: string): ReadonlySet<string> { return this.#rules.get(id) ?? new Set(); }
  hitsOf(id: string): ReadonlySet<string> { return this.#hits.get(id) ?? new Set(); }
  redactedOf(id: string): ReadonlySet<string> { return this.#redacted.get(id) ?? new Set(); }
}

/**
 * Coverage of the policies `policyIds` (those the tests named) in `set`: every respond rule, allow/deny phrase (inline
 * or from a list file) and redaction detector their sources write, each marked with whether `seen` saw it exercised.
 * Files that cannot be read again give no items.
 */
export async function computeCoverage(set: CompiledPolicySet, policyIds: ReadonlySet<string>, seen: CoverageRecorder): Promise<FileCoverage[]> {
  const byFile = new Map<string, CoverageItem[]>();
  const files = new Map<string, { policies: Policy[]; lines: string[] }>();
  for (const id of [...policyIds].sort()) {
    const compiled = set.policies.get(id);
    if (!compiled) continue;
    if (!files.has(compiled.file)) {
      let text: string;
      try { text = await readFile(compiled.file, 'utf8'); } catch { continue; }
      files.set(compiled.file, { policies: [...parsePolicy(text, compiled.file).ast.policies], lines: text.split(/\r?\n/) });
    }
    const f = files.get(compiled.file)!;
    const p = f.policies.find((x) => x.id === id);
    if (!p) continue;
    const items: CoverageItem[] = [];
    for (const b of p.blocks) {
      if (b.name === 'respond') items.push(...respondItems(p, b, f.lines));
      else if (b.name === 'topics') items.push(...await phraseItems(p, b));
      else if (b.name === 'redact' && word(b.qualifiers[0]) !== 'request') items.push(...detectorItems(p, b));
    }
    const rules = seen.rulesOf(id);
    const h = seen.hitsOf(id);
    const d = seen.redactedOf(id);
    const named = new Set(items.filter((i) => i.kind === 'detector').map((i) => (i.text.startsWith('pattern ') ? patternType(i.text) : i.text)));
    for (const it of items) {
      if (it.kind === 'respond') it.exercised = rules.has(`${it.file}:${it.line}`);
      else if (it.kind === 'phrase') {
        // Hits name a phrase as written (a regex as /source/flags): `deny "x"` is hit when "x" is.
        const m = /^(allow|deny) (.*)$/.exec(it.text)!;
        const v = m[2]!.startsWith('"') ? JSON.parse(m[2]!) as string : m[2]!;
        it.exercised = h.has(`${m[1]} ${v}`);
      } else if (it.text.startsWith('pattern ')) it.exercised = d.has(patternType(it.text));
      else if (GROUP_NAMES.has(it.text)) it.exercised = [...d].some((k) => !named.has(k));
      else it.exercised = d.has(it.text);
    }
    for (const it of items) {
      const list = byFile.get(it.file) ?? [];
      list.push(it);
      byFile.set(it.file, list);
    }
  }
  return [...byFile].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([file, items]) => ({ file, items: [...items].sort((a, b) => a.line - b.line) }));
}
