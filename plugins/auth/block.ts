// Compile step of the auth block: `auth { keys "keys/support.keys" }` → frozen config holding the keys file's
// absolute path and the keys parsed from it. Reports POL0405–POL0408; never throws.
import { resolve } from 'node:path';
import type { Block, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import { describeValue, reportError, reportWarning } from '../../src/sdk/block-helpers.ts';
import { checkRequired, defineBlockSchema, readBlock, reportRepeat, statementSchema } from '../../src/sdk/block-schema.ts';
import { parseKeysFile, type KeyEntry } from './keys-file.ts';

const EXAMPLE = 'write: auth { keys "keys/support.keys" }';

/** The auth block's schema: one required `keys` statement, no qualifier. */
export const AUTH_SCHEMA = defineBlockSchema({
  block: 'auth',
  noQualifier: { code: 'POL0405', message: 'the auth block takes no qualifier', notes: [EXAMPLE] },
  statements: [{
    keyword: 'keys',
    syntax: 'keys "path"',
    meaning: 'the keys file of this policy, relative to the directory of the `.policy` file (absolute paths work too). It must resolve, symlinks followed, inside the policy root or an `--allow-path` directory (POL0313). Required, exactly once. Several policies may share one file.',
    default: '— (required)',
    values: [{ kind: 'string', name: 'path' }],
    required: { code: 'POL0406', message: 'the auth block needs a keys file', notes: [EXAMPLE] },
    once: { code: 'POL0405', message: 'only one keys file per auth block', notes: (first) => [`first given at ${first.file}:${first.start.line}`] },
  }],
});

/** The statements an auth block accepts. */
export const AUTH_STATEMENTS = AUTH_SCHEMA.keywords;

/** Compiled auth block of one policy. */
export interface AuthConfig {
  readonly policyId: string;
  /** The keys file as written in the policy (for messages). */
  readonly file: string;
  /** Absolute path of the keys file (re-read on change). */
  readonly path: string;
  /** Keys parsed at compile time, by id. */
  readonly keys: ReadonlyMap<string, KeyEntry>;
  /** Real directories the keys file must stay inside when it is re-read (see CompileEnv.roots); undefined: unconfined. */
  readonly roots: readonly string[] | undefined;
}

function keysPath(st: Statement, env: CompileEnv): { value: string; span: Statement['span'] } | undefined {
  const arg = st.terms[1];
  if (st.terms.length !== 2 || arg?.kind !== 'String' || st.body) {
    const found = st.terms.slice(1).map(describeValue).join(' ');
    reportError(env, 'POL0405', (arg ?? st.terms[0]!).span,
      found ? `expected one file name after "keys", found ${found}` : 'expected a file name after "keys"',
      ['write: keys "keys/support.keys"  (a path relative to the policy file)']);
    return undefined;
  }
  if (arg.value.trim() === '') {
    reportError(env, 'POL0405', arg.span, 'the keys file name is empty');
    return undefined;
  }
  return { value: arg.value, span: arg.span };
}

/**
 * Compiles the auth blocks of one policy. Returns undefined when the policy has no auth block (the policy is
 * open: no key needed) or when the block is unusable (errors reported, so the rule set does not load).
 */
export function compileAuth(blocks: readonly Block[], env: CompileEnv): AuthConfig | undefined {
  if (blocks.length === 0) return undefined;
  const block = blocks[0]!;
  // NOTE: a second auth block is reported by the core check (POL0303); only the first is compiled.
  const byKw = readBlock(block, AUTH_SCHEMA, env);
  if (!checkRequired(block, byKw, AUTH_SCHEMA, env)) return undefined;
  const keysSts = byKw.get('keys')!;
  // the repeats first (the keys file is read after): the order the diagnostics have always come in
  for (const dup of keysSts.slice(1)) reportRepeat(env, statementSchema(AUTH_SCHEMA, 'keys'), dup.terms[0]!.span, keysSts[0]!.span);
  const p = keysPath(keysSts[0]!, env);
  if (!p) return undefined;
  const text = env.readText(p.value, p.span);
  if (text === undefined) return undefined;
  const parsed = parseKeysFile(text);
  for (const prob of parsed.problems) {
    reportError(env, 'POL0407', p.span, `keys file "${p.value}" line ${prob.line}: ${prob.message}`);
  }
  if (parsed.problems.length > 0) return undefined;
  if (parsed.keys.size === 0) {
    reportWarning(env, 'POL0408', p.span, `keys file "${p.value}" has no keys: every request to policy "${env.policyId}" will be rejected`,
      [`add one with: policy-gateway keys create --label NAME --policy ${env.policyId} --file <this keys file>`]);
  }
  return Object.freeze({ policyId: env.policyId, file: p.value, path: resolve(env.dir, p.value), keys: parsed.keys, roots: env.roots });
}
