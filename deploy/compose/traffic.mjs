// Demo traffic for the compose stack (profile "demo"): a steady, bounded mix of requests through the load balancer
// so every panel of the Grafana dashboard fills — allowed, refused, redacted, streamed and rate-limited requests.
// Plain JavaScript on the gateway image's Node; GATEWAY_URL (default http://lb:5000), RATE requests/second (default 4),
// REQUESTS to stop after that many (default: run until stopped).
const base = (process.env.GATEWAY_URL ?? 'http://lb:5000').replace(/\/+$/, '');
const rate = Math.min(50, Math.max(0.2, Number(process.env.RATE ?? 4)));
const total = process.env.REQUESTS ? Math.max(1, Number(process.env.REQUESTS)) : Infinity;
// The public demo key of the bundled rules (README): accepted by the support-bot and policy-gateway policies only.
const DEMO_KEY = 'pgk_wXxgsJlDRmub_Ja6gHpTqRx672U7vxdf90yspOy0PmH7CkfFbXmd0';

/** One request of the mix: [label, path, headers, body]. */
const MIX = [
  ['allow', '/v1/chat/completions', { 'x-policy-id': 'demo', 'x-policy-user': 'user-1' }, 'Summarize our refund policy.'],
  ['redact', '/v1/chat/completions', { 'x-policy-id': 'demo', 'x-policy-user': 'user-2' }, 'My e-mail is jane.doe@example.com and my card 4111 1111 1111 1111.'],
  ['deny', '/v1/chat/completions', { 'x-policy-id': 'demo', 'x-policy-user': 'user-3' }, 'What is the competitor pricing?'],
  ['stream', '/v1/chat/completions', { 'x-policy-id': 'demo', 'x-policy-user': 'user-1' }, 'Tell me about shipping times.', true],
  ['support', '/policy/chat/completions', { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'support-bot', 'x-policy-user': 'user-2', 'x-policy-project': 'support-bot' }, 'Where is my order? I need the order status.', false, 'support-bot'],
  ['off-topic', '/policy/chat/completions', { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'support-bot', 'x-policy-user': 'user-3', 'x-policy-project': 'support-bot' }, 'Tell me a joke', false, 'support-bot'],
  ['shadow', '/policy/chat/completions', { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'beta-app', 'x-policy-user': 'user-4' }, 'Tell me a joke', false, 'support-bot'],
  // One user well over the support-bot quota of 60 requests per minute: 429s with Retry-After.
  ['heavy', '/policy/chat/completions', { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'support-bot', 'x-policy-user': 'heavy-user' }, 'Refund policy?', false, 'support-bot'],
  ['heavy', '/policy/chat/completions', { authorization: `Bearer ${DEMO_KEY}`, 'x-policy-target': 'support-bot', 'x-policy-user': 'heavy-user' }, 'Shipping?', false, 'support-bot'],
  ['no-key', '/policy/chat/completions', { 'x-policy-target': 'support-bot' }, 'Refund policy?', false, 'support-bot'],
];

const counts = new Map();
let sent = 0;

async function once([label, path, headers, content, stream = false, policyId]) {
  const body = { model: 'demo-model', messages: [{ role: 'user', content }], stream };
  if (policyId) body.policy_id = policyId;
  const res = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  const key = `${label}:${res.status}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

const report = () => process.stdout.write(`sent ${sent}: ${[...counts].map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
setInterval(report, 30_000).unref();

for (let i = 0; i < total; i++) {
  const started = Date.now();
  sent++;
  await once(MIX[i % MIX.length]).catch((err) => {
    counts.set('error', (counts.get('error') ?? 0) + 1);
    if (counts.get('error') % 10 === 1) process.stderr.write(`request failed (gateway starting?): ${err.cause?.code ?? err.message}\n`);
  });
  await new Promise((r) => setTimeout(r, Math.max(0, 1000 / rate - (Date.now() - started))));
}
report();
