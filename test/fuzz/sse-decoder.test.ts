// The SSE decoder fed arbitrary upstream bytes (issue 13, Show): it never throws, emits the same events however the
// bytes are split (invalid UTF-8 and CR/LF mixtures included), never holds a complete event back, and what it holds
// is what `pending` reports (the server bounds it with --upstream-body-limit).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SseDecoder, type SseEvent } from '../../src/chain/sse.ts';
import { FC_PARAMS, RUNS } from './profile.ts';

function decode(parts: readonly Uint8Array[]): { events: SseEvent[]; maxPending: number } {
  const events: SseEvent[] = [];
  const d = new SseDecoder((e) => events.push(e));
  let maxPending = 0;
  for (const p of parts) { d.push(p); maxPending = Math.max(maxPending, d.pending); }
  d.end();
  expect(d.pending).toBe(0);
  return { events, maxPending };
}

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc.array(fc.constantFrom('data: ', 'data:', '{"a":1}', '\n', '\r', '\r\n', '\n\n', ': c', 'event: x', '[DONE]', 'é', '😀', '\u2028'), { maxLength: 40 })
    .map((xs) => new TextEncoder().encode(xs.join(''))),
  fc.tuple(fc.uint8Array({ maxLength: 50 }), fc.constantFrom(0xc3, 0xe2, 0xf0, 0xed)).map(([b, lead]) => Uint8Array.from([...b, lead])),
);
const split = (b: Uint8Array, cuts: number[]): Uint8Array[] => {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) { out.push(b.subarray(prev, p)); prev = p; }
  out.push(b.subarray(prev));
  return out;
};

describe('fuzz: SseDecoder on arbitrary bytes', () => {
  it(`never throws and gives the same events for any split (${RUNS * 10} runs)`, () => {
    fc.assert(fc.property(bytes, fc.array(fc.nat(), { maxLength: 10 }), (b, cuts) => {
      const whole = decode([b]);
      const parts = decode(split(b, cuts));
      expect(parts.events).toEqual(whole.events);
      for (const e of whole.events) {
        expect(e.raw.includes('\n\n')).toBe(false);
        expect(e.raw.includes('\r')).toBe(false);
        expect(e.raw.length).toBeGreaterThan(0);
      }
    }), { ...FC_PARAMS, numRuns: RUNS * 10 });
  });

  it('holds at most the bytes of the event in progress', () => {
    fc.assert(fc.property(fc.array(fc.string({ maxLength: 50 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 20 }), (lines) => {
      const text = lines.map((l) => `data: ${l}\n\n`).join('');
      const { maxPending } = decode(split(new TextEncoder().encode(text), [7, 19, 31]));
      expect(maxPending).toBeLessThanOrEqual(Math.max(0, ...lines.map((l) => l.length + 8)));
    }), { ...FC_PARAMS, numRuns: RUNS * 5 });
  });
});
