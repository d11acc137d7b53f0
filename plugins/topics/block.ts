// Compile step of the `topics` block: reads allow/deny phrases, list files and regexes, checks them (POL0420–POL0429)
// and builds the frozen TopicsConfig holding one Aho–Corasick matcher over every phrase.
import type { Block, ScalarValue, Span, Statement } from '../../src/sdk/ast.ts';
import type { CompileEnv } from '../../src/sdk/plugin.ts';
import {
  compileUserRegex, describeValue, flattenTerm, identName, reportError, reportWarning, ruleRef, suggestNotes,
  type UserRegex,
} from '../../src/sdk/block-helpers.ts';
import {
  checkNoBody, defineBlockSchema, readBlock, reportNoBody, reportRepeat, statementSchema,
} from '../../src/sdk/block-schema.ts';
import { normalizeText } from '../../src/text/normalize.ts';
import { TopicMatcher, type PhraseSpec, type TopicEntry } from './matcher.ts';
import { DEFAULT_SCAN, DEFAULT_SCOPE, SCAN_MODES, SCOPES, type ScanMode, type Scope } from '../../src/text/scan.ts';

/** The `topics` block's schema: its statements and reference table (entries are read in file order by compileTopics). */
export const TOPICS_SCHEMA = defineBlockSchema({
  block: 'topics',
  noQualifier: { code: 'POL0427', message: (found) => `the topics block takes no qualifier, found ${found}`, notes: ['write topics { … }'], every: true },
  statements: [
    {
      keyword: 'allow', syntax: 'allow ENTRIES', meaning: 'allowlist entries: a comma list of double-quoted phrases and `/regexes/`. When the policy has any allow entry, a request that matches none of them is **refused** (reason `ALLOWLIST_MISS`) before any other rule',
      default: 'no allowlist',
      values: [{ kind: 'string', name: 'ENTRIES' }],
      noBody: { code: 'POL0427', message: '"allow" takes no "{ … }" body', at: 'keyword' },
    },
    {
      keyword: 'deny', syntax: 'deny ENTRIES', meaning: 'denylist entries; a hit is the `denylist` trigger of the `respond` block', default: '—',
      values: [{ kind: 'string', name: 'ENTRIES' }],
      noBody: { code: 'POL0427', message: '"deny" takes no "{ … }" body', at: 'keyword' },
      moreRows: [
        { syntax: '`allow list "file"`, `deny list "file"`', meaning: 'entries read from a text file, relative to the policy file and inside the policy root or an `--allow-path` directory (POL0313): one phrase per line, blank lines and lines starting with `#` ignored', default: '—' },
        { syntax: '`allow exact …`, `deny exact …` (also `deny exact list "file"`)', meaning: 'the phrases of this statement match only as written: no plural forms (below). Put the phrases that must be exact in their own statement', default: 'plural forms on' },
      ],
    },
    {
      keyword: 'scan', syntax: 'scan user\\|last_user\\|all', meaning: 'which roles are matched: user messages, only the last user message, or user, system, developer and assistant messages (tool results are never scanned)', default: '`user`',
      values: [{ kind: 'word', words: SCAN_MODES }],
      once: { code: 'POL0425', message: 'duplicate "scan" statement', notes: (first) => [`first given at ${ruleRef(first)}`] },
      noBody: { code: 'POL0427', message: '"scan" takes no "{ … }" body', at: 'keyword' },
    },
    {
      keyword: 'scope', syntax: 'scope latest\\|conversation', meaning: 'which turns are matched: `latest` — the last user turn (the last user message and the messages of the same turn right before it); `conversation` — every message of the request. With `latest`, a refused turn that stays in the chat history does not refuse every later turn; but a client can put text in an earlier fake turn that is then not matched — use `conversation` where a deny list is a hard boundary', default: '`latest`',
      values: [{ kind: 'word', words: SCOPES }],
      once: { code: 'POL0425', message: 'duplicate "scope" statement', notes: (first) => [`first given at ${ruleRef(first)}`] },
      noBody: { code: 'POL0427', message: '"scope" takes no "{ … }" body', at: 'keyword' },
    },
  ],
});

/** Statement keywords of the `topics` block. */
export const TOPICS_STATEMENTS: readonly string[] = TOPICS_SCHEMA.keywords;
const SCAN = statementSchema(TOPICS_SCHEMA, 'scan');
const SCOPE = statementSchema(TOPICS_SCHEMA, 'scope');


/** At most this many duplicate-phrase warnings per statement; the rest are summed up in one note. */
const MAX_DUPLICATE_WARNINGS = 5;

/** The compiled `topics` block of one policy. Frozen; the matcher keeps private scratch buffers. */
export interface TopicsConfig {
  readonly policyId: string;
  /** True when at least one allow entry is configured (then a request with no allow hit is refused by decide). */
  readonly allowlistConfigured: boolean;
  readonly scan: ScanMode;
  /** `file:line` of the `scan` statement, or null for the default. */
  readonly scanRule: string | null;
  /** Which turns are matched: the latest user turn, or the whole conversation. */
  readonly scope: Scope;
  readonly matcher: TopicMatcher;
  /** Counts, for `policy explain` and the benchmark. */
  readonly phraseCount: number;
  readonly regexCount: number;
}

type Env = Pick<CompileEnv, 'report' | 'readText' | 'policyId'>;

interface Draft {
  entries: TopicEntry[];
  phrases: PhraseSpec[];
  regexes: { entry: number; re: UserRegex }[];
  /** normalised phrase → where it was first given, per kind. */
  seen: { allow: Map<string, string>; deny: Map<string, string> };
}

/** Where a phrase came from, for messages: the policy statement, or `list.txt:12`. */
function origin(span: Span, listFile?: string, line?: number): string {
  return listFile === undefined ? ruleRef(span) : `${listFile}:${line}`;
}

/**
 * The forms a phrase's last word also matches in (unless the phrase is `exact`): English plurals, `+s`, `+es` after
 * s, x, z, ch, sh and o, and consonant + `y` → `ies`. Only for a last word of two or more ASCII letters ending in a
 * letter; the possessive `'s` needs no form (the normaliser drops it). Returns the normalised variants.
 */
export function pluralForms(normalized: string): string[] {
  const sp = normalized.lastIndexOf(' ');
  const head = normalized.slice(0, sp + 1);
  const w = normalized.slice(sp + 1);
  if (!/^[a-z]{2,}$/.test(w)) return [];
  const out: string[] = [];
  if (/[^aeiou]y$/.test(w)) out.push(`${w.slice(0, -1)}ies`);
  else if (/(?:s|x|z|ch|sh)$/.test(w)) out.push(`${w}es`);
  else if (w.endsWith('o')) out.push(`${w}s`, `${w}es`);
  else out.push(`${w}s`);
  return out.map((v) => head + v);
}

/**
 * Adds one phrase. Reports POL0420 (empty), POL0422 (nothing left after normalisation), POL0421 (duplicate in the
 * same list, warning) and POL0424 (on both lists, warning). Returns whether a duplicate warning was emitted.
 */
function addPhrase(d: Draft, kind: 'allow' | 'deny', phrase: string, st: Statement, span: Span, env: Env,
  list?: { file: string; line: number; quiet: boolean }, exact = false): 'ok' | 'dup' | 'bad' {
  const where = list ? ` (${list.file}:${list.line})` : '';
  // A phrase from a list file is named by file:line only: never echo a file's lines (a mistyped path can name a secret).
  const shown = list ? 'the phrase' : `phrase "${phrase}"`;
  if (phrase.trim() === '') {
    reportError(env, 'POL0420', span, `empty phrase${where}`, ['remove it, or write the words to match']);
    return 'bad';
  }
  const normalized = normalizeText(phrase);
  if (normalized === '') {
    reportError(env, 'POL0422', span, `${shown} has no letters or digits${where}`,
      ['phrases match whole words: punctuation, symbols and invisible characters are ignored, so this phrase would never match']);
    return 'bad';
  }
  const from = origin(st.span, list?.file, list?.line);
  const first = d.seen[kind].get(normalized);
  if (first !== undefined) {
    if (!list?.quiet) {
      reportWarning(env, 'POL0421', span, `duplicate ${kind} ${list ? 'phrase' : shown}${where}`,
        [`first given at ${first}${!list && normalized !== phrase ? ` (both normalise to "${normalized}")` : ''}`]);
    }
    return 'dup';
  }
  d.seen[kind].set(normalized, from);
  const other = kind === 'allow' ? 'deny' : 'allow';
  const clash = d.seen[other].get(normalized);
  if (clash !== undefined) {
    reportWarning(env, 'POL0424', span, `${shown} is on both the allow and the deny list${where}`,
      [`the ${other} entry is at ${clash}`, 'a request containing it counts as an allow hit and a deny hit']);
  }
  const entry = d.entries.push({ kind, text: phrase, rule: ruleRef(st.span) }) - 1;
  d.phrases.push({ entry, normalized });
  if (!exact) for (const v of pluralForms(normalized)) d.phrases.push({ entry, normalized: v });
  return 'ok';
}

/** True when a regex source has a literal upper-case ASCII letter (not an escape such as `\S` or `\W`). */
function hasUpperLiteral(source: string): boolean {
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 92 /* \ */) { i++; continue; }
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

function addRegex(d: Draft, kind: 'allow' | 'deny', v: ScalarValue & { kind: 'Regex' }, st: Statement, env: Env): void {
  const re = compileUserRegex(v, env);
  if (re === undefined) return;
  if (!v.flags.includes('i') && hasUpperLiteral(v.source)) {
    reportWarning(env, 'POL0426', v.span, `regex ${describeValue(v)} has upper-case letters but runs on lower-cased text`,
      ['topic regexes see the normalised text (lower-case, words separated by single spaces); add the "i" flag or write it in lower case']);
  }
  const text = describeValue(v);
  const entry = d.entries.push({ kind, text, rule: ruleRef(st.span) }) - 1;
  d.regexes.push({ entry, re });
}

/** `allow|deny [exact] list "file"`: one phrase per line, `#` starts a comment line, blank lines ignored. */
function addList(d: Draft, kind: 'allow' | 'deny', st: Statement, env: Env, exact: boolean): void {
  const at = exact ? 3 : 2;
  const pathTerm = st.terms[at];
  if (pathTerm?.kind !== 'String' || st.terms.length !== at + 1) {
    reportError(env, 'POL0423', (pathTerm ?? st.terms[at - 1]!).span, `"${kind} list" takes one file path`,
      [`write ${kind} list "lists/phrases.txt" (relative to the policy file)`]);
    return;
  }
  const text = env.readText(pathTerm.value, pathTerm.span);
  if (text === undefined) return; // POL0310 already reported
  let count = 0;
  let dups = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const phrase = lines[i]!.trim();
    if (phrase === '' || phrase.startsWith('#')) continue;
    const r = addPhrase(d, kind, phrase, st, pathTerm.span, env, { file: pathTerm.value, line: i + 1, quiet: dups >= MAX_DUPLICATE_WARNINGS }, exact);
    if (r === 'ok') count++;
    else if (r === 'dup') dups++;
  }
  if (dups > MAX_DUPLICATE_WARNINGS) {
    reportWarning(env, 'POL0421', pathTerm.span, `${dups - MAX_DUPLICATE_WARNINGS} more duplicate phrases in "${pathTerm.value}"`,
      [`only the first ${MAX_DUPLICATE_WARNINGS} duplicates are listed`]);
  }
  if (count === 0 && dups === 0) {
    reportWarning(env, 'POL0428', pathTerm.span, `list file "${pathTerm.value}" has no phrases`,
      ['one phrase per line; lines starting with "#" are comments']);
  }
}

function readEntries(d: Draft, kind: 'allow' | 'deny', st: Statement, env: Env): void {
  checkNoBody(st, statementSchema(TOPICS_SCHEMA, kind), env);
  // `exact` right after the keyword: the phrases of this statement match only as written (no plural forms)
  const exact = identName(st.terms[1]) === 'exact';
  const first = exact ? 2 : 1;
  const second = st.terms[first];
  if (second === undefined) {
    reportError(env, 'POL0423', st.span, `"${kind}${exact ? ' exact' : ''}" needs phrases`,
      [`write ${kind} "phrase", "another phrase", /regex/i  or  ${kind} list "file.txt"`]);
    return;
  }
  if (identName(second) === 'list') { addList(d, kind, st, env, exact); return; }
  for (let t = first; t < st.terms.length; t++) {
    const term = st.terms[t]!;
    if (t > first) {
      reportError(env, 'POL0423', term.span, `unexpected ${describeValue(term)} after the ${kind} phrases`,
        ['separate phrases with commas: allow "a", "b"']);
      break;
    }
    let dups = 0;
    for (const item of flattenTerm(term)) {
      if (item.kind === 'String') {
        if (addPhrase(d, kind, item.value, st, item.span, env, undefined, exact) === 'dup') dups++;
      } else if (item.kind === 'Regex') addRegex(d, kind, item, st, env);
      else {
        reportError(env, 'POL0423', item.span, `expected a phrase or a regex, found ${item.kind === 'Ident' ? 'the bare word ' : ''}${describeValue(item)}`,
          [item.kind === 'Ident' ? `quote phrases: ${kind} "${item.name}"` : 'phrases are double-quoted strings; regexes are /…/flags']);
      }
    }
  }
}

function readScan(sts: readonly Statement[], env: Env): { mode: ScanMode; rule: string | null } {
  let mode: ScanMode = DEFAULT_SCAN;
  let rule: string | null = null;
  sts.forEach((st, i) => {
    if (i > 0) {
      reportRepeat(env, SCAN, st.terms[0]!.span, sts[0]!.span);
      return;
    }
    const v = st.terms[1];
    const name = identName(v) ?? (v?.kind === 'String' ? v.value : undefined);
    if (v === undefined || st.terms.length !== 2 || name === undefined) {
      reportError(env, 'POL0425', (st.terms[2] ?? v ?? st.terms[0]!).span, '"scan" takes one mode',
        [`expected one of: ${SCAN_MODES.map((m) => `"${m}"`).join(', ')}`]);
      return;
    }
    if (!(SCAN_MODES as readonly string[]).includes(name)) {
      reportError(env, 'POL0425', v.span, `unknown scan mode "${name}"`, suggestNotes(name, SCAN_MODES));
      return;
    }
    mode = name as ScanMode;
    rule = ruleRef(st.span);
  });
  return { mode, rule };
}

function readScope(sts: readonly Statement[], env: Env): Scope {
  let scope: Scope = DEFAULT_SCOPE;
  sts.forEach((st, i) => {
    checkNoBody(st, SCOPE, env);
    if (i > 0) {
      reportRepeat(env, SCOPE, st.terms[0]!.span, sts[0]!.span);
      return;
    }
    const v = st.terms[1];
    const name = identName(v) ?? (v?.kind === 'String' ? v.value : undefined);
    if (v === undefined || st.terms.length !== 2 || name === undefined) {
      reportError(env, 'POL0425', (st.terms[2] ?? v ?? st.terms[0]!).span, '"scope" takes one value',
        [`expected one of: ${SCOPES.map((m) => `"${m}"`).join(', ')}`]);
      return;
    }
    if (!(SCOPES as readonly string[]).includes(name)) {
      reportError(env, 'POL0425', v.span, `unknown scope "${name}"`, [...suggestNotes(name, SCOPES),
        'latest: only the last user turn is matched; conversation: every turn of the request']);
      return;
    }
    scope = name as Scope;
  });
  return scope;
}

/**
 * Compiles the `topics` blocks of one policy (at most one; the core check rejects duplicates) into a frozen
 * TopicsConfig, or undefined when there is no block or it configures no entries. Never throws.
 */
export function compileTopics(blocks: readonly Block[], outer: Env): TopicsConfig | undefined {
  const block = blocks[0];
  if (block === undefined) return undefined;
  let errors = 0;
  const env: Env = {
    policyId: outer.policyId,
    report: (d) => { if (d.severity === 'error') errors++; outer.report(d); },
    readText: (path, span) => { const t = outer.readText(path, span); if (t === undefined) errors++; return t; },
  };
  const byKw = readBlock(block, TOPICS_SCHEMA, env);
  const d: Draft = { entries: [], phrases: [], regexes: [], seen: { allow: new Map(), deny: new Map() } };
  // Allow and deny statements are read in file order so entry indices follow configuration order.
  for (const st of block.statements) {
    const kw = identName(st.terms[0]);
    if (kw === 'allow' || kw === 'deny') readEntries(d, kw, st, env);
  }
  const scan = readScan(byKw.get('scan') ?? [], env);
  const scope = readScope(byKw.get('scope') ?? [], env);
  if (byKw.get('scan')?.some((s) => s.body)) reportNoBody(env, SCAN, byKw.get('scan')![0]!.terms[0]!.span);
  if (d.entries.length === 0) {
    if (errors > 0) return undefined;
    reportWarning(env, 'POL0429', block.nameSpan, 'topics block has no allow or deny entries', ['the topic matcher is off for this policy']);
    return undefined;
  }
  const matcher = new TopicMatcher(Object.freeze(d.entries.map((e) => Object.freeze(e))), d.phrases, d.regexes);
  return Object.freeze({
    policyId: env.policyId,
    allowlistConfigured: d.entries.some((e) => e.kind === 'allow'),
    scan: scan.mode,
    scanRule: scan.rule,
    scope,
    matcher,
    phraseCount: d.entries.length - d.regexes.length,
    regexCount: d.regexes.length,
  });
}
