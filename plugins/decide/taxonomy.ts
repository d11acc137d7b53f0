// The moderation category taxonomy (OpenAI moderation names) that `respond` rules may name, and the category-glob
// matcher used at compile time to turn `when "self-harm/*"` into a set of concrete categories.
import { globMatch } from '../../src/sdk/block-helpers.ts';

/** Every moderation category a `when` rule may name, in the OpenAI moderation taxonomy. Sorted. */
export const MODERATION_CATEGORIES: readonly string[] = Object.freeze([
  'harassment', 'harassment/threatening',
  'hate', 'hate/threatening',
  'illicit', 'illicit/violent',
  'self-harm', 'self-harm/instructions', 'self-harm/intent',
  'sexual', 'sexual/minors',
  'violence', 'violence/graphic',
]);

/**
 * True when a category glob covers `category`. Family rule: a glob ending in `/*` also covers its parent, so
 * `"self-harm/*"` covers `self-harm`, `self-harm/intent` and `self-harm/instructions` (a classifier may flag
 * only the parent, and an operator who writes `self-harm/*` means the whole family).
 */
export function categoryGlobMatch(glob: string, category: string): boolean {
  if (globMatch(glob, category)) return true;
  return glob.length > 2 && glob.endsWith('/*') && globMatch(glob.slice(0, -2), category);
}

/** The taxonomy categories a glob covers, in taxonomy order (empty when it covers none). */
export function expandCategoryGlob(glob: string): string[] {
  return MODERATION_CATEGORIES.filter((c) => categoryGlobMatch(glob, c));
}

/** The taxonomy as a set, for O(1) membership on the request path. */
export const MODERATION_CATEGORY_SET: ReadonlySet<string> = new Set(MODERATION_CATEGORIES);
