// Loads and validates the builtin classifier's lexicon data files (plugins/moderation/lexicon/*.json): named cue
// phrase groups, scoring rules over cues, benign phrases that mask cues, and context dampeners. Data, not code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATEGORY_INDEX } from '../../src/sdk/taxonomy.ts';

/** Default lexicon directory (shipped with the plugin). */
export const LEXICON_DIR = fileURLToPath(new URL('./lexicon/', import.meta.url));

/** One scoring rule of a lexicon file, as written. */
export interface RuleSpec {
  /** Unique id (`violence.request-harm-person`): shown by `explain`. */
  readonly id: string;
  /** Categories this rule scores (taxonomy names). */
  readonly categories: readonly string[];
  /** Score in (0, 1] added (noisy-OR) to each category when the rule fires. */
  readonly score: number;
  /** Fires when any of these cues occurs. Exactly one of `any`, `seq`, `near`. */
  readonly any?: readonly string[];
  /** Fires when these cues occur in this order, each starting at most `within` words after the previous ends. */
  readonly seq?: readonly string[];
  /** Fires when all these cues occur, in any order, inside a window of `window` words. */
  readonly near?: readonly string[];
  /** Maximum gap in words between consecutive `seq` cues (default 3). */
  readonly within?: number;
  /** Window size in words for `near` (default 12). */
  readonly window?: number;
  /** A `seq` match is discarded when one of these cues occurs in a gap between its cues (negations: "you are not stupid"). */
  readonly gapExcludes?: readonly string[];
}

/** A context that scales some categories' scores down when one of its cues occurs (fiction, games, sex education…). */
export interface DampenSpec {
  readonly id: string;
  readonly when: readonly string[];
  readonly categories: readonly string[];
  /** Multiplier in (0, 1). */
  readonly factor: number;
}

/** One lexicon file. */
export interface LexiconFile {
  readonly about: string;
  /** Cue name → phrases. `{a|b|}` expands to alternatives (`kill{|s|ing}` → kill, kills, killing). */
  readonly cues?: Readonly<Record<string, readonly string[]>>;
  readonly rules?: readonly RuleSpec[];
  /** Phrases whose occurrences mask every cue occurrence inside them ("kill the process", "shoot me an email"). */
  readonly benign?: readonly string[];
  readonly dampen?: readonly DampenSpec[];
}

/** All lexicon files merged, validated. */
export interface Lexicon {
  readonly files: readonly string[];
  readonly cues: ReadonlyMap<string, readonly string[]>;
  readonly rules: readonly RuleSpec[];
  readonly benign: readonly string[];
  readonly dampen: readonly DampenSpec[];
}

/** Expands `{a|b|}` groups (several groups multiply; no nesting). Throws past 2,048 alternatives. */
export function expandPhrase(phrase: string): string[] {
  const open = phrase.indexOf('{');
  if (open < 0) return [phrase];
  const close = phrase.indexOf('}', open);
  if (close < 0) throw new Error(`unclosed "{" in ${JSON.stringify(phrase)}`);
  const head = phrase.slice(0, open);
  const alts = phrase.slice(open + 1, close).split('|');
  const out: string[] = [];
  for (const rest of expandPhrase(phrase.slice(close + 1))) {
    for (const a of alts) out.push(head + a + rest);
  }
  if (out.length > 2048) throw new Error(`${JSON.stringify(phrase)} expands to more than 2,048 phrases`);
  return out;
}

function fail(file: string, what: string): never {
  throw new Error(`lexicon ${file}: ${what}`);
}

/** Reads every `*.json` file of `dir` (sorted by name), validates and merges them. Throws with the file and problem. */
export function loadLexicon(dir: string = LEXICON_DIR): Lexicon {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const cues = new Map<string, readonly string[]>();
  const rules: RuleSpec[] = [];
  const benign: string[] = [];
  const dampen: DampenSpec[] = [];
  const parsed: [string, LexiconFile][] = [];
  for (const f of files) {
    let data: LexiconFile;
    try {
      data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as LexiconFile;
    } catch (e) {
      fail(f, `not valid JSON: ${(e as Error).message}`);
    }
    if (typeof data !== 'object' || data === null || typeof data.about !== 'string') fail(f, 'expected an object with "about"');
    for (const k of Object.keys(data)) if (!['about', 'cues', 'rules', 'benign', 'dampen'].includes(k)) fail(f, `unknown key "${k}"`);
    for (const [name, phrases] of Object.entries(data.cues ?? {})) {
      if (cues.has(name)) fail(f, `cue "${name}" defined twice`);
      if (!Array.isArray(phrases) || phrases.length === 0 || !phrases.every((p) => typeof p === 'string' && p.trim() !== '')) {
        fail(f, `cue "${name}" must be a non-empty list of phrases`);
      }
      for (const p of phrases) expandPhrase(p);
      cues.set(name, phrases);
    }
    parsed.push([f, data]);
  }
  const ids = new Set<string>();
  for (const [f, data] of parsed) {
    const known = (names: readonly string[] | undefined, what: string): void => {
      if (!Array.isArray(names) || names.length === 0) fail(f, `${what} must be a non-empty list`);
      for (const n of names) if (!cues.has(n)) fail(f, `${what} names unknown cue "${n}"`);
    };
    const cats = (names: readonly string[] | undefined, what: string): void => {
      if (!Array.isArray(names) || names.length === 0) fail(f, `${what}: "categories" must be a non-empty list`);
      for (const c of names) if (!CATEGORY_INDEX.has(c)) fail(f, `${what}: unknown category "${c}"`);
    };
    for (const r of data.rules ?? []) {
      if (typeof r.id !== 'string' || ids.has(r.id)) fail(f, `rule id ${JSON.stringify(r.id)} missing or duplicate`);
      ids.add(r.id);
      cats(r.categories, `rule "${r.id}"`);
      if (!(typeof r.score === 'number' && r.score > 0 && r.score <= 1)) fail(f, `rule "${r.id}": score must be in (0, 1]`);
      const kinds = [r.any, r.seq, r.near].filter((x) => x !== undefined).length;
      if (kinds !== 1) fail(f, `rule "${r.id}": exactly one of "any", "seq", "near"`);
      if (r.any) known(r.any, `rule "${r.id}" any`);
      if (r.seq) { known(r.seq, `rule "${r.id}" seq`); if (r.seq.length < 2) fail(f, `rule "${r.id}": seq needs two cues or more`); }
      if (r.near) { known(r.near, `rule "${r.id}" near`); if (r.near.length < 2) fail(f, `rule "${r.id}": near needs two cues or more`); }
      if (r.gapExcludes) known(r.gapExcludes, `rule "${r.id}" gapExcludes`);
      if (r.within !== undefined && !(Number.isInteger(r.within) && r.within >= 0)) fail(f, `rule "${r.id}": within must be a whole number`);
      if (r.window !== undefined && !(Number.isInteger(r.window) && r.window >= 1)) fail(f, `rule "${r.id}": window must be a whole number ≥ 1`);
      rules.push(r);
    }
    for (const b of data.benign ?? []) {
      if (typeof b !== 'string' || b.trim() === '') fail(f, 'benign phrases must be non-empty strings');
      benign.push(...expandPhrase(b));
    }
    for (const d of data.dampen ?? []) {
      if (typeof d.id !== 'string' || ids.has(d.id)) fail(f, `dampen id ${JSON.stringify(d.id)} missing or duplicate`);
      ids.add(d.id);
      known(d.when, `dampen "${d.id}" when`);
      cats(d.categories, `dampen "${d.id}"`);
      if (!(typeof d.factor === 'number' && d.factor > 0 && d.factor < 1)) fail(f, `dampen "${d.id}": factor must be in (0, 1)`);
      dampen.push(d);
    }
  }
  return { files, cues, rules, benign, dampen };
}
