// Text machinery more than one plugin uses (topics and moderation): the Unicode normaliser, the word automaton and the
// choice of which messages a scan reads.
// TODO(i14, #14 part B): move these modules from plugins/topics/ into src/text/ (they are being changed by #16 now);
// until then this bridge is the only import of a plugin's files from src/, and plugins reach them only through it.
export { normalizeText, TextNormalizer, type WordSink } from '../../plugins/topics/normalize.ts';
export { WordAutomaton, WordScanner, type MatchSink } from '../../plugins/topics/automaton.ts';
export {
  DEFAULT_SCAN, SCAN_MODES, scannedTexts, visitScannedTexts, type ScanMode, type TextVisitor,
} from '../../plugins/topics/scan.ts';
