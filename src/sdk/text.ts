// Text machinery more than one plugin uses (topics and moderation), re-exported for plugins from src/text/ (the Unicode
// normaliser, the word automaton, the choice of which messages a scan reads), and the per-request tokenised prompt
// (`promptWords(ctx)`) that lets them tokenise each message once. Plugins may import src/text/ directly too (STYLE §1).
import type { RequestContext } from './context.ts';
import { stateKey } from './context.ts';
import { PromptWords } from '../text/word-tape.ts';

export { normalizeText, TextNormalizer, type WordSink } from '../text/normalize.ts';
export { WordAutomaton, WordScanner, type MatchSink } from '../text/automaton.ts';
export {
  DEFAULT_SCAN, SCAN_MODES, scannedTexts, visitScannedTexts, type ScanMode, type TextVisitor,
} from '../text/scan.ts';
export { PromptWords, WordTape } from '../text/word-tape.ts';

const promptWordsKey = stateKey<PromptWords>('text.promptWords');

/**
 * The request's tokenised prompt, created by whichever scan asks first (topics or moderation) and shared by the next:
 * each scanned message is normalised and split into words once per request.
 */
export function promptWords(ctx: RequestContext): PromptWords {
  let words = ctx.get(promptWordsKey);
  if (words === undefined) ctx.set(promptWordsKey, (words = new PromptWords(ctx.prompt)));
  return words;
}
