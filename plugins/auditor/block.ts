// Compile step of the `audit` block: audit tags and the prompt and replay opt-ins, checked once per policy load into a frozen
// AuditConfig. Every policy gets a config (the auditor is always on), with defaults when it has no `audit` block.
import type { Block, Span, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import { describeValue, flattenTerm, identName, reportError, reportWarning } from '../../src/sdk/block-helpers.ts';
import {
  checkNoBody, defineBlockSchema, forEachOnce, readBlock, readWord, spanRef, statementSchema, wordNotes,
} from '../../src/sdk/block-schema.ts';

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

/** Longest audit tag accepted. */
export const MAX_TAG_LENGTH = 128;

type Env = Pick<CompileEnv, 'report' | 'policyId'>;

const TAG_SHAPE = 'expected: tag "team:support", "tier:gold"';
const SHAPES: Readonly<Record<'prompts' | 'replay', string>> = {
  prompts: 'expected: prompts on | prompts off', replay: 'expected: replay on | replay off',
};

/** The `audit` block's schema (`format` is recognised only to explain that it is gateway-wide). */
export const AUDIT_SCHEMA = defineBlockSchema({
  block: 'audit',
  noQualifier: { code: 'POL0497', message: (found) => `the audit block takes no qualifier, found ${found}`, notes: ['write audit { … }'] },
  statements: [
    {
      keyword: 'tag',
      syntax: 'tag "t1", "t2", …',
      meaning: 'tags written in the `tags` field of every record of this policy, in file order. May be repeated; a repeated tag is a warning (POL0494) and kept once. A tag is 1–128 characters without spaces, quotes, backslashes, commas or control characters (`team:support`, `cost-center/42`)',
      default: 'no tags',
      values: [{ kind: 'string', name: 'tag' }],
      noBody: { code: 'POL0496', message: '"tag" takes no "{ … }" body', notes: [TAG_SHAPE] },
    },
    {
      keyword: 'prompts',
      syntax: 'prompts on\\|off',
      meaning: '`on` adds `prompt` and `output` fields: the request\'s messages and the answer **after redaction**, each cut at 16384 characters; at most once per block',
      default: '`off`',
      values: [{ kind: 'word', words: ['on', 'off'] }],
      once: { code: 'POL0493', message: '"prompts" given twice in the audit block', notes: (first) => [`first given at ${spanRef(first)}`] },
      noBody: { code: 'POL0496', message: '"prompts" takes no "{ … }" body', notes: [SHAPES.prompts] },
    },
    {
      keyword: 'replay',
      syntax: 'replay on\\|off',
      meaning: '`on` adds the `replay` field: the prompt the policy read — before its own edits (instructions, caps), after its `redact request` block — with the endpoint and model, everything [`policy-gateway replay`](replay.md) needs to re-evaluate the request under other rules. It records user prompts: see the privacy cost in docs/replay.md; at most once per block',
      default: '`off`',
      values: [{ kind: 'word', words: ['on', 'off'] }],
      once: { code: 'POL0493', message: '"replay" given twice in the audit block', notes: (first) => [`first given at ${spanRef(first)}`] },
      noBody: { code: 'POL0496', message: '"replay" takes no "{ … }" body', notes: [SHAPES.replay] },
    },
    { keyword: 'format', syntax: 'format …', meaning: 'refused: the audit format is gateway-wide (POL0495)', default: '—', refused: true },
  ],
});

/** Statement keywords of the `audit` block. */
export const AUDIT_STATEMENTS: readonly string[] = AUDIT_SCHEMA.keywords;
const TAG = statementSchema(AUDIT_SCHEMA, 'tag');
const ON_OFF = { prompts: statementSchema(AUDIT_SCHEMA, 'prompts'), replay: statementSchema(AUDIT_SCHEMA, 'replay') };

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
  checkNoBody(st, TAG, env);
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
  const schema = ON_OFF[kw];
  checkNoBody(st, schema, env);
  const v = st.terms[1];
  const word = identName(v);
  const onOff = schema.values![0]!;
  if (v === undefined || st.terms.length > 2 || readWord(v, onOff) === undefined) {
    const at = st.terms.length > 2 ? st.terms[2]! : (v ?? st.terms[0]!);
    const notes = word !== undefined && readWord(v, onOff) === undefined ? wordNotes(word, onOff) : [SHAPES[kw]];
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
  const flagAt = { prompts: {} as { at?: Span }, replay: {} as { at?: Span } };
  for (const block of blocks) {
    const byKw = readBlock(block, AUDIT_SCHEMA, env);
    for (const st of byKw.get('tag') ?? []) readTags(st, tags, tagSpans, env);
    for (const kw of ['prompts', 'replay'] as const) {
      forEachOnce(byKw.get(kw), ON_OFF[kw], env, (st) => {
        const on = readOnOff(st, kw, env);
        if (on !== undefined) flags[kw] = on;
      }, flagAt[kw]);
    }
    for (const st of byKw.get('format') ?? []) {
      reportError(env, 'POL0495', st.terms[0]!.span, 'the audit format is set for the whole gateway, not per policy',
        ['start the gateway with --audit-format logfmt|json (or POLICY_GATEWAY_AUDIT_FORMAT)', 'one audit stream has one format, so log shippers parse every line the same way']);
    }
  }
  return Object.freeze({ policyId: env.policyId, tags: Object.freeze(tags), prompts: flags.prompts, replay: flags.replay });
}
