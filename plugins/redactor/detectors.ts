// The built-in detectors' table: a short, bounded trigger regex each (our own, linear: only bounded quantifiers over
// simple classes), optionally a linear extent scanner for values whose tail length varies (emails' domains, JWTs,
// PEM bodies, tokens), and a validator (checksums, ranges, structure) that turns a trigger into a redactable span.
import { RegExpParser } from '@chevrotain/regexp-to-ast';
import { ALNUM, type Detector, nativeFind, scanClass } from './detector-kit.ts';
import { EMAIL_MAX, extendEmail, findEmail, PHONE_CONTEXT, refineEmail, refinePhone } from './detectors-contact.ts';
import {
  CARD_GROUPS, findIpv6, IPV4_CONTEXT, IPV6_BEFORE, IPV6_BODY, refineCard, refineIban, refineIpv4, refineIpv6,
  refineSsn,
} from './detectors-numbers.ts';
import {
  AWS_SECRET_KEYWORD, BEARER_CHARS, extendAwsSecret, extendPassword, extendPem, JWT_CHARS, PASSWORD_KEYWORD, PEM_CAP,
  refineAwsSecret, refineBearer, refineDistinct, refineGithub, refineJwt, refineOpenAi, refinePassword, refineSlack,
  refineSlackWebhook, refineStripe, refineUrlCredentials, SLACK_CHARS, TOKEN_CHARS, URL_AUTH, VALUE_MAX,
  WEBHOOK_CHARS, WORD_CHARS,
} from './detectors-secrets.ts';
import {
  callingCodeValid, cardBrandValid, digitsOf, distinctChars, IBAN_LENGTHS, ibanValid, ipv6Valid, jwtHeaderValid,
  luhnValid, mixedCase, ssnValid,
} from './validators.ts';

interface TriggerSpec { before?: string; body: string; after?: string; flags?: string }

interface ReNode { type: string; value?: unknown; complement?: boolean; quantifier?: { atLeast: number; atMost: number } }

/** Longest match of a parsed non-unicode regex in UTF-16 units (every character or class is one unit). */
function nodeMax(n: ReNode): number {
  let base: number;
  switch (n.type) {
    case 'Pattern': case 'Group': base = nodeMax(n.value as ReNode); break;
    case 'Disjunction': base = Math.max(0, ...(n.value as ReNode[]).map(nodeMax)); break;
    case 'Alternative': base = (n.value as ReNode[]).reduce((t, x) => t + nodeMax(x), 0); break;
    case 'Character': case 'Set': base = 1; break;
    case 'GroupBackReference': base = Infinity; break;
    default: base = 0; // anchors and assertions consume nothing
  }
  return n.quantifier ? base * n.quantifier.atMost : base;
}

/** Longest match of a built-in trigger body, in UTF-16 code units (exported for tests). */
export function bodyMaxLength(body: string): number {
  return nodeMax(new RegExpParser().pattern(`/${body}/`) as unknown as ReNode);
}

/**
 * Writes counted digit runs out: `\\d{3}` → `\\d\\d\\d`, `\\d{2,8}` → `\\d\\d\\d{0,6}` — the same language and the same
 * backtracking order, but V8's regex compiler only looks ahead through literal runs when it picks the positions
 * worth trying ("quick check"), so the written-out form rejects most positions without entering the pattern
 * (a card trigger starting `\\d\\d\\d\\d` scans ~2.5× faster than one starting `\\d{4}`).
 */
export function unrollDigitCounts(source: string): string {
  return source.replace(/(?<!\\)\\d\{(\d+)(?:,(\d+))?\}/g, (all, lo: string, hi: string | undefined) => {
    const m = Number(lo);
    if (m > 8) return all;
    const rest = hi === undefined ? '' : Number(hi) > m ? `\\d{0,${Number(hi) - m}}` : '';
    return '\\d'.repeat(m) + rest;
  });
}

/** Compiles a trigger (lookbehind + body + lookahead) and measures the body's longest match. */
function trigger(spec: TriggerSpec): { find: Detector['find']; triggerMax: number; source: string } {
  const source = unrollDigitCounts(`${spec.before ?? ''}${spec.body}${spec.after ?? ''}`);
  const re = new RegExp(source, `g${spec.flags ?? ''}`);
  const len = bodyMaxLength(spec.body);
  if (!Number.isFinite(len)) throw new Error(`built-in trigger is unbounded: ${spec.body}`);
  return { find: nativeFind(re), triggerMax: len, source };
}

/**
 * Adds to `out` every character code a match of `n` can start with; returns true when `n` can match the empty
 * string (so what follows it can start a match too). Zero-width assertions add nothing and are transparent.
 * Throws on a negated class (its first set is not a short list).
 */
function firstOf(n: ReNode, out: Set<number>): boolean {
  let nullable: boolean;
  switch (n.type) {
    case 'Pattern': case 'Group': nullable = firstOf(n.value as ReNode, out); break;
    case 'Disjunction': nullable = (n.value as ReNode[]).map((x) => firstOf(x, out)).some(Boolean); break;
    case 'Alternative':
      nullable = true;
      for (const t of n.value as ReNode[]) if (!firstOf(t, out)) { nullable = false; break; }
      break;
    case 'Character': out.add(n.value as number); nullable = false; break;
    case 'Set':
      if (n.complement) throw new Error('negated class at the start of a grouped trigger');
      for (const v of n.value as (number | { from: number; to: number })[]) {
        if (typeof v === 'number') out.add(v);
        else for (let c = v.from; c <= v.to; c++) out.add(c);
      }
      nullable = false;
      break;
    default: nullable = true; // anchors, word boundaries and lookarounds consume nothing
  }
  return nullable || (n.quantifier !== undefined && n.quantifier.atLeast === 0);
}

/** The characters a match of the trigger body can start with, as a string; case variants added for `i`. */
export function firstChars(body: string, flags = ''): string {
  const out = new Set<number>();
  if (firstOf(new RegExpParser().pattern(`/${body}/`) as unknown as ReNode, out)) throw new Error(`trigger can match the empty string: ${body}`);
  if (flags.includes('i')) {
    for (const c of [...out]) {
      const ch = String.fromCharCode(c);
      out.add(ch.toLowerCase().charCodeAt(0));
      out.add(ch.toUpperCase().charCodeAt(0));
    }
  }
  const chars = [...out].sort((a, b) => a - b);
  if (chars.some((c) => c >= 128)) throw new Error(`grouped trigger can start with a non-ASCII character: ${body}`);
  return String.fromCharCode(...chars);
}

// ---------------------------------------------------------------------------------------------------------
// The table. Order = tie-break priority (same start and length): more specific detectors first.

function def(
  name: string, label: string, spec: TriggerSpec,
  rest: {
    lookahead?: number; lookbehind?: number; maxCut?: number; maxLength?: number; extend?: Detector['extend']; refine?: Detector['refine'];
    find?: Detector['find']; group?: string;
  },
): Detector {
  const t = trigger(spec);
  const flags = spec.flags ?? '';
  return Object.freeze({
    name, label: `[${label}]`, tokenName: label, find: rest.find ?? t.find, triggerMax: t.triggerMax,
    lookahead: rest.lookahead ?? (spec.after ? 1 : 0), lookbehind: rest.lookbehind ?? (spec.before ? 1 : 0),
    maxCut: rest.maxCut ?? 0, maxLength: rest.maxLength ?? t.triggerMax,
    ...(rest.extend ? { extend: rest.extend } : {}), ...(rest.refine ? { refine: rest.refine } : {}),
    ...(rest.group && !rest.find ? { scan: Object.freeze({ group: rest.group, source: t.source, flags, first: firstChars(spec.body, flags) }) } : {}),
  });
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** Every built-in detector, in tie-break priority order. */
export const BUILTIN_DETECTORS: readonly Detector[] = Object.freeze([
  def('private_key', 'PRIVATE_KEY', { body: '-----BEGIN (?:[A-Z0-9]{1,10} ){0,2}PRIVATE KEY(?: BLOCK)?-----' },
    { group: 'prefix', lookbehind: 0, maxLength: PEM_CAP, extend: extendPem }),
  def('jwt', 'JWT', { before: '(?<![A-Za-z0-9_+/.-])', body: 'eyJ[A-Za-z0-9_-]{4}' },
    { group: 'prefix', maxLength: 8192, extend: (t, s, te, eof) => scanClass(t, s, te, eof, JWT_CHARS, 8192), refine: refineJwt }),
  def('url_credentials', 'URL_CREDENTIALS', { before: '(?<=[A-Za-z0-9+.-])', body: ':\\/\\/[A-Za-z0-9._~%!$&()*+,;=-]' },
    { group: 'prefix', maxCut: 3, maxLength: 320, extend: (t, s, te, eof) => scanClass(t, s, te, eof, URL_AUTH, 324), refine: refineUrlCredentials }),
  def('slack_webhook', 'API_KEY', { before: '(?<![A-Za-z0-9.-])', body: '(?:https?:\\/\\/)?hooks\\.slack\\.com\\/(?:services|workflows|triggers)\\/[A-Za-z0-9]' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, WEBHOOK_CHARS, 256), refine: refineSlackWebhook }),
  def('openai_key', 'API_KEY', { before: '(?<![A-Za-z0-9_-])', body: 'sk-[A-Za-z0-9_-]{16}' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, TOKEN_CHARS, 256), refine: refineOpenAi }),
  def('stripe_key', 'API_KEY', { before: '(?<![A-Za-z0-9_])', body: '[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10}' },
    { group: 'prefix', maxLength: 108, extend: (t, s, te, eof) => scanClass(t, s, te, eof, ALNUM, 108), refine: refineStripe }),
  def('github_token', 'API_KEY', { before: '(?<![A-Za-z0-9_])', body: '(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{8})' },
    { group: 'prefix', maxLength: 93, extend: (t, s, te, eof) => scanClass(t, s, te, eof, WORD_CHARS, 94), refine: refineGithub }),
  def('slack_token', 'API_KEY', { before: '(?<![A-Za-z0-9_.-])', body: '(?:xox[abposer]|xapp|xoxe\\.xox[bp])-[0-9A-Za-z]' },
    { group: 'prefix', maxLength: 256, extend: (t, s, te, eof) => scanClass(t, s, te, eof, SLACK_CHARS, 256), refine: refineSlack }),
  def('google_api_key', 'API_KEY', { before: '(?<![A-Za-z0-9_-])', body: 'AIza[0-9A-Za-z_-]{35}', after: '(?![A-Za-z0-9_-])' },
    { group: 'prefix', refine: refineDistinct(10) }),
  def('aws_access_key', 'API_KEY', { before: '(?<![A-Za-z0-9])', body: '(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}', after: '(?![A-Za-z0-9])' },
    { group: 'prefix', refine: refineDistinct(8) }),
  def('aws_secret_key', 'API_KEY', { body: AWS_SECRET_KEYWORD, flags: 'i' },
    { group: 'keyword', maxCut: 40, maxLength: 40, lookahead: 1, extend: extendAwsSecret, refine: refineAwsSecret }),
  def('bearer_token', 'TOKEN', { before: '(?<![A-Za-z0-9_-])', body: '(?:[Bb]earer|BEARER)[ \\t]{1,3}[A-Za-z0-9._~+/-]' },
    { group: 'prefix', maxCut: 9, maxLength: 4096, extend: (t, s, te, eof) => scanClass(t, s, te, eof, BEARER_CHARS, 4096), refine: refineBearer }),
  def('password', 'PASSWORD', { body: PASSWORD_KEYWORD, flags: 'i' },
    { group: 'keyword', maxCut: 21, maxLength: VALUE_MAX, lookahead: 1, extend: extendPassword, refine: refinePassword }),
  // the first four digits are never apart: refineCard accepts no layout whose first group is shorter (CARD_GROUPS)
  def('credit_card', 'CREDIT_CARD', { before: '(?<!\\d|\\d-)', body: '\\d{4}(?:[ -]?\\d){9,15}', after: '(?!\\d)' },
    { lookbehind: 2, refine: refineCard }),
  def('iban', 'IBAN', { before: '(?<![A-Za-z0-9])', body: '[A-Za-z]{2}\\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,4})?' },
    { lookahead: 1, refine: refineIban }),
  def('us_ssn', 'US_SSN', { before: '(?<![\\w#$.-])', body: '\\d{3}(?:-\\d{2}-|\\.\\d{2}\\.| \\d{2} |\\d{2})\\d{4}', after: '(?!\\w|[.-]\\d)' },
    { lookahead: 2, lookbehind: PHONE_CONTEXT, refine: refineSsn }),
  def('email', 'EMAIL', { before: '(?<![A-Za-z0-9._%+\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f-])', body: '[A-Za-z0-9._%+\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f-]{1,64}@[A-Za-z0-9]' },
    { lookbehind: 3, maxLength: EMAIL_MAX, find: findEmail, extend: extendEmail, refine: refineEmail }),
  def('phone', 'PHONE', {
    before: '(?<![\\w+.-])',
    body: '(?:(?:\\(\\+\\d{1,3}\\)|\\+\\d{1,3})[ .-]?(?:\\(\\d{1,4}\\)[ .-]?)?(?:\\d[ .-]?){5,13}\\d'
      + '|(?:0\\d{1,4}|\\(0\\d{1,4}\\))(?:[ .-]\\d{2,8}){1,4}'
      + '|(?:1[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}'
      + '|\\d{8,15})'
      + '(?: ?(?:[xX]|[eE][xX][tT]\\.?) ?\\d{1,5})?',
    after: '(?!\\w|[.-]\\d)',
  }, { lookahead: 2, lookbehind: Math.max(41, PHONE_CONTEXT), refine: refinePhone }),
  def('ipv6', 'IPV6', { before: IPV6_BEFORE, body: IPV6_BODY }, { lookahead: 2, find: findIpv6, refine: refineIpv6 }),
  def('ipv4', 'IPV4', { before: '(?<![\\w.])', body: `${OCTET}(?:\\.${OCTET}){3}(?:\\/(?:3[0-2]|[12]?\\d))?`, after: '(?!\\w|\\.\\d)' },
    { lookahead: 2, lookbehind: IPV4_CONTEXT, refine: refineIpv4 }),
]);

/** Built-in detector names and the groups a policy may name. `all` enables every built-in detector. */
export const DETECTOR_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  api_key: [
    'openai_key', 'aws_access_key', 'aws_secret_key', 'github_token', 'slack_token', 'slack_webhook', 'stripe_key', 'google_api_key',
    'private_key', 'bearer_token',
  ],
  ip: ['ipv4', 'ipv6'],
  all: BUILTIN_DETECTORS.map((d) => d.name),
});

/** Every name a `redact` block accepts as a detector (built-ins, then groups). */
export const DETECTOR_NAMES: readonly string[] = Object.freeze([...BUILTIN_DETECTORS.map((d) => d.name), ...Object.keys(DETECTOR_GROUPS)]);

export { NEED_MORE, REJECT, nativeFind, type Detector, type SpanOut, type TriggerScan } from './detector-kit.ts';
