// Redaction benchmark: throughput on 1 MB of mixed text with every built-in detector on, and the per-chunk latency
// the streaming redactor adds to ~20-character SSE chunks. Used by `npm run bench`; also runnable on its own:
// `npx node bench/redaction.ts`.
import { fileURLToPath } from 'node:url';
import { BUILTIN_DETECTORS } from '../plugins/redactor/detectors.ts';
import { RedactionEngine } from '../plugins/redactor/engine.ts';
import { ChunkRedactor } from '../plugins/redactor/apply.ts';
import type { ChatCompletionChunk } from '../src/sdk/types.ts';

/** Figures reported by benchRedaction. */
export interface RedactionFigures {
  /** Whole-text redaction throughput, MB (10^6 UTF-16 code units) per second, all built-in detectors, label style. */
  mbPerSec: number;
  /** Time the redactor adds per streamed chunk of ~20 characters (hook-level: chunk object in, chunk object out). */
  perChunkMicros: number;
  /** JSON.parse + JSON.stringify of the same chunk, for scale (the server re-serialises modified chunks). */
  chunkJsonMicros: number;
  /** perChunkMicros / chunkJsonMicros. */
  perChunkVsJson: number;
  /** Characters a stream holds back with every built-in detector on (the delay the redactor adds). */
  holdBackChars: number;
  /** Worst-case characters held while one long value (a private-key block) is in progress. */
  maxHoldChars: number;
  /** Sensitive values redacted in the 1 MB text (sanity: the work was real). */
  redactionsPerMb: number;
}

/** Deterministic xorshift PRNG (benchmarks must be reproducible). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS = ['the', 'answer', 'policy', 'refund', 'shipping', 'order', 'customer', 'account', 'please', 'contact',
  'support', 'within', 'days', 'version', '1.2.3', '2024-01-15', 'größe', 'délai', '価格', 'は', 'and', 'of', 'to', 'a',
  'invoice', '#48213', 'at', '09:30', 'std::vector', 'ratio', '16:9', 'bearer', 'of', 'news', 'x', '$1,234.56'];
const VALUES = ['john.smith@example.com', '+1 415 555 0132', '(312) 515-2239', '4111 1111 1111 1111', '078-05-1123',
  'DE89 3704 0044 0532 0130 00', '192.168.10.20', '2001:db8::8a2e:370:7334', 'AKIALALEMEL33243OLIB',
  'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', 'postgres://admin:s3cr3t@db.example.com/app',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'];

/** About `size` characters of prose with a sensitive value every ~200 characters. */
export function mixedText(size: number, seed = 42): string {
  const r = rng(seed);
  const parts: string[] = [];
  let n = 0;
  let sinceValue = 0;
  while (n < size) {
    let w: string;
    if (sinceValue > 200 && r() < 0.2) { w = VALUES[Math.floor(r() * VALUES.length)]!; sinceValue = 0; } else w = WORDS[Math.floor(r() * WORDS.length)]!;
    const sep = r() < 0.08 ? '.\n' : r() < 0.1 ? ', ' : ' ';
    parts.push(w, sep);
    n += w.length + sep.length;
    sinceValue += w.length + sep.length;
  }
  return parts.join('').slice(0, size);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs the redaction benchmark; `quick` uses fewer repetitions. */
export async function benchRedaction(opts: { quick?: boolean } = {}): Promise<RedactionFigures> {
  const engine = new RedactionEngine(BUILTIN_DETECTORS, { kind: 'label' });
  const text = mixedText(1_000_000);
  const reps = opts.quick ? 3 : 7;

  // throughput, whole text
  const sink = { key: 'bench', counts: {} as Record<string, number> };
  engine.redact(text.slice(0, 100_000), sink); // warm-up
  const times: number[] = [];
  let redactions = 0;
  for (let i = 0; i < reps; i++) {
    const s = { key: 'bench', counts: {} as Record<string, number> };
    const t0 = performance.now();
    engine.redact(text, s);
    times.push(performance.now() - t0);
    redactions = Object.values(s.counts).reduce((a, b) => a + b, 0);
  }
  const mbPerSec = text.length / 1e6 / (median(times) / 1000);

  // per-chunk latency at the hook level, ~20-character chunks of the same text
  const streamText = text.slice(0, opts.quick ? 100_000 : 300_000);
  const pieces: string[] = [];
  for (let i = 0; i < streamText.length; i += 20) pieces.push(streamText.slice(i, i + 20));
  const chunkObj = (content: string): ChatCompletionChunk => ({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
  const chunks = pieces.map(chunkObj);
  const perChunk: number[] = [];
  for (let i = 0; i < reps; i++) {
    const cr = new ChunkRedactor(engine, { key: 'bench', counts: {} }, false);
    const batch = chunks.map((c) => chunkObj(c.choices[0]!.delta.content as string));
    const t0 = performance.now();
    for (const c of batch) cr.chunk(c);
    perChunk.push(((performance.now() - t0) * 1000) / batch.length);
  }
  const jsonTimes: number[] = [];
  const raw = chunks.map((c) => JSON.stringify(c));
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    let len = 0;
    for (const s of raw) len += JSON.stringify(JSON.parse(s)).length;
    jsonTimes.push(((performance.now() - t0) * 1000) / raw.length);
    if (len === 0) throw new Error("empty");
  }
  const perChunkMicros = median(perChunk);
  const chunkJsonMicros = median(jsonTimes);
  const longest = Math.max(...BUILTIN_DETECTORS.map((d) => d.maxLength));
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    mbPerSec: round(mbPerSec),
    perChunkMicros: round(perChunkMicros),
    chunkJsonMicros: round(chunkJsonMicros),
    perChunkVsJson: round(perChunkMicros / chunkJsonMicros),
    holdBackChars: engine.holdBack,
    maxHoldChars: engine.holdBack + longest,
    redactionsPerMb: redactions,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const f = await benchRedaction({ quick: process.argv.includes('--quick') });
  for (const [k, v] of Object.entries(f)) console.log(`${k.padEnd(18)} ${v}`);
}
