// Check stage: the core, plugin-independent checks over parsed .policy files (POL03xx), run before each plugin
// compiles its blocks. Each check is one named stage; they run in order and all their diagnostics are kept.
import type { Block, Policy, PolicyFile, Span, Statement } from '../../grammar/ast.ts';
import type { Diagnostic } from '../../grammar/diagnostics.ts';
import { formatLocation } from '../../grammar/source.ts';
import { describeValue, didYouMean, identName, reportError, suggestNotes } from '../sdk/block-helpers.ts';
import { ENDPOINTS } from '../sdk/types.ts';

/** Policy-level settings the core understands (everything else inside a policy is a block or an error). */
export const POLICY_SETTINGS: readonly string[] = ['description', 'default', 'routes', 'stateless'];

/** Policy ids: they appear in headers, audit lines (`policy_id=…`) and metric labels, so they stay plain. */
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Options of the core checks. */
export interface CheckOptions {
  /** Block names some plugin owns (the union of every plugin's `blocks`), in registry order. */
  readonly knownBlocks: readonly string[];
  /** Report blocks no plugin owns (POL0302). Default true; the compile benchmark turns it off. */
  readonly checkUnknownBlocks?: boolean;
}

interface Ctx {
  readonly opts: CheckOptions;
  report(d: Diagnostic): void;
}

type Stage = (files: readonly PolicyFile[], ctx: Ctx) => void;

/**
 * The stages, in order. Ids first (a duplicate id makes every later message about "policy x" ambiguous),
 * then the `default` marker across files, then each policy's own settings and blocks.
 */
const STAGES: readonly (readonly [string, Stage])[] = [
  ['policy ids', checkPolicyIds],
  ['default policy', checkDefaults],
  ['settings', checkSettings],
  ['blocks', checkBlocks],
];

/** Runs the core checks over every parsed file; returns their diagnostics (unsorted). Pure; never throws. */
export function checkPolicies(files: readonly PolicyFile[], opts: CheckOptions): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ctx: Ctx = { opts, report: (d) => { out.push(d); } };
  for (const [, stage] of STAGES) stage(files, ctx);
  return out;
}

function* policies(files: readonly PolicyFile[]): Generator<Policy> {
  for (const f of files) yield* f.policies;
}

/** POL0307 invalid id, POL0301 the same id twice (anywhere in the loaded files). */
function checkPolicyIds(files: readonly PolicyFile[], ctx: Ctx): void {
  const seen = new Map<string, Span>();
  for (const p of policies(files)) {
    if (!POLICY_ID.test(p.id)) {
      reportError(ctx, 'POL0307', p.idSpan, p.id === '' ? 'policy id is empty' : `invalid policy id "${p.id}"`,
        ['a policy id starts with a letter or digit, then letters, digits, ".", "_", ":" or "-" (at most 128)']);
    }
    const first = seen.get(p.id);
    if (first) {
      reportError(ctx, 'POL0301', p.idSpan, `duplicate policy id "${p.id}"`, [`first defined at ${formatLocation(first)}`]);
    } else seen.set(p.id, p.idSpan);
  }
}

/** POL0305: at most one policy may be marked `default`. */
function checkDefaults(files: readonly PolicyFile[], ctx: Ctx): void {
  let first: { span: Span; id: string } | undefined;
  for (const p of policies(files)) {
    const st = p.settings.find((s) => identName(s.terms[0]) === 'default');
    if (!st) continue;
    if (first) {
      reportError(ctx, 'POL0305', st.span, `more than one default policy: "${p.id}" and "${first.id}"`,
        [`"${first.id}" is marked default at ${formatLocation(first.span)}`, 'mark exactly one policy "default"']);
    } else first = { span: st.span, id: p.id };
  }
}

/** POL0306 for a `routes` setting without endpoints, POL0308 for a name that is not an endpoint, POL0309 for one named twice. */
function checkRoutes(st: Statement, ctx: Ctx): void {
  const head = st.terms[0]!;
  if (st.terms.length !== 2) {
    reportError(ctx, 'POL0306', (st.terms[2] ?? head).span, 'setting "routes" takes a comma list of endpoints',
      [`write routes ${ENDPOINTS.join(', ')} (any of them)`]);
    return;
  }
  const arg = st.terms[1]!;
  const items = arg.kind === 'List' ? arg.items : [arg];
  const seen = new Set<string>();
  for (const it of items) {
    const name = identName(it);
    if (name === undefined) {
      const guess = it.kind === 'String' ? didYouMean(it.value, ENDPOINTS) : undefined;
      reportError(ctx, 'POL0306', it.span, `setting "routes" takes endpoint names as words, not ${describeValue(it)}`,
        [guess ? `write ${guess} (no quotes)` : `write routes ${ENDPOINTS.join(', ')} (any of them)`]);
    } else if (!(ENDPOINTS as readonly string[]).includes(name)) {
      reportError(ctx, 'POL0308', it.span, `unknown endpoint "${name}" in routes`, suggestNotes(name, ENDPOINTS));
    } else if (seen.has(name)) {
      reportError(ctx, 'POL0309', it.span, `endpoint "${name}" named twice in routes`);
    } else seen.add(name);
  }
}

/** POL0304 unknown setting, POL0306 malformed or repeated setting. */
function checkSettings(files: readonly PolicyFile[], ctx: Ctx): void {
  for (const p of policies(files)) {
    const given = new Map<string, Statement>();
    for (const st of p.settings) {
      const head = st.terms[0]!;
      const name = identName(head);
      if (name === undefined || !POLICY_SETTINGS.includes(name)) {
        unknownSetting(st, name, ctx);
        continue;
      }
      const prev = given.get(name);
      if (prev) {
        reportError(ctx, 'POL0306', head.span, `setting "${name}" given twice in policy "${p.id}"`,
          [`first given at ${formatLocation(prev.span)}`]);
        continue;
      }
      given.set(name, st);
      if (st.body) {
        reportError(ctx, 'POL0306', head.span, `setting "${name}" takes no "{ … }" body`);
      } else if (name === 'description') {
        const arg = st.terms[1];
        if (st.terms.length !== 2 || arg?.kind !== 'String') {
          reportError(ctx, 'POL0306', (arg ?? head).span, 'setting "description" takes one string',
            ['write description "what this policy is for"']);
        }
      } else if ((name === 'default' || name === 'stateless') && st.terms.length > 1) {
        reportError(ctx, 'POL0306', st.terms[1]!.span, `setting "${name}" takes no value`, [`write ${name} on its own line`]);
      } else if (name === 'routes') checkRoutes(st, ctx);
    }
  }
}

function unknownSetting(st: Statement, name: string | undefined, ctx: Ctx): void {
  const head = st.terms[0]!;
  const shown = name ?? describeValue(head);
  const notes: string[] = [];
  if (name !== undefined && ctx.opts.knownBlocks.includes(name)) {
    notes.push(`"${name}" is a block: write ${name} { … }`);
  } else {
    const guess = name === undefined ? undefined : didYouMean(name, [...POLICY_SETTINGS, ...ctx.opts.knownBlocks]);
    if (guess) notes.push(`did you mean "${guess}"?`);
    notes.push(`a policy holds the settings ${POLICY_SETTINGS.map((s) => `"${s}"`).join(', ')} and blocks such as ${
      ctx.opts.knownBlocks.length ? ctx.opts.knownBlocks.slice(0, 3).map((b) => `${b} { … }`).join(', ') : 'name { … }'}`);
  }
  const kinds: Record<string, string> = { String: 'string', Number: 'number', Regex: 'regex', List: 'list', Ident: 'word' };
  const message = name !== undefined ? `unknown policy setting "${name}"` : `expected a setting or a block, found ${kinds[head.kind]} ${shown}`;
  reportError(ctx, 'POL0304', head.span, message, notes);
}

/** POL0302 block no plugin owns, POL0303 the same block (name and qualifiers) twice in one policy. */
function checkBlocks(files: readonly PolicyFile[], ctx: Ctx): void {
  const known = ctx.opts.knownBlocks;
  for (const p of policies(files)) {
    const seen = new Map<string, Block>();
    for (const b of p.blocks) {
      if (ctx.opts.checkUnknownBlocks !== false && !known.includes(b.name)) {
        const notes = known.length ? suggestNotes(b.name, known) : ['no plugin is registered, so no block is known'];
        reportError(ctx, 'POL0302', b.nameSpan, `unknown block "${b.name}"`, notes);
        continue;
      }
      const key = [b.name, ...b.qualifiers.map((q) => identName(q) ?? describeValue(q))].join(' ');
      const first = seen.get(key);
      if (first) {
        reportError(ctx, 'POL0303', b.nameSpan, `block "${key}" given twice in policy "${p.id}"`,
          [`first given at ${formatLocation(first.nameSpan)}`, 'merge the two blocks into one']);
      } else seen.set(key, b);
    }
  }
}
