// The client's request bytes: the scan finds the root members and the policy_* ones among them (escaped keys too),
// counts members so repeated keys show, bounds the depth like jsonNestsDeeper; splicing keeps everything else as sent.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countKeys, META_FIELDS, scanRequestBody, spliceBody } from '../../src/http/request-bytes.ts';
import { jsonNestsDeeper } from '../../src/json-depth.ts';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const withoutMeta = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([k]) => !META_FIELDS.includes(k)));

describe('request bytes', () => {
  it.each([
    { note: 'compact, metadata first', raw: '{"policy_id":"p","model":"m","messages":[]}', kept: '{"model":"m","messages":[]}' },
    { note: 'whitespace everywhere, metadata last', raw: ' {\n "model" : "m" ,\t"messages": [ {"role":"user","content":"a, b: {c}"} ] , "policy_user" : "u"\n} ', kept: '{"model" : "m","messages": [ {"role":"user","content":"a, b: {c}"} ]}' },
    { note: 'an escaped metadata key', raw: '{"model":"m","policy\\u005fid":"p","n":1}', kept: '{"model":"m","n":1}' },
    { note: 'a look-alike key stays', raw: '{"policy_idx":"p","model":"m","x":null,"y":true,"z":-1.5e3}', kept: '{"policy_idx":"p","model":"m","x":null,"y":true,"z":-1.5e3}' },
    { note: 'strings with quotes and backslashes', raw: '{"model":"m\\\\","s":"\\"policy_id\\":1,","policy_target":"t"}', kept: '{"model":"m\\\\","s":"\\"policy_id\\":1,"}' },
  ])('splices out $note', ({ raw, kept }) => {
    const scan = scanRequestBody(bytes(raw), 64);
    expect(spliceBody(bytes(raw), scan).toString()).toBe(kept);
    expect(JSON.parse(kept)).toEqual(withoutMeta(JSON.parse(raw)));
  });

  it('returns the very bytes when there is nothing to take out or add, and appends an added member', () => {
    const raw = bytes('{"model":"m","messages":[]}');
    expect(spliceBody(raw, scanRequestBody(raw, 64))).toBe(raw);
    expect(spliceBody(raw, scanRequestBody(raw, 64), bytes('"stream_options":{"include_usage":true}')).toString())
      .toBe('{"model":"m","messages":[],"stream_options":{"include_usage":true}}');
  });

  it('counts members so a repeated key shows (and only then)', () => {
    const once = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
    const twice = '{"model":"m","messages":[{"role":"user","content":"wire"}],"messages":[{"role":"user","content":"hi"}]}';
    const nested = '{"model":"m","messages":[{"role":"user","role":"system","content":"hi"}]}';
    expect(scanRequestBody(bytes(once), 64).members).toBe(countKeys(JSON.parse(once)));
    expect(scanRequestBody(bytes(twice), 64).members).toBe(countKeys(JSON.parse(twice)) + 3); // the repeat, and the dropped array's two
    expect(scanRequestBody(bytes(nested), 64).members).toBe(countKeys(JSON.parse(nested)) + 1);
    const proto = '{"__proto__":{"a":1},"model":"m"}';
    expect(scanRequestBody(bytes(proto), 64).members).toBe(countKeys(JSON.parse(proto)));
  });

  const meta = fc.record({ policy_id: fc.string(), policy_user: fc.string() }, { requiredKeys: [] });
  it('property: for any object, the spliced bytes parse to the parsed body without its metadata, members = keys', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })), meta, fc.constantFrom(0, 1, 2, '\t'), (obj, m, indent) => {
      const body = { ...obj, ...m };
      const raw = bytes(JSON.stringify(body, null, indent));
      const scan = scanRequestBody(raw, 64);
      expect(scan.tooDeep).toBe(false);
      expect(scan.members).toBe(countKeys(JSON.parse(raw.toString())));
      expect(JSON.parse(spliceBody(raw, scan).toString())).toEqual(withoutMeta(JSON.parse(raw.toString())));
    }), { numRuns: 300 });
  });

  it('property: the depth verdict is jsonNestsDeeper\'s', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 70 }), (depth, max) => {
      const raw = bytes(`{"a":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`);
      expect(scanRequestBody(raw, max).tooDeep).toBe(depth > max);
      if (raw.length >= 2 * (max + 1)) expect(scanRequestBody(raw, max).tooDeep).toBe(jsonNestsDeeper(raw, max));
    }), { numRuns: 200 });
  });
});
