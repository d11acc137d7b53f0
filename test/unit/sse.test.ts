// SSE framing: events reassembled from any byte split (mid-line, mid-UTF-8), CRLF and multi-line data.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SseDecoder, type SseEvent } from '../../src/chain/sse.ts';

function decodeAll(parts: Uint8Array[]): SseEvent[] {
  const out: SseEvent[] = [];
  const d = new SseDecoder((e) => out.push(e));
  for (const p of parts) d.push(p);
  d.end();
  return out;
}

const STREAM = 'data: {"a":"héllo 👋"}\n\n: keep-alive\n\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';

describe('SseDecoder', () => {
  it('splits a whole stream into events with joined data', () => {
    const ev = decodeAll([Buffer.from(STREAM)]);
    expect(ev.map((e) => e.data)).toEqual(['{"a":"héllo 👋"}', null, 'line1\nline2', '[DONE]']);
    expect(ev[1]!.raw).toBe(': keep-alive');
  });

  it('normalises CRLF framing', () => {
    const ev = decodeAll([Buffer.from(STREAM.replace(/\n/g, '\r\n'))]);
    expect(ev.map((e) => e.data)).toEqual(['{"a":"héllo 👋"}', null, 'line1\nline2', '[DONE]']);
  });

  it('a CRLF split between two chunks is one line break (found by the fuzz suite)', () => {
    const ev = decodeAll([Buffer.from('data: 1\r'), Buffer.from('\ndata: 2\r\n\r'), Buffer.from('\ndata: 3\r\n\r\n')]);
    expect(ev.map((e) => e.data)).toEqual(['1\n2', '3']);
  });

  it('emits a trailing event without a blank line at end()', () => {
    expect(decodeAll([Buffer.from('data: 1\n\ndata: 2\n')]).map((e) => e.data)).toEqual(['1', '2']);
  });

  it('gives the same events for every split of the bytes (property)', () => {
    const bytes = Buffer.from(STREAM);
    const whole = decodeAll([bytes]);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const parts: Uint8Array[] = [];
      let prev = 0;
      for (const p of points) { parts.push(bytes.subarray(prev, p)); prev = p; }
      parts.push(bytes.subarray(prev));
      expect(decodeAll(parts)).toEqual(whole);
    }), { numRuns: 500 });
  });
});
