// The console page's script: asks for the admin key, then reads /console/api/ — history plus a live SSE stream of
// decisions (read with fetch, so the key rides in a header), per-policy stats, the loaded policies, the playground.
// Every value from the server goes into the page as text (textContent), never as HTML.

const $ = (sel) => document.querySelector(sel);
const MAX_ROWS = 500;
const DECISIONS = ['allow', 'rewrite', 'summary', 'escalate', 'refuse', 'reject'];
const COLORS = { allow: '#1f8a4c', rewrite: '#b7791f', summary: '#7b5cc4', escalate: '#c2410c', refuse: '#c0262d', reject: '#555c6b' };

let key = sessionStorage.getItem('pgw-console-key') || '';
let streamAbort;
let statsTimer;
let lastSeq = 0;
let policiesCache;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v; else if (k === 'style') e.style.cssText = v; else if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/** A console API call; throws an Error carrying the OpenAI-shaped error's message and code. */
async function api(path, opts = {}) {
  const r = await fetch(`/console/api/${path}`, { ...opts, headers: { authorization: `Bearer ${key}`, ...(opts.headers || {}) } });
  if (!r.ok) {
    let msg = `HTTP ${r.status}`;
    let code = null;
    try { const j = await r.json(); msg = j.error.message; code = j.error.code; } catch { /* not JSON */ }
    const err = new Error(msg);
    err.status = r.status;
    err.code = code;
    throw err;
  }
  return r;
}

function badge(d) {
  return d ? el('span', { class: `badge d-${DECISIONS.includes(d) ? d : 'reject'}`, text: d }) : el('span', { class: 'muted', text: '–' });
}

// ---- login ----------------------------------------------------------------------------------------------------
async function open() {
  try {
    const me = await (await api('me')).json();
    $('#login').hidden = true;
    $('#tabs').hidden = false;
    $('#who').textContent = `${me.label} · ${me.worker ? `worker ${me.worker.id} of ${me.worker.of}` : 'single process'} · revision ${me.revision}`;
    show('live');
    getPolicies().catch(() => { /* the policy filter just has no suggestions */ });
  } catch (e) {
    key = '';
    sessionStorage.removeItem('pgw-console-key');
    $('#login').hidden = false;
    $('#login-error').textContent = e.status ? `Refused (${e.status} ${e.code}): ${e.message}` : `Cannot reach the console: ${e.message}`;
  }
}

$('#login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  key = $('#key').value.trim();
  sessionStorage.setItem('pgw-console-key', key);
  $('#key').value = '';
  void open();
});

// ---- tabs -----------------------------------------------------------------------------------------------------
function show(tab) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.tab === tab);
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== tab;
  clearInterval(statsTimer);
  if (tab === 'live' && !streamAbort) void startLive();
  if (tab === 'stats') { void loadStats(); statsTimer = setInterval(loadStats, 5000); }
  if (tab === 'policies') void loadPolicies();
  if (tab === 'playground') void loadPlayground();
}
for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => show(b.dataset.tab));

// ---- live decisions -------------------------------------------------------------------------------------------
function filterQuery() {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData($('#filters'))) if (String(v).trim() !== '') q.set(k, String(v).trim());
  return q.toString();
}

function row(rec, fresh) {
  const tr = el('tr', { class: fresh ? 'fresh' : '', 'data-seq': String(rec.seq), 'data-request-id': rec.request_id ?? '' },
    el('td', { text: (rec.timestamp || '').slice(11, 23) }),
    el('td', { text: rec.policy_id ?? '–' }),
    el('td', {}, badge(rec.decision)),
    el('td', {}, badge(rec.effective_decision)),
    el('td', { text: rec.reason_code ?? '' }),
    el('td', { text: rec.rollout_mode ?? '–' }),
    el('td', { text: rec.route ?? '' }),
    el('td', { text: String(rec.status ?? '') }),
    el('td', { text: rec.policy_user ?? '–' }),
    el('td', { text: rec.overhead_ms == null ? '–' : String(rec.overhead_ms) }),
  );
  tr.addEventListener('click', () => {
    for (const s of document.querySelectorAll('#decisions tr.selected')) s.classList.remove('selected');
    tr.classList.add('selected');
    detail(rec);
  });
  return tr;
}

function detail(rec) {
  const dl = el('dl');
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'prompt' || k === 'output') continue;
    dl.append(el('dt', { text: k }), el('dd', { text: v === null ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v) }));
  }
  const box = $('#detail');
  box.replaceChildren(el('h2', { text: `Request ${rec.request_id}` }));
  // Present only when the policy opts into capture (audit { prompts on }), and then as the redactor left them.
  if ('prompt' in rec) box.append(el('h3', { text: 'Prompt (captured: prompts on)' }), el('pre', { class: 'prompt', text: rec.prompt ?? '–' }));
  if ('output' in rec) box.append(el('h3', { text: 'Output, redacted' }), el('pre', { class: 'output', text: rec.output ?? '–' }));
  box.append(dl);
}

function addRows(recs, fresh) {
  const body = $('#decisions tbody');
  for (const rec of recs) {
    if (rec.seq <= lastSeq) continue;
    lastSeq = rec.seq;
    body.prepend(row(rec, fresh));
  }
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  $('#count').textContent = String(body.rows.length);
}

async function startLive() {
  streamAbort?.abort();
  const ctrl = (streamAbort = new AbortController());
  const q = filterQuery();
  $('#decisions tbody').replaceChildren();
  lastSeq = 0;
  $('#stream-state').textContent = 'connecting…';
  try {
    const hist = await (await api(`decisions${q ? `?${q}` : ''}`, { signal: ctrl.signal })).json();
    $('#dropped').textContent = '0';
    $('#skipped').textContent = '0';
    addRows(hist.data, false);
    const r = await api(`stream${q ? `?${q}` : ''}`, { signal: ctrl.signal });
    $('#stream-state').textContent = 'live';
    $('#stream-state').className = 'ok';
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) !== -1) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        let data = '';
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (event === 'decision') addRows([JSON.parse(data)], true);
        else if (event === 'hello') $('#per-second').textContent = String(JSON.parse(data).per_second);
        else if (event === 'dropped') {
          const d = JSON.parse(data);
          $('#dropped').textContent = String(Number($('#dropped').textContent) + d.dropped);
          $('#skipped').textContent = String(Number($('#skipped').textContent) + d.skipped);
        }
      }
    }
    throw new Error('stream ended');
  } catch (e) {
    if (ctrl.signal.aborted) return;
    $('#stream-state').textContent = `disconnected (${e.message}); retrying…`;
    $('#stream-state').className = 'bad';
    streamAbort = undefined;
    if (e.status === 401 || e.status === 403) { void open(); return; }
    setTimeout(() => { if (!streamAbort && !$('#live').hidden) void startLive(); }, 2000);
  }
}

$('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); void startLive(); });
$('#filters').addEventListener('reset', () => setTimeout(() => void startLive(), 0));

// ---- per policy -----------------------------------------------------------------------------------------------
function pct(x) { return x === null ? '–' : `${(x * 100).toFixed(1)}%`; }

function timeline(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'timeline');
  svg.setAttribute('viewBox', `0 0 ${points.length * 10} 60`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(1, ...points.map((p) => DECISIONS.reduce((s, d) => s + p.counts[d], 0)));
  points.forEach((p, i) => {
    let y = 60;
    for (const d of DECISIONS) {
      const h = (p.counts[d] / max) * 56;
      if (h <= 0) continue;
      const r = document.createElementNS(ns, 'rect');
      y -= h;
      r.setAttribute('x', String(i * 10 + 1)); r.setAttribute('width', '8'); r.setAttribute('y', String(y)); r.setAttribute('height', String(h));
      r.setAttribute('fill', COLORS[d]);
      const t = document.createElementNS(ns, 'title');
      t.textContent = `${p.minute} ${d}: ${p.counts[d]}`;
      r.append(t);
      svg.append(r);
    }
  });
  return svg;
}

function card(p) {
  const bar = el('div', { class: 'bar' });
  const legend = el('div', { class: 'legend' });
  for (const d of DECISIONS) {
    const n = p.decisions[d];
    if (n > 0) bar.append(el('div', { style: `width:${(n / p.total) * 100}%;background:${COLORS[d]}`, title: `${d}: ${n}` }));
    legend.append(el('span', {}, el('i', { style: `background:${COLORS[d]}` }), `${d} ${n}`));
  }
  const kpi = (v, label) => el('div', { class: 'kpi' }, el('b', { text: v }), el('span', { text: label }));
  const lat = p.latency_added_ms;
  const reasons = el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: 'top reason codes' }), el('th', { text: 'count' }))),
    el('tbody', {}, ...p.top_reason_codes.map((r) => el('tr', {}, el('td', { text: r.reason_code }), el('td', { text: String(r.count) })))));
  return el('div', { class: 'card', 'data-policy': p.policy_id },
    el('h3', { text: p.policy_id }),
    el('div', { class: 'kpis' },
      kpi(String(p.total), 'requests'),
      kpi(pct(p.shadow.rate), `shadow would change (${p.shadow.would_change}/${p.shadow.decided})`),
      kpi(String(p.quota_rejections), 'quota rejections'),
      kpi(lat.mean === null ? '–' : `${lat.mean} ms`, `added · p50 ≤${lat.p50 ?? '–'} p95 ≤${lat.p95 ?? '–'} ms`)),
    bar, legend,
    el('p', { class: 'muted', text: 'decisions per minute, last hour' }), timeline(p.timeline),
    reasons);
}

async function loadStats() {
  try {
    const s = await (await api('stats')).json();
    const who = s.aggregated
      ? `all ${s.workers.running} workers, added up like /metrics (${s.workers.answered} answered)`
      : s.worker ? `worker ${s.worker.id} of ${s.worker.of} (its own requests only: the cluster did not answer)` : 'this gateway process';
    $('#stats-note').textContent = `Counted by ${who} since ${s.since}.`;
    $('#stats-cards').replaceChildren(...(s.policies.length ? s.policies.map(card) : [el('p', { class: 'muted', text: 'No requests yet.' })]));
  } catch (e) { $('#stats-note').textContent = `Could not load stats: ${e.message}`; }
}

// ---- policies -------------------------------------------------------------------------------------------------
async function getPolicies() {
  policiesCache = await (await api('policies')).json();
  $('#policy-ids').replaceChildren(...policiesCache.policies.map((p) => el('option', { value: p.id })));
  return policiesCache;
}

async function loadPolicies() {
  const s = await getPolicies();
  const lr = s.last_reload;
  const reload = $('#reload');
  reload.replaceChildren(el('p', {}, `Revision ${s.revision}, loaded ${s.loaded_at}. Last reload: `,
    lr ? el('span', { class: lr.result === 'success' ? 'ok' : 'bad', text: `${lr.result} at ${lr.at}` }) : el('span', { text: 'none' }),
    lr && lr.result === 'error' ? ' (the last good policies keep serving)' : ''));
  if (lr && lr.rendered) reload.append(el('pre', { class: 'diagnostics', text: lr.rendered }));
  const list = $('#policy-list');
  list.replaceChildren(...s.policies.map((p) => {
    const li = el('li', { 'data-policy': p.id }, el('b', { text: p.id }), p.is_default ? el('span', { class: 'muted', text: ' (default)' }) : null,
      el('div', { class: 'muted', text: `${p.file}:${p.line}` }));
    li.addEventListener('click', () => {
      for (const x of list.children) x.classList.toggle('selected', x === li);
      $('#policy-view').replaceChildren(
        el('h2', { text: p.id }),
        p.description ? el('p', { text: p.description }) : null,
        el('p', { class: 'muted', text: `plugins: ${p.plugins.join(', ')} · endpoints: ${p.endpoints.join(', ')}` }),
        el('pre', { class: 'source', text: p.source ?? '(source not available)' }));
    });
    return li;
  }));
}

// ---- playground -----------------------------------------------------------------------------------------------
async function loadPlayground() {
  const s = policiesCache ?? (await getPolicies());
  const sel = $('#play-policy');
  const current = sel.value;
  sel.replaceChildren(el('option', { value: '', text: 'draft (pasted below)' }), ...s.policies.map((p) => el('option', { value: p.id, text: p.id })));
  sel.value = current;
  $('#draft-label').hidden = $('#draft-id-label').hidden = sel.value !== '';
}
$('#play-policy').addEventListener('change', () => {
  $('#draft-label').hidden = $('#draft-id-label').hidden = $('#play-policy').value !== '';
});

$('#play-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#play-out');
  out.replaceChildren(el('p', { class: 'muted', text: 'running…' }));
  const body = {};
  try {
    const picked = $('#play-policy').value;
    if (picked) body.policy_id = picked;
    else { body.source = $('#play-source').value; const id = $('#play-draft-id').value.trim(); if (id) body.policy_id = id; }
    try { body.request = JSON.parse($('#play-request').value); } catch (e) { throw new Error(`the request is not JSON: ${e.message}`); }
    const a = $('#play-answer').value.trim();
    if (a) { try { body.answer = JSON.parse(a); } catch (e) { throw new Error(`the upstream answer is not JSON: ${e.message}`); } }
    body.meta = { endpoint: $('#play-endpoint').value };
    if ($('#play-user').value.trim()) body.meta.user = $('#play-user').value.trim();
    if ($('#play-key').value.trim()) body.meta.authorization = $('#play-key').value.trim();
    const r = await (await api('playground', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    const v = r.result.verdict;
    const head = v
      ? el('p', { id: 'play-verdict' }, 'Decision ', badge(v.decision), ' · applied ', badge(v.effective_decision), ` · ${v.reason_code} · ${v.rollout_mode}${v.rule ? ` · rule ${v.rule}` : ''}`)
      : el('p', { id: 'play-verdict', class: 'error', text: r.result.problem ? `${r.result.problem.code}: ${r.result.problem.message}` : 'not evaluated' });
    out.replaceChildren(el('h2', { text: 'Explanation' }), head, el('pre', { id: 'play-trace', text: r.rendered }),
      el('details', {}, el('summary', { text: 'as JSON' }), el('pre', { text: JSON.stringify(r.result, null, 2) })));
  } catch (e) {
    out.replaceChildren(el('p', { class: 'error', id: 'play-error', text: e.code ? `${e.code}: ${e.message}` : e.message }));
  }
});

if (key) void open();
