// Text machinery more than one plugin uses (topics and moderation), re-exported for plugins from src/text/: the Unicode
// normaliser, the word automaton, the choice of which messages a scan reads, and the word tapes (`promptTapes`) that
// let them tokenise each message of a request once. Plugins may import src/text/ directly too (STYLE §1).
export { normalizeText, TextNormalizer, type WordSink } from '../text/normalize.ts';
export { WordAutomaton, WordScanner, type MatchSink } from '../text/automaton.ts';
export {
  DEFAULT_SCAN, SCAN_MODES, scannedTexts, visitScannedTexts, type ScanMode, type TextVisitor,
} from '../text/scan.ts';
export { promptTapes, WordTapes } from '../text/word-tape.ts';
