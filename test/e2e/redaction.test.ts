// End-to-end redaction (issue 5): the real CLI in front of a fake upstream whose answers carry e-mails, cards, SSNs,
// IBANs, JWTs and API keys, streamed one character per chunk; driven with the openai SDK and raw HTTP. Shows the
// redacted answers, that no raw value reaches the client or the upstream, and the counts in audit records and metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { rulesDir, startGateway, type GatewayProcess } from '../helpers/gateway-process.ts';
import { parseLogfmt } from '../plugins/auditor/helpers.ts';

/** Sensitive values; every card and IBAN passes its checksum (Luhn, mod-97). */
const V = {
  email1: 'alice.smith@example.com',
  email2: 'bob.jones@corp.example.org',
  card1: '4111 1111 1111 1111',
  card2: '5500-0000-0000-0004',
  ssn: '536-22-1234',
  iban1: 'DE89 3704 0044 0532 0130 00',
  iban2: 'GB82WEST12345698765432',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  openai: 'sk-proj-Ab3dE5gH7jK9mN1pQ3sT3BlbkFJuV5wX7yZ9bC1dF3hJ5kL',
  aws: 'AKIAZ7QW3ERT9YUI4OPL',
  github: 'ghp_R4nd0mT0k3nW1thEnoughD1v3rs1tyAbCdEf',
  acct1: 'ACME-123456',
  acct2: 'ACME-654321',
} as const;
type Name = keyof typeof V;

/** The upstream's answer, with `{name}` placeholders. The order number fails Luhn: a hard negative that stays. */
const TEMPLATE = 'Hi! Write to {email1} or {email2} (again: {email1}).\n'
  + 'Card: {card1}, backup {card2}; SSN {ssn}. Order 4111 1111 1111 1112 ships Tuesday.\n'
  + 'IBAN {iban1}, also {iban2}. Accounts {acct1} and {acct2}.\n'
  + 'Session {jwt}\nKeys: {openai} / {aws} / {github}. Café ☕ déjà vu.';

/** TEMPLATE with each placeholder replaced by `repl[name]` (the raw value when absent). */
function render(repl: Partial<Record<Name, string>>): string {
  return TEMPLATE.replace(/\{(\w+)\}/g, (_, k: Name) => repl[k] ?? V[k]);
}
const ANSWER = render({});

const LABELS_ALL: Partial<Record<Name, string>> = {
  email1: '[EMAIL]', email2: '[EMAIL]', card1: '[CREDIT_CARD]', card2: '[CREDIT_CARD]', ssn: '[US_SSN]', iban1: '[IBAN]',
  iban2: '[IBAN]', jwt: '[JWT]', openai: '[API_KEY]', aws: '[API_KEY]', github: '[API_KEY]',
};
const COUNTS_ALL = { email: 3, credit_card: 2, us_ssn: 1, iban: 2, jwt: 1, openai_key: 1, aws_access_key: 1, github_token: 1 };

const RULES = {
  'redact.policy': `policy "all" {
  default
  redact response { all }
}
policy "both" {
  redact both {
    email, credit_card, api_key
  }
}
policy "hashed" {
  redact response {
    email, credit_card
    pattern /ACME-\\d{6}/ as "[ACCOUNT]"
    style hash
  }
}
policy "partial" {
  redact response { credit_card, iban; pattern /ACME-\\d{6}/ as "[ACCOUNT]"; style partial 4 }
}
`,
};
const REDACT_KEY = 'e2e-redaction-key-1';

let up: FakeUpstream;
let gw: GatewayProcess;
let rules: string;
let seq = 0;

beforeAll(async () => {
  // One character per SSE chunk: every sensitive value is split across as many chunks as it has characters.
  up = await startFakeUpstream({ answer: ANSWER, pieceChars: 1 });
  rules = rulesDir(RULES);
  gw = await startGateway(['--rules', rules, '--upstream', up.baseUrl], { env: { POLICY_GATEWAY_REDACT_KEY: REDACT_KEY } });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

const client = (g: GatewayProcess, policy: string) =>
  new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-policy-id': policy } });
const nextId = (what: string) => `redact-${what}-${++seq}`;
const msgs: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Please list my contact and payment details.' }];

async function sdkAnswer(g: GatewayProcess, policy: string, id: string, messages = msgs): Promise<string> {
  const r = await client(g, policy).chat.completions.create({ model: 'fake-model', messages }, { headers: { 'x-request-id': id } });
  return r.choices[0]!.message.content ?? '';
}

async function sdkStream(g: GatewayProcess, policy: string, id: string, messages = msgs): Promise<{ text: string; pieces: number }> {
  const stream = await client(g, policy).chat.completions.create({ model: 'fake-model', messages, stream: true }, { headers: { 'x-request-id': id } });
  let text = '';
  let pieces = 0;
  for await (const c of stream) {
    const d = c.choices[0]?.delta?.content;
    if (d) { text += d; pieces++; }
  }
  return { text, pieces };
}

/** The audit record (logfmt on the gateway's stdout) of request `id`, once written. */
async function auditOf(g: GatewayProcess, id: string): Promise<Record<string, string | null>> {
  let line: string | undefined;
  await expect.poll(() => (line = g.stdout().split('\n').find((l) => /^\d{4}-\d\d-\d\dT/.test(l) && l.includes(` request_id=${id} `))), { timeout: 5000 }).toBeDefined();
  return parseLogfmt(line!);
}

/** `email:3,credit_card:2` → { email: 3, credit_card: 2 }. */
function counts(text: string | null | undefined): Record<string, number> {
  if (!text) return {};
  return Object.fromEntries(text.split(',').map((p) => { const i = p.lastIndexOf(':'); return [p.slice(0, i), Number(p.slice(i + 1))]; }));
}

async function redactionMetrics(g: GatewayProcess, policy: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^policy_gateway_redactions_total\{policy_id="([^"]+)",type="([^"]+)"\} (\d+)$/gm)) {
    if (m[1] === policy) out[m[2]!] = Number(m[3]);
  }
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
}

/** Every raw value that `policy` must redact (values it leaves alone may appear). */
function rawValues(repl: Partial<Record<Name, string>>): string[] {
  return (Object.keys(repl) as Name[]).map((k) => V[k]);
}

/** Raw SSE over fetch: every byte received, and the content deltas in order. */
async function rawStream(g: GatewayProcess, policy: string, id: string): Promise<{ bytes: string; deltas: string[] }> {
  const r = await fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-policy-id': policy, 'x-request-id': id },
    // split-sse: the upstream also writes its SSE bytes in 7-byte pieces (frames cut mid-line and mid-UTF-8)
    body: JSON.stringify({ model: 'split-sse', messages: msgs, stream: true }),
  });
  expect(r.status).toBe(200);
  const dec = new TextDecoder();
  let bytes = '';
  for await (const part of r.body!) bytes += dec.decode(part, { stream: true });
  bytes += dec.decode();
  const deltas: string[] = [];
  for (const ev of bytes.split('\n\n')) {
    if (!ev.startsWith('data: {')) continue;
    const d = (JSON.parse(ev.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content;
    if (d) deltas.push(d);
  }
  return { bytes, deltas };
}

/** No raw value appears in `text`, whole or (for JSON bytes) as its JSON-escaped form. */
function expectNoRaw(text: string, raws: readonly string[]): void {
  for (const raw of raws) {
    expect(text, raw).not.toContain(raw);
    expect(text, raw).not.toContain(JSON.stringify(raw).slice(1, -1));
  }
}

describe('redact response { all }', () => {
  const expected = render(LABELS_ALL);
  const raws = rawValues(LABELS_ALL);

  it('the expected answer itself holds no raw value and keeps every non-sensitive byte (hard negatives, non-ASCII)', () => {
    expectNoRaw(expected, raws);
    expect(expected).toContain('Order 4111 1111 1111 1112 ships Tuesday.');
    expect(expected).toContain('Accounts ACME-123456 and ACME-654321.');
    expect(expected).toContain('Café ☕ déjà vu.');
  });

  it('non-streaming (openai SDK): the redacted answer, counts in the audit record and in /metrics', async () => {
    const before = await redactionMetrics(gw, 'all');
    const id = nextId('all-json');
    expect(await sdkAnswer(gw, 'all', id)).toBe(expected);
    const rec = await auditOf(gw, id);
    expect(rec.policy_id).toBe('all');
    expect(counts(rec.redactions)).toEqual(COUNTS_ALL);
    expect(delta(await redactionMetrics(gw, 'all'), before)).toEqual(COUNTS_ALL);
  });

  it('streaming (openai SDK), one character per upstream chunk: the same redacted text, same counts', async () => {
    const before = await redactionMetrics(gw, 'all');
    const id = nextId('all-sse');
    const { text, pieces } = await sdkStream(gw, 'all', id);
    expect(text).toBe(expected);
    // the answer really arrived in many small pieces, not as one buffered blob
    expect(pieces).toBeGreaterThan(20);
    expect(counts((await auditOf(gw, id)).redactions)).toEqual(COUNTS_ALL);
    expect(delta(await redactionMetrics(gw, 'all'), before)).toEqual(COUNTS_ALL);
  });

  it('raw SSE split in 7-byte pieces: no raw value in any received byte, every delta a piece of the redacted text', async () => {
    const id = nextId('all-raw');
    const { bytes, deltas } = await rawStream(gw, 'all', id);
    expectNoRaw(bytes, raws);
    // concatenated deltas are exactly the redacted text, so no delta ever carried a character of a raw value
    expect(deltas.join('')).toBe(expected);
    expect(deltas.length).toBeGreaterThan(20);
    expect(counts((await auditOf(gw, id)).redactions)).toEqual(COUNTS_ALL);
  });
});

describe('redact both { email, credit_card, api_key }', () => {
  const requestText = `Hello, I am ${V.email2}; charge ${V.card2} and use my key ${V.openai} please (my SSN ${V.ssn} stays).`;
  const requestExpected = 'Hello, I am [EMAIL]; charge [CREDIT_CARD] and use my key [API_KEY] please (my SSN 536-22-1234 stays).';
  const answerRepl: Partial<Record<Name, string>> = {
    email1: '[EMAIL]', email2: '[EMAIL]', card1: '[CREDIT_CARD]', card2: '[CREDIT_CARD]', openai: '[API_KEY]', aws: '[API_KEY]', github: '[API_KEY]',
  };
  const answerCounts = { email: 3, credit_card: 2, openai_key: 1, aws_access_key: 1, github_token: 1 };
  const requestCounts = { email: 1, credit_card: 1, openai_key: 1 };
  const requestRaws = [V.email2, V.card2, V.openai];

  it.each([{ note: 'non-streaming', stream: false }, { note: 'streaming', stream: true }])(
    'request scope ($note): the upstream never receives the raw values; the answer is redacted too', async ({ stream }) => {
      const before = await redactionMetrics(gw, 'both');
      const id = nextId(`both-${stream}`);
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: requestText }];
      const text = stream ? (await sdkStream(gw, 'both', id, messages)).text : await sdkAnswer(gw, 'both', id, messages);
      expect(text).toBe(render(answerRepl));

      const got = up.received.find((r) => r.headers['x-request-id'] === id)!;
      expectNoRaw(got.raw, requestRaws);
      expect(got.body.messages).toEqual([{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: requestExpected }]);

      const rec = await auditOf(gw, id);
      expect(counts(rec.request_redactions)).toEqual(requestCounts);
      expect(counts(rec.redactions)).toEqual(answerCounts);
      const sum: Record<string, number> = { ...answerCounts };
      for (const [k, v] of Object.entries(requestCounts)) sum[k] = (sum[k] ?? 0) + v;
      expect(delta(await redactionMetrics(gw, 'both'), before)).toEqual(sum);
    });
});

describe('custom pattern and replacement styles', () => {
  it('style partial 4: keeps the last four letters/digits of cards, IBANs and custom patterns, streaming or not', async () => {
    const expected = render({
      card1: '**** **** **** 1111', card2: '****-****-****-0004', iban1: '**** **** **** **** **30 00', iban2: '******************5432',
      acct1: '****-**3456', acct2: '****-**4321',
    });
    const id1 = nextId('partial-json');
    const id2 = nextId('partial-sse');
    expect(await sdkAnswer(gw, 'partial', id1)).toBe(expected);
    expect((await sdkStream(gw, 'partial', id2)).text).toBe(expected);
    // built-in counts in the audit record (custom-pattern counts: see the next test), all counts in /metrics
    for (const id of [id1, id2]) expect(counts((await auditOf(gw, id)).redactions)).toMatchObject({ credit_card: 2, iban: 2 });
    expect(await redactionMetrics(gw, 'partial')).toEqual({ credit_card: 4, iban: 4, ACCOUNT: 4 });
  });

  it('custom-pattern counts reach the audit record under their type (the label without brackets)', async () => {
    const id = nextId('partial-audit');
    await sdkAnswer(gw, 'partial', id);
    expect(counts((await auditOf(gw, id)).redactions)).toEqual({ credit_card: 2, iban: 2, ACCOUNT: 2 });
  });

  it('style hash: one stable keyed token per value — equal in streams, answers and across processes with the same key', async () => {
    const token = (label: string) => `(\\[${label}:[0-9a-f]{8}\\])`;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // the expected answer as a regex, capturing each token in template order
    const parts = TEMPLATE.split(/(\{\w+\})/);
    const labels: Partial<Record<Name, string>> = { email1: 'EMAIL', email2: 'EMAIL', card1: 'CREDIT_CARD', card2: 'CREDIT_CARD', acct1: 'ACCOUNT', acct2: 'ACCOUNT' };
    const order: Name[] = [];
    const re = new RegExp(`^${parts.map((p) => {
      const m = /^\{(\w+)\}$/.exec(p);
      if (!m) return esc(p);
      const k = m[1] as Name;
      if (!labels[k]) return esc(V[k]);
      order.push(k);
      return token(labels[k]);
    }).join('')}$`);
    const tokensOf = (text: string): Partial<Record<Name, string>> => {
      const m = re.exec(text);
      expect(m, text).not.toBeNull();
      const out: Partial<Record<Name, string>> = {};
      order.forEach((k, i) => {
        if (out[k] !== undefined) expect(m![i + 1]).toBe(out[k]); // the same value twice → the same token
        out[k] = m![i + 1];
      });
      return out;
    };

    const id = nextId('hash-json');
    const a = tokensOf(await sdkAnswer(gw, 'hashed', id));
    // different values → different tokens
    expect(new Set(Object.values(a)).size).toBe(Object.keys(labels).length);
    expect(a).toEqual(tokensOf((await sdkStream(gw, 'hashed', nextId('hash-sse'))).text));
    expect(counts((await auditOf(gw, id)).redactions)).toMatchObject({ email: 3, credit_card: 2 });
    expect(await redactionMetrics(gw, 'hashed')).toEqual({ ACCOUNT: 4, email: 6, credit_card: 4 });

    // another gateway process with the same key gives the same tokens; one with another key, different ones
    const [same, other] = await Promise.all([
      startGateway(['--rules', rules, '--upstream', up.baseUrl], { env: { POLICY_GATEWAY_REDACT_KEY: REDACT_KEY } }),
      startGateway(['--rules', rules, '--upstream', up.baseUrl], { env: { POLICY_GATEWAY_REDACT_KEY: 'another-key' } }),
    ]);
    try {
      expect(tokensOf(await sdkAnswer(same, 'hashed', nextId('hash-same')))).toEqual(a);
      const b = tokensOf(await sdkAnswer(other, 'hashed', nextId('hash-other')));
      for (const k of Object.keys(labels) as Name[]) expect(b[k]).not.toBe(a[k]);
    } finally {
      await Promise.all([same.stop(), other.stop()]);
    }
  });
});

describe('logs', () => {
  it('no sensitive value from any answer or prompt above ever reaches the gateway stdout (app log + audit) or stderr', () => {
    expect(gw.stdout()).toMatch(/ request_id=redact-hash-json-\d+ /);
    expectNoRaw(gw.stdout() + gw.stderr(), Object.values(V));
  });
});
