// The nesting pre-scan (issue 13 item 1): on any JSON document it agrees with the depth of the parsed value, for bytes
// and for strings; brackets, quotes and backslashes inside strings never count; depth far past the limit is cheap.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonNestsDeeper, jsonTextNestsDeeper } from '../../src/json-depth.ts';
import { parseChatRequest } from '../../src/http/parse-request.ts';
import { GatewayError } from '../../src/errors.ts';

/** Nesting depth of a parsed value: scalars 0, an empty array or object 1. Iterative (the values can be deep). */
function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    max = Math.max(max, d + 1);
    for (const c of Object.values(x as object)) stack.push([c, d + 1]);
  }
  return max;
}

describe('jsonNestsDeeper / jsonTextNestsDeeper', () => {
  it('agree with the depth of the parsed value for any JSON document and limit', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 1, max: 14 }), fc.boolean(), (v, max, pretty) => {
      const text = JSON.stringify(v, null, pretty ? 2 : undefined);
      const want = depthOf(v) > max;
      expect(jsonNestsDeeper(Buffer.from(text), max)).toBe(want);
      expect(jsonTextNestsDeeper(text, max)).toBe(want);
    }), { numRuns: 2000 });
  });

  it.each([
    { note: 'brackets inside strings do not count', text: '{"a":"[[[[[[[[[[[[","b":"{{{{{{{{{{{{"}', max: 1, want: false },
    { note: 'an escaped quote does not end a string', text: '{"a":"x\\"[[[[[[[[[[[[[[\\"","b":1}', max: 1, want: false },
    { note: 'an escaped backslash before a quote does end it', text: '{"a":"x\\\\","b":[[[[[[]]]]]]}', max: 3, want: true },
    { note: 'non-ASCII text in strings is skipped', text: `{"a":"é€😀${'['.repeat(20)}","b":[[]]}`, max: 3, want: false },
    { note: 'exactly at the limit passes', text: `${'['.repeat(64)}${']'.repeat(64)}`, max: 64, want: false },
    { note: 'one past the limit is caught', text: `${'['.repeat(65)}${']'.repeat(65)}`, max: 64, want: true },
  ])('$note', ({ text, max, want }) => {
    expect(jsonNestsDeeper(Buffer.from(text), max)).toBe(want);
    expect(jsonTextNestsDeeper(text, max)).toBe(want);
  });

  it('stops at the first level past the limit, whatever the depth after it', () => {
    const deep = Buffer.from('['.repeat(5_000_000) + ']'.repeat(5_000_000));
    const t = performance.now();
    expect(jsonNestsDeeper(deep, 64)).toBe(true);
    expect(performance.now() - t).toBeLessThan(1000); // a bound against regressions to a full walk, not a benchmark
  });
});

describe('parseChatRequest with the nesting bound', () => {
  const body = (x: string) => Buffer.from(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${x}}`);
  it('refuses a body nested past the limit with GW_ERR_JSON_TOO_DEEP naming the limit', () => {
    let err: unknown;
    try { parseChatRequest(body('['.repeat(10) + ']'.repeat(10)), {}, 8); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('GW_ERR_JSON_TOO_DEEP');
    expect((err as GatewayError).message).toContain('limit of 8 levels');
  });
  it('accepts the same body when the limit allows it (body object = level 1)', () => {
    expect(parseChatRequest(body('['.repeat(7) + ']'.repeat(7)), {}, 8).request.model).toBe('m');
  });
});
