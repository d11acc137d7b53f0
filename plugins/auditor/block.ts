// Compile step of the `audit` block: audit tags and the prompt and replay opt-ins, checked once per policy load into a frozen
// AuditConfig. Every policy gets a config (the auditor is always on), with defaults when it has no `audit` block.
import type { Block, Span, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import {
  describeValue, flattenTerm, identName, reportError, reportWarning, statementsByKeyword, suggestNotes,
} from '../../src/sdk/block-helpers.ts';

/** The compiled `audit` block of one policy. Deep-frozen. */
export interface AuditConfig {
  readonly policyId: string;
  /** Audit tags added to every record of this policy, in file order, without duplicates. */
  readonly tags: readonly string[];
  /** True when the policy opted in to prompt and output text in its records (`prompts on`); redacted text only. */
  readonly prompts: boolean;
  /**
   * True when the policy opted in to the replay capture (`replay on`): each record carries the prompt the policy read
   * (before its edits, after its request-scope redaction) so `policy-gateway replay` can re-evaluate it.
   */
  readonly replay: boolean;
}

/** Statement keywords of the `audit` block (`format` is recognised only to explain that it is gateway-wide). */
export const AUDIT_STATEMENTS: readonly string[] = Object.freeze(['tag', 'prompts', 'replay', 'format']);

/** Longest audit tag accepted. */
export const MAX_TAG_LENGTH = 128;

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

const TAG_SHAPE = 'expected: tag "team:support", "tier:gold"';
const SHAPES: Readonly<Record<string, string>> = { prompts: 'expected: prompts on | prompts off', replay: 'expected: replay on | replay off' };

/** Why `tag` text is not a usable audit tag, or undefined when it is. */
export function invalidTagReason(tag: string): string | undefined {
  if (tag === '') return 'an audit tag is empty';
  if (tag.length > MAX_TAG_LENGTH) return `an audit tag is longer than ${MAX_TAG_LENGTH} characters`;
  if (tag.includes(',')) return 'an audit tag may not contain ","';
  // Control characters, spaces, quotes and backslashes would need quoting or escaping in every record.
  if (/[\s"\\\u0000-\u001f\u007f-\u009f]/.test(tag)) return 'an audit tag may not contain spaces, quotes, backslashes or control characters';
  return undefined;
}

/** Reads `tag …` statements into `tags` (deduplicated; a repeat is a POL0494 warning). */
function readTags(st: Statement, tags: string[], spans: Map<string, Span>, env: Env): void {
  if (st.body) reportError(env, 'POL0496', st.span, '"tag" takes no "{ … }" body', [TAG_SHAPE]);
  if (st.terms.length < 2) {
    reportError(env, 'POL0490', st.terms[0]!.span, '"tag" needs at least one tag', [TAG_SHAPE]);
    return;
  }
  for (const term of st.terms.slice(1)) {
    for (const item of flattenTerm(term)) {
      if (item.kind !== 'String') {
        reportError(env, 'POL0490', item.span, `expected a tag in double quotes, found ${item.kind === 'Ident' ? 'the bare word ' : ''}${describeValue(item)}`, [TAG_SHAPE]);
        continue;
      }
      const why = invalidTagReason(item.value);
      if (why) {
        reportError(env, 'POL0491', item.span, `invalid audit tag "${item.value.slice(0, MAX_TAG_LENGTH)}": ${why}`,
          ['tags are short labels such as "team:support" (letters, digits and punctuation other than "," and quotes)']);
        continue;
      }
      const first = spans.get(item.value);
      if (first) {
        reportWarning(env, 'POL0494', item.span, `audit tag "${item.value}" given twice`, [`first given at ${first.file}:${first.start.line}:${first.start.col}`]);
        continue;
      }
      spans.set(item.value, item.span);
      tags.push(item.value);
    }
  }
}

/** Reads `prompts on|off` or `replay on|off`; returns the flag, or undefined after reporting POL0492. */
function readOnOff(st: Statement, kw: 'prompts' | 'replay', env: Env): boolean | undefined {
  const shape = SHAPES[kw]!;
  if (st.body) reportError(env, 'POL0496', st.span, `"${kw}" takes no "{ … }" body`, [shape]);
  const v = st.terms[1];
  const word = identName(v);
  if (v === undefined || st.terms.length > 2 || (word !== 'on' && word !== 'off')) {
    const at = st.terms.length > 2 ? st.terms[2]! : (v ?? st.terms[0]!);
    const notes = word !== undefined && word !== 'on' && word !== 'off' ? suggestNotes(word, ['on', 'off']) : [shape];
    const msg = v === undefined ? `"${kw}" needs on or off`
      : st.terms.length > 2 ? `unexpected ${describeValue(st.terms[2]!)} after "${kw} ${word ?? describeValue(v)}"`
        : `"${kw}" expects on or off, found ${describeValue(v)}`;
    reportError(env, 'POL0492', at.span, msg, notes);
    return undefined;
  }
  return word === 'on';
}

/**
 * Compiles the `audit` blocks of one policy (the core check already reports a second `audit` block) into a
 * frozen AuditConfig. Never returns undefined: a policy without an `audit` block is audited with defaults
 * (no tags, `prompts off`, `replay off`). Reports POL0490–POL0497; never throws.
 */
export function compileAudit(blocks: readonly Block[], env: Env): AuditConfig {
  const tags: string[] = [];
  const tagSpans = new Map<string, Span>();
  const flags = { prompts: false, replay: false };
  const flagAt: { prompts?: Span; replay?: Span } = {};
  for (const block of blocks) {
    if (block.qualifiers.length > 0) {
      reportError(env, 'POL0497', block.qualifiers[0]!.span, `the audit block takes no qualifier, found ${describeValue(block.qualifiers[0]!)}`,
        ['write audit { … }']);
    }
    const byKw = statementsByKeyword(block, AUDIT_STATEMENTS, env);
    for (const st of byKw.get('tag') ?? []) readTags(st, tags, tagSpans, env);
    for (const kw of ['prompts', 'replay'] as const) {
      for (const st of byKw.get(kw) ?? []) {
        const first = flagAt[kw];
        if (first) {
          reportError(env, 'POL0493', st.terms[0]!.span, `"${kw}" given twice in the audit block`, [`first given at ${first.file}:${first.start.line}:${first.start.col}`]);
          continue;
        }
        flagAt[kw] = st.terms[0]!.span;
        const on = readOnOff(st, kw, env);
        if (on !== undefined) flags[kw] = on;
      }
    }
    for (const st of byKw.get('format') ?? []) {
      reportError(env, 'POL0495', st.terms[0]!.span, 'the audit format is set for the whole gateway, not per policy',
        ['start the gateway with --audit-format logfmt|json (or POLICY_GATEWAY_AUDIT_FORMAT)', 'one audit stream has one format, so log shippers parse every line the same way']);
    }
  }
  return Object.freeze({ policyId: env.policyId, tags: Object.freeze(tags), prompts: flags.prompts, replay: flags.replay });
}
