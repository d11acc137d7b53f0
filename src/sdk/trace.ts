// The evaluation trace: a recorder a request context carries only when tracing is on (`explain`, the live debug
// header). Plugins record their own steps through `ctx.trace?.add(…)`, so with tracing off a hook pays one null check.
// Steps carry rule ids (`file:line`), offsets and spans; matched text only where the recorder's text mode allows it.

/** A span of text a step points at: an item of the prompt (message index) or an answer field, with character offsets. */
export interface TraceSpan {
  /** Index of the prompt item (chat message, Responses input item, …) the text is in; -1 for an answer field. */
  readonly item: number;
  /** Offsets in that text (UTF-16 code units, end exclusive). */
  readonly start: number;
  readonly end: number;
  /** The text at the span (left out of the snapshot unless the text mode allows it: see TraceTextMode). */
  text?: string;
}

/**
 * One step of an evaluation, in the decision flow's order (DESIGN §3: metadata, auth, quota, rollout, topics,
 * moderation, decide, redactor, auditor). `plugin` names who recorded it; `kind` says what it is; `rule` is the
 * `file:line` of the policy statement involved, when one is. The other members are the step's own, plain JSON.
 */
export interface TraceStep {
  readonly plugin: string;
  readonly kind: string;
  readonly rule?: string | null;
  readonly [member: string]: unknown;
}

/**
 * Who may read the matched text a trace holds. `all`: every text (the `explain` CLI and library: the caller holds the
 * request). `audit`: only what the policy's audit record would capture — prompt text only when the auditor calls
 * `allowPromptText()` (a policy with `prompts on`) and the request had nothing redacted, and never the original
 * text of a redacted span. Steps record text as members named `text` (prompt text) and `original` (the text a
 * redaction replaced); `snapshot()` leaves out what the mode does not allow.
 */
export type TraceTextMode = 'all' | 'audit';

/** Most steps one trace keeps (a bound on the live trace's size); later steps are counted in `dropped`. */
export const MAX_TRACE_STEPS = 256;
/** Longest matched text a step keeps (longer text is cut, with `…`). */
export const MAX_TRACE_TEXT = 200;

/** Longest list a step keeps in a snapshot (spans, rules, hits); the rest is summed up as `… N more`. */
export const MAX_TRACE_LIST = 100;

/** What a trace holds when it is read: plain JSON. */
export interface TraceSnapshot {
  readonly steps: readonly TraceStep[];
  /** Steps left out because the trace was full (MAX_TRACE_STEPS). */
  readonly dropped: number;
  /** Whether matched prompt text is shown (`all` mode, or `audit` mode with `prompts on`). */
  readonly promptText: boolean;
}

/** Records the steps of one request's evaluation. One per traced request; never shared. */
export class TraceRecorder {
  readonly textMode: TraceTextMode;
  readonly #steps: TraceStep[] = [];
  #dropped = 0;
  #promptAllowed = false;
  #requestRedacted = false;

  constructor(textMode: TraceTextMode) {
    this.textMode = textMode;
  }

  /** Adds a step (kept up to MAX_TRACE_STEPS; later ones are only counted). */
  add(step: TraceStep): void {
    if (this.#steps.length < MAX_TRACE_STEPS) this.#steps.push(step);
    else this.#dropped++;
  }

  /** Called by the auditor of a policy whose audit captures prompt text (`prompts on`). */
  allowPromptText(): void {
    this.#promptAllowed = true;
  }

  /** Called by the redactor when it redacted the request: the audit then holds only the redacted prompt. */
  requestRedacted(): void {
    this.#requestRedacted = true;
  }

  /** Whether prompt text is shown (decided when the trace is read: the auditor runs last). */
  get showsPromptText(): boolean {
    return this.textMode === 'all' || (this.#promptAllowed && !this.#requestRedacted);
  }

  /** The steps recorded, as plain JSON, without the text the mode does not allow. */
  snapshot(): TraceSnapshot {
    const prompt = this.showsPromptText;
    const original = this.textMode === 'all';
    const steps = this.#steps.map((s) => filterText(s, prompt, original, 0) as TraceStep);
    return { steps, dropped: this.#dropped, promptText: prompt };
  }
}

/** `text` cut to MAX_TRACE_TEXT characters (a trace never carries a whole prompt). */
export function traceText(text: string): string {
  return text.length <= MAX_TRACE_TEXT ? text : `${text.slice(0, MAX_TRACE_TEXT - 1)}…`;
}

/** A copy of a step's JSON without `text` (unless `prompt`) and `original` (unless `original`) members. Steps are shallow. */
function filterText(v: unknown, prompt: boolean, original: boolean, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > 8) return v;
  if (Array.isArray(v)) {
    const kept = v.slice(0, MAX_TRACE_LIST).map((x) => filterText(x, prompt, original, depth + 1));
    if (v.length > MAX_TRACE_LIST) kept.push(`… ${v.length - MAX_TRACE_LIST} more`);
    return kept;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    if (k === 'text' && !prompt) continue;
    if (k === 'original' && !original) continue;
    out[k] = filterText(x, prompt, original, depth + 1);
  }
  return out;
}
