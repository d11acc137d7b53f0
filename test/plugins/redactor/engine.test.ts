// Engine tests: the overlap rule, the four replacement styles, JSON-source safety (tool-call arguments), UTF-16
// surrogate pairs at hold boundaries, and how much a stream holds back (window, values in progress, flush).
import { describe, expect, it } from 'vitest';
import { compileRedactText, engineFor, found, oneShot } from './helpers.ts';

const engineOf = (body: string) => compileRedactText(`redact { ${body} }`).config!.response!.engine;

describe('overlap resolution', () => {
  it('earliest start wins: URL credentials before the e-mail-like tail', () => {
    const engine = engineFor(['url_credentials', 'email']);
    expect(engine.spans('https://bob:pw@mail.example.com/x').map((s) => s.type)).toEqual(['url_credentials']);
  });

  it('same start: the longest span wins', () => {
    const engine = engineOf('pattern /AB-\\d{2}/ as "[SHORT]"\n pattern /AB-\\d{4}/ as "[LONG]"');
    expect(oneShot(engine, 'AB-1234')).toBe('[LONG]');
  });

  it('same start and length: the detector listed first wins (custom patterns before built-ins)', () => {
    const engine = engineOf('pattern /\\d{3}-\\d{2}-\\d{4}/ as "[FIRST]"\n pattern /\\d{3}-\\d{2}-\\d{4}/ as "[SECOND]"\n us_ssn');
    expect(oneShot(engine, 'x 078-05-1123 y')).toBe('x [FIRST] y');
  });

  it('same span of two built-ins: the JWT detector outranks the bearer-token detector', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const engine = engineFor(['jwt', 'bearer_token']);
    expect(oneShot(engine, `Authorization: Bearer ${jwt}`)).toBe('Authorization: Bearer [JWT]');
  });

  it('a later candidate inside a selected span is dropped', () => {
    const engine = engineOf('pattern /AAAA-\\d{4}/ as "[X]"\n pattern /\\d{4}-BB/ as "[Y]"');
    expect(oneShot(engine, 'AAAA-1234-BB')).toBe('[X]-BB');
  });
});

describe('replacement styles', () => {
  const text = 'mail john@example.com card 4111 1111 1111 1111';
  it('label', () => {
    expect(oneShot(engineOf('email, credit_card'), text)).toBe('mail [EMAIL] card [CREDIT_CARD]');
  });

  it('fixed mask hides the length', () => {
    expect(oneShot(engineOf('email, credit_card\n style mask "█"'), text)).toBe('mail █ card █');
  });

  it('partial keeps the last letters or digits and the separators', () => {
    expect(oneShot(engineOf('email, credit_card\n style partial 4'), text)).toBe('mail ****@******e.com card **** **** **** 1111');
  });

  it('partial never shows more than half of a short value', () => {
    expect(oneShot(engineOf('pattern /K-\\d{3}/ as "[K]"\n style partial 4'), 'K-123')).toBe('*-*23');
  });

  it('hash: the same value gives the same token, other values and keys differ', () => {
    const engine = engineOf('email\n style hash');
    const a = oneShot(engine, 'a@example.com and a@example.com and b@example.com', false, 'key-1');
    const m = /^\[EMAIL:([0-9a-f]{8})\] and \[EMAIL:([0-9a-f]{8})\] and \[EMAIL:([0-9a-f]{8})\]$/.exec(a);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(m![2]);
    expect(m![1]).not.toBe(m![3]);
    expect(oneShot(engine, 'a@example.com', false, 'key-2')).not.toBe(`[EMAIL:${m![1]}]`);
    expect(oneShot(engine, 'a@example.com', false, 'key-1')).toBe(`[EMAIL:${m![1]}]`);
  });

  it('counts per type, never values', () => {
    const engine = engineOf('email, phone');
    const sink = { key: 'k', counts: {} as Record<string, number> };
    engine.redact('a@example.com, b@example.com, +1 415 555 0132', sink);
    expect(sink.counts).toEqual({ email: 2, phone: 1 });
  });
});

describe('JSON sources stay valid JSON', () => {
  const all = engineFor();
  it.each([
    { note: 'value inside a string', src: '{"to":"john@example.com"}', want: '{"to":"[EMAIL]"}' },
    { note: 'a bare number becomes a string', src: '{"card":4111111111111111,"n":1}', want: '{"card":"[CREDIT_CARD]","n":1}' },
    { note: 'after an escaped newline', src: '{"body":"hi\\njohn@example.com"}', want: '{"body":"hi\\n[EMAIL]"}' },
    { note: 'key and PEM with escaped newlines', src: '{"k":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}', want: '{"k":"[PRIVATE_KEY]\\n"}' },
  ])('$note', ({ src, want }) => {
    const out = oneShot(all, src, true);
    expect(out).toBe(want);
    expect(() => JSON.parse(out)).not.toThrow();
  });

  it('a mask with quotes and backslashes is escaped inside strings', () => {
    const engine = engineOf('email\n style mask "\\"x\\\\"');
    const out = oneShot(engine, '{"to":"john@example.com"}', true);
    expect(JSON.parse(out)).toEqual({ to: '"x\\' });
  });

  it('partial style copies escape sequences', () => {
    const engine = engineOf('pattern /A\\\\u00e9\\d{4}/ as "[A]"\n style partial 2');
    const out = oneShot(engine, '{"x":"A\\u00e91234"}', true);
    expect(JSON.parse(out)).toEqual({ x: '*\u00e9**34' });
  });

  it('a span that would cross a string boundary is not replaced', () => {
    const engine = engineOf('pattern /\\d{2}", "\\d{2}/ as "[N]"');
    expect(oneShot(engine, '["12", "34"]', true)).toBe('["12", "34"]');
    expect(oneShot(engine, '["12", "34"]', false)).toBe('["[N]"]');
  });
});

describe('streaming details', () => {
  it('never ends a release on a lone high surrogate', () => {
    const engine = engineFor(['email']);
    const s = engine.stream({ key: 'k', counts: {} });
    const text = '😀'.repeat(200);
    let out = '';
    for (let i = 0; i < text.length; i += 7) {
      const r = s.push(text.slice(i, i + 7));
      if (r.length > 0) {
        const last = r.charCodeAt(r.length - 1);
        expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
      }
      out += r;
    }
    expect(out + s.flush()).toBe(text);
  });

  it('releases text as soon as it is past the window', () => {
    const engine = engineFor(['us_ssn']);
    const s = engine.stream({ key: 'k', counts: {} });
    expect(s.push('x'.repeat(100))).toBe('x'.repeat(100 - engine.holdBack));
    expect(s.held).toBe(engine.holdBack);
  });

  it('holds a private key block until its END line, then releases the label', () => {
    const engine = engineFor(['private_key']);
    const s = engine.stream({ key: 'k', counts: {} });
    let out = s.push('key:\n-----BEGIN RSA PRIVATE KEY-----\n');
    for (let i = 0; i < 40; i++) out += s.push('MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n');
    expect(out).toBe('key:\n');
    out += s.push('-----END RSA PRIVATE KEY-----\nafter the key, more text follows here and is released in time.');
    expect(out.startsWith('key:\n[PRIVATE_KEY]\nafter')).toBe(true);
    expect(out + s.flush()).toBe('key:\n[PRIVATE_KEY]\nafter the key, more text follows here and is released in time.');
  });

  it('flush releases the held tail and is idempotent', () => {
    const engine = engineFor(['email']);
    const s = engine.stream({ key: 'k', counts: {} });
    expect(s.push('write to john@exa')).toBe('');
    expect(s.flush()).toBe('write to john@exa');
    expect(s.flush()).toBe('');
  });

  it('a value that ends exactly at the end of the stream is redacted at flush', () => {
    const engine = engineFor(['email']);
    const s = engine.stream({ key: 'k', counts: {} });
    expect(s.push('write to john@example.com') + s.flush()).toBe('write to [EMAIL]');
  });

  it('found() helper agrees with spans', () => {
    expect(found(engineFor(['ipv4']), 'a 10.0.0.1 b')).toEqual(['10.0.0.1']);
  });
});
