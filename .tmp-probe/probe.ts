import { benchPhrases, benchPrompt } from '../bench/matcher.ts';
import { WordAutomaton, WordScanner, C } from './automaton.ts';
import { TextNormalizer, normalizeText } from './normalize.ts';
for (const share of [0.1, 0.5]) for (const n of [10, 10000, 100000]) {
  const pats = [...new Set(benchPhrases(n, 42, share).map(normalizeText))];
  const ac = new WordAutomaton(pats.map((p) => p.split(' ')));
  let hits = 0;
  const sc = new WordScanner(ac, { onMatch() { hits++; } });
  for (const k of Object.keys(C)) (C as any)[k] = 0;
  sc.reset(); new TextNormalizer().tokenize(benchPrompt(), sc);
  console.log(share, n, 'words', sc.words, 'slotProbes/call', (C.slot / C.slotCalls).toFixed(2), 'edgeCalls', C.edgeCalls, 'edgeProbes/call', (C.edge / C.edgeCalls).toFixed(2), 'hits', hits);
}
import { L } from './automaton.ts';
for (const share of [0.1, 0.5]) for (const n of [100000]) {
  const pats = [...new Set(benchPhrases(n, 42, share).map(normalizeText))];
  const ac = new WordAutomaton(pats.map((p) => p.split(' ')));
  const sc = new WordScanner(ac, { onMatch() {} });
  L.slot.clear(); L.edge.clear(); L.st.clear();
  sc.reset(); new TextNormalizer().tokenize(benchPrompt(), sc);
  console.log(share, n, 'distinct lines: slot', L.slot.size, 'edge', L.edge.size, 'report', L.st.size);
}
