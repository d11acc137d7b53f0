// Text machinery more than one plugin uses (topics and moderation), re-exported for plugins from src/text/: the Unicode
// normaliser, the word automaton and the choice of which messages a scan reads. A plugin may import src/text/ directly
// too (STYLE §1); this file keeps the SDK's single door for those that read it here.
export { normalizeText, TextNormalizer, type WordSink } from '../text/normalize.ts';
export { WordAutomaton, WordScanner, type MatchSink } from '../text/automaton.ts';
export {
  DEFAULT_SCAN, SCAN_MODES, scannedTexts, visitScannedTexts, type ScanMode, type TextVisitor,
} from '../text/scan.ts';
