// The moderation category taxonomy (OpenAI moderation names), its parent/child structure, and category globs
// (`self-harm/*`): the one copy, read by moderation (`flag`, scores) and decide (`when` triggers) through the SDK.
import { globMatch } from './glob.ts';

/** Every category, sorted (the order `flagged` lists use). */
export const CATEGORIES = Object.freeze([
  'harassment', 'harassment/threatening',
  'hate', 'hate/threatening',
  'illicit', 'illicit/violent',
  'self-harm', 'self-harm/instructions', 'self-harm/intent',
  'sexual', 'sexual/minors',
  'violence', 'violence/graphic',
] as const);

/** A taxonomy category name. */
export type Category = (typeof CATEGORIES)[number];

/** Index of each category in {@link CATEGORIES}. */
export const CATEGORY_INDEX: ReadonlyMap<string, number> = new Map(CATEGORIES.map((c, i) => [c, i]));

/**
 * The parent of each sub-category, or -1. A sub-category is a subset of its parent (OpenAI's definitions), so a
 * provider's parent score is raised to at least its children's: `self-harm` ≥ `self-harm/intent`.
 */
export const PARENT: Int8Array = Int8Array.from(CATEGORIES, (c) => {
  const slash = c.indexOf('/');
  return slash < 0 ? -1 : CATEGORY_INDEX.get(c.slice(0, slash))!;
});

/**
 * True when a category glob covers `category`. A glob ending in `/*` also covers its parent (`self-harm/*` covers
 * `self-harm`, `self-harm/intent` and `self-harm/instructions`): an operator who writes `self-harm/*` means the family.
 */
export function categoryGlobMatch(glob: string, category: string): boolean {
  if (globMatch(glob, category)) return true;
  return glob.length > 2 && glob.endsWith('/*') && globMatch(glob.slice(0, -2), category);
}

/** The categories a glob covers, in taxonomy order (empty when it covers none). */
export function expandCategoryGlob(glob: string): Category[] {
  return CATEGORIES.filter((c) => categoryGlobMatch(glob, c));
}

/** The taxonomy as a set, for O(1) membership on the request path. */
export const CATEGORY_SET: ReadonlySet<string> = new Set(CATEGORIES);

/** Raises each parent score to at least the maximum of its children (in place). */
export function propagateParents(scores: Float64Array): void {
  for (let i = 0; i < CATEGORIES.length; i++) {
    const p = PARENT[i]!;
    if (p >= 0 && scores[i]! > scores[p]!) scores[p] = scores[i]!;
  }
}
