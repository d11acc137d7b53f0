// Benchmarks of the per-request work of decide and rollout (vitest 5 `bench` fixture): decision lookup, the decide
// hook with a rewrite, rollout selection with a percentage rule. The reporter prints a table per case; run: npx vitest bench --run test/plugins/decide
import { test } from 'vitest';
import { decidePlugin } from '../../../plugins/decide/index.ts';
import { evaluateDecision } from '../../../plugins/decide/evaluate-decision.ts';
import { moderationKey, topicsKey } from '../../../src/sdk/state-keys.ts';
import { rolloutPlugin, selectRollout } from '../../../plugins/rollout/index.ts';
import { ctxFor, testServices } from '../../helpers/ctx.ts';
import { compileClean } from './policy-helpers.ts';

const respond = compileClean(decidePlugin, `  respond {
    when "sexual/minors" escalate reason "CSAM_REVIEW"
    when "self-harm/*" rewrite reason "SELF_HARM" with "Answer with care."
    when "violence/*" summary max_tokens 150
    when denylist refuse
    otherwise allow
    escalation { url "http://127.0.0.1:9/hook" }
  }`);
const hooks = decidePlugin.hooks(respond);
const rollout = compileClean(rolloutPlugin, `  rollout {
    enforce target "support-bot"
    shadow target "beta-*"
    enforce target "canary" percent 10%
    shadow target "*"
  }`);

const noTriggers = { allowlistConfigured: true, allowlistHits: ['refund policy'], denylistHits: [], flagged: [] };
const twoTriggers = { allowlistConfigured: false, allowlistHits: [], denylistHits: ['x'], flagged: ['hate', 'violence/graphic'] };
const services = testServices();
const newCtx = () => {
  const ctx = ctxFor({ model: 'm', messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'q' }] }, { services });
  ctx.set(moderationKey, { flagged: ['self-harm/intent'], scores: {}, provider: 'builtin', rules: {} });
  ctx.set(topicsKey, { allowlistConfigured: false, allowlistHits: [], denylistHits: [], denyRule: null });
  return ctx;
};
let i = 0;
let sink: unknown;

test('decide and rollout per-request cost', async ({ bench }) => {
  const cases: [string, () => void][] = [
    ['evaluateDecision, no triggers', () => { sink = evaluateDecision(respond, noTriggers); }],
    ['evaluateDecision, denylist + two categories', () => { sink = evaluateDecision(respond, twoTriggers); }],
    ['ctxFor + state (baseline for the next line)', () => { sink = newCtx(); }],
    ['ctxFor + state + decide onRequest (rewrite)', () => { sink = hooks.onRequest!(newCtx()); }],
    ['selectRollout, exact target', () => { sink = selectRollout(rollout, 'support-bot', 'u'); }],
    ['selectRollout, percentage rule (hashes the user)', () => { sink = selectRollout(rollout, 'canary', `user-${i++ & 1023}`); }],
    ['selectRollout, no target (catch-all)', () => { sink = selectRollout(rollout, null, null); }],
  ];
  // The reporter prints one table per case (hz, mean in ms, p99, …).
  for (const [name, fn] of cases) await bench(name, fn).run();
  void sink;
});
