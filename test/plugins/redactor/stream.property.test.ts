// Property tests of the streaming guarantee: for random texts with embedded sensitive values, redacting the text as
// a stream split at any boundary (every single cut, random multi-cuts, one character at a time) gives exactly the
// whole-text result, every released prefix is a prefix of it, and no released text contains a sensitive value.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { RedactionEngine } from '../../../plugins/redactor/engine.ts';
import { compileRedactText, engineFor, oneShot, streamed } from './helpers.ts';

const VALUES = [
  'john.smith@example.com', 'info@presidio.site', '+1 415 555 0132', '(312) 515-2239', '020 7946 0958',
  '4012-8888-8888-1881', '4111 1111 1111 1111', '371449635398431', '078-05-1123', 'DE89 3704 0044 0532 0130 00',
  'GB29NWBK60161331926819', '192.168.10.20', '2001:db8::8a2e:370:7334', '::ffff:10.0.0.1',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  'AKIALALEMEL33243OLIB', 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', 'AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE',
  'xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD',
  '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',
  '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----',
];
/** Values whose secret part is not the whole string (the redacted part is checked instead). */
const PARTS = [
  { text: 'postgres://admin:s3cr3tPW@db.example.com/app', secret: 'admin:s3cr3tPW' },
  { text: 'Authorization: Bearer abcDEF1234567890ghijKLMN', secret: 'abcDEF1234567890ghijKLMN' },
];
const CUSTOM = ['ACME-123456', 'ACME-987654'];

/** Filler without digits (so it cannot glue onto a value), with non-ASCII letters, emoji and line breaks. */
const fillerWord = fc.constantFrom('the', 'answer', 'is', 'Größe', 'délai', '価格', 'メール', '😀', '🎉x', 'ok', 'a', 'Z', '—', 'über', 'naïve', 'ACME');
const sep = fc.constantFrom(' ', '\n', ', ', '. ', ' (', ') ', ': ', '\t', ' — ', '\r\n');
const piece = fc.oneof(
  { weight: 3, arbitrary: fillerWord },
  { weight: 2, arbitrary: fc.constantFrom(...VALUES, ...CUSTOM) },
  { weight: 1, arbitrary: fc.constantFrom(...PARTS.map((p) => p.text)) },
);
const textArb = fc.array(fc.tuple(piece, sep), { minLength: 1, maxLength: 12 }).map((xs) => xs.map(([p, s]) => p + s).join(''));

/** Cut positions for a text: random, sorted, unique, inside (0, len). */
const cutsFor = (len: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 12 }).map((a) => a.filter((x) => x < len).sort((x, y) => x - y));

function engines(): { note: string; engine: RedactionEngine }[] {
  const compiled = compileRedactText('redact response { all\n pattern /ACME-\\d{6}/ as "[ACCOUNT]" }');
  return [
    { note: 'all detectors + custom pattern, label style', engine: compiled.config!.response!.engine },
    { note: 'all detectors, hash style', engine: engineFor(undefined, { kind: 'hash' }) },
    { note: 'all detectors, partial style', engine: engineFor(undefined, { kind: 'partial', keep: 4, maskChar: '*' }) },
    { note: 'email and phone only', engine: engineFor(['email', 'phone']) },
  ];
}

function secretsIn(text: string): string[] {
  const out = VALUES.filter((v) => text.includes(v));
  for (const p of PARTS) if (text.includes(p.text)) out.push(p.secret);
  for (const c of CUSTOM) if (text.includes(c)) out.push(c);
  return out;
}

describe('streaming redaction equals whole-text redaction', () => {
  for (const { note, engine } of engines()) {
    it(`random multi-splits (${note})`, () => {
      fc.assert(fc.property(textArb.chain((t) => fc.tuple(fc.constant(t), cutsFor(t.length))), ([text, cuts]) => {
        expect(streamed(engine, text, cuts)).toBe(oneShot(engine, text));
      }), { numRuns: 200 });
    });
  }

  it('every single cut position, and one character at a time', () => {
    const { engine } = engines()[0]!;
    fc.assert(fc.property(textArb, (text) => {
      const want = oneShot(engine, text);
      for (let c = 1; c < text.length; c++) expect(streamed(engine, text, [c])).toBe(want);
      expect(streamed(engine, text, Array.from({ length: Math.max(0, text.length - 1) }, (_, i) => i + 1))).toBe(want);
    }), { numRuns: 40 });
  });

  it('never releases a sensitive value, and every release extends a prefix of the final output', () => {
    const { engine } = engines()[0]!;
    fc.assert(fc.property(textArb.chain((t) => fc.tuple(fc.constant(t), cutsFor(t.length))), ([text, cuts]) => {
      const want = oneShot(engine, text);
      const secrets = secretsIn(text);
      for (const s of secrets) expect(want.includes(s)).toBe(false);
      const st = engine.stream({ key: 'k', counts: {} });
      let released = '';
      let prev = 0;
      for (const c of [...cuts, text.length]) {
        released += st.push(text.slice(prev, c));
        prev = c;
        expect(want.startsWith(released)).toBe(true);
        for (const s of secrets) expect(released.includes(s)).toBe(false);
      }
      released += st.flush();
      expect(released).toBe(want);
    }), { numRuns: 300 });
  });

  it('holds back at most the window while no value is in progress', () => {
    const { engine } = engines()[3]!;
    fc.assert(fc.property(fc.array(fillerWord, { minLength: 1, maxLength: 60 }), (words) => {
      const s = engine.stream({ key: 'k', counts: {} });
      for (const w of words) {
        s.push(`${w} `);
        expect(s.held).toBeLessThanOrEqual(engine.holdBack);
      }
    }), { numRuns: 100 });
  });

  it('filler with digits: streaming still equals whole-text redaction', () => {
    const { engine } = engines()[0]!;
    const digitText = fc.array(fc.tuple(fc.oneof(fc.stringMatching(/^[0-9 .\-+()@:a-f]{1,12}$/), piece), sep), { minLength: 1, maxLength: 10 })
      .map((xs) => xs.map(([p, s]) => p + s).join(''));
    fc.assert(fc.property(digitText.chain((t) => fc.tuple(fc.constant(t), cutsFor(t.length))), ([text, cuts]) => {
      expect(streamed(engine, text, cuts)).toBe(oneShot(engine, text));
    }), { numRuns: 300 });
  });

  it('JSON sources (tool-call arguments) stay valid JSON and stream identically', () => {
    const { engine } = engines()[0]!;
    const valueArb = fc.oneof(
      textArb,
      fc.constantFrom(4111111111111111, 4012888888881881, 371449635398431),
      fc.constantFrom('line\\nmore', 'q"uote', 'tab\there'),
    );
    const objArb = fc.dictionary(fc.constantFrom('to', 'body', 'card', 'note', 'ssn'), valueArb, { minKeys: 1, maxKeys: 4 });
    fc.assert(fc.property(objArb.chain((o) => {
      const text = JSON.stringify(o);
      return fc.tuple(fc.constant(text), cutsFor(text.length));
    }), ([text, cuts]) => {
      const want = oneShot(engine, text, true);
      expect(() => JSON.parse(want)).not.toThrow();
      expect(streamed(engine, text, cuts, true)).toBe(want);
    }), { numRuns: 300 });
  });
});
