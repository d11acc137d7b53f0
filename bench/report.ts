// Benchmark report: the markdown table (throughput, latency, errors, RSS, CPU, ratios), the streaming table,
// PASS/FAIL target lines, extra sections from other benchmarks, and a hand-built SVG chart.
import { median, round } from './stats.ts';

/** Medians over rounds for one configuration (latencies in ms). */
export interface RowMedians {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  /** Proxy CPU time per successful request, µs (NaN for "direct"). */
  cpuUsPerReq: number;
  /** Proxy CPU use during the measurement, % of one core. */
  proxyCorePct: number;
  /** Harness (load generator) CPU use, % of one core. */
  genCorePct: number;
  /** Fake upstream CPU use, % of one core. */
  upCorePct: number;
}

/** Streaming figures for one configuration (ms). */
export interface StreamFigures {
  n: number;
  ttfbP50: number;
  ttfbP99: number;
  totalP50: number;
  totalP99: number;
  errors: number;
  firstError?: string;
}

/** One row of the report. */
export interface Row {
  id: string;
  num: string;
  label: string;
  what: string;
  role: string;
  pinnedTo: string;
  version?: string;
  available: boolean;
  reason?: string;
  /** Per-round raw figures. */
  rounds: Array<Record<string, number>>;
  med?: RowMedians;
  /** Requests, non-2xx and socket errors summed over all rounds. */
  totalOk: number;
  totalNon2xx: number;
  totalErrors: number;
  statusCodes: Record<string, number>;
  peakRssMb?: number;
  processes?: number;
  ratios?: { direct: number; nginx: number; bare: number };
  addedP50VsBare?: number;
  stream?: StreamFigures;
}

/** One target line. */
export interface Target {
  name: string;
  value: string;
  threshold: string;
  status: 'PASS' | 'FAIL' | 'N/A';
  why?: string;
}

/** An extra section contributed by another engineer's bench function. */
export interface Extra {
  title: string;
  file: string;
  status: 'ok' | 'absent' | 'error';
  figures?: unknown;
  error?: string;
}

/** Everything a report needs. */
export interface Report {
  date: string;
  startedAt: string;
  command: string;
  preliminary: boolean;
  machine: Record<string, string>;
  options: Record<string, string | number | boolean>;
  pinning: string[];
  rows: Row[];
  targets: Target[];
  extras: Extra[];
  notes: string[];
  loadAvgBefore: string;
  loadAvgAfter: string;
}

const f0 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2));
const fr = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2) + '×');
const fs = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : (x >= 0 ? '+' : '') + x.toFixed(2));

/** Find the row for a role that ran. */
export function byRole(rows: readonly Row[], role: string): Row | undefined {
  return rows.find((r) => r.role === role);
}

/** Ratios and added latency against (1) direct, (2) nginx, (3) bare http-proxy-3. */
export function computeRatios(rows: Row[]): void {
  const d = byRole(rows, 'direct')?.med;
  const n = byRole(rows, 'nginx')?.med;
  const b = byRole(rows, 'bare')?.med;
  for (const r of rows) {
    if (!r.med) continue;
    r.ratios = { direct: d ? r.med.rps / d.rps : NaN, nginx: n ? r.med.rps / n.rps : NaN, bare: b ? r.med.rps / b.rps : NaN };
    r.addedP50VsBare = b ? r.med.p50 - b.p50 : NaN;
  }
}

/**
 * The same comparison round by round (each round measures every configuration within a few minutes, so a drifting
 * machine moves both sides of a round's ratio together): `; per round 0.95×, 0.71×, 1.05×, median 0.95×`. Shown
 * next to the ratio of medians, which decides PASS/FAIL; empty with fewer than two paired rounds.
 */
export function pairedNote(r: Row, base: Row): string {
  const n = Math.min(r.rounds.length, base.rounds.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = r.rounds[i]!.rps;
    const b = base.rounds[i]!.rps;
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  if (ratios.length < 2) return '';
  return `; per round ${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}, median ${median(ratios).toFixed(2)}×`;
}

/** Evaluate the targets of issues 2 and 8 from one run's rows. */
export function evaluateTargets(rows: readonly Row[]): Target[] {
  const bare = byRole(rows, 'bare');
  const pk = byRole(rows, 'portkey');
  const out: Target[] = [];
  const na = (name: string, threshold: string, why: string): Target => ({ name, value: '—', threshold, status: 'N/A', why });
  const check = (name: string, threshold: string, ok: boolean, value: string): Target => ({ name, value, threshold, status: ok ? 'PASS' : 'FAIL' });
  const usable = (r: Row | undefined, what: string): string | undefined =>
    !r ? `${what} not measured` : !r.med ? `${what} unavailable, see the table` : undefined;

  for (const [role, name, rpsMin] of [
    ['gw-pass', 'gateway pass-through', 0.9],
    ['gw-full', 'full chain', 0.85],
  ] as const) {
    const r = byRole(rows, role);
    const why = usable(r, name) ?? usable(bare, 'bare http-proxy-3');
    const th = `≥ ${Math.round(rpsMin * 100)}% of bare http-proxy-3 req/s`;
    if (why) out.push(na(`${name} throughput`, th, why));
    else {
      out.push(check(`${name} throughput`, th, r!.med!.rps >= rpsMin * bare!.med!.rps,
        `${(100 * r!.med!.rps / bare!.med!.rps).toFixed(1)}% (${f0(r!.med!.rps)} vs ${f0(bare!.med!.rps)} req/s)${pairedNote(r!, bare!)}`));
    }
    const th2 = '< 0.5 ms added p50 over bare http-proxy-3';
    if (why) out.push(na(`${name} added p50`, th2, why));
    else {
      const added = r!.med!.p50 - bare!.med!.p50;
      out.push(check(`${name} added p50`, th2, added < 0.5, `${fs(added)} ms (${f2(r!.med!.p50)} vs ${f2(bare!.med!.p50)} ms)`));
    }
    if (role === 'gw-full') {
      const th3 = '≥ 10× Portkey pass-through req/s';
      const why3 = usable(r, name) ?? usable(pk, 'Portkey pass-through');
      if (why3) out.push(na('full chain vs Portkey', th3, why3));
      else out.push(check('full chain vs Portkey', th3, r!.med!.rps >= 10 * pk!.med!.rps, `${(r!.med!.rps / pk!.med!.rps).toFixed(1)}× (${f0(r!.med!.rps)} vs ${f0(pk!.med!.rps)} req/s)`));
    }
  }
  {
    // Issue 19: a console client reading the live decisions must not slow the proxy.
    const c = byRole(rows, 'gw-console');
    const full = byRole(rows, 'gw-full');
    const th = '≥ 0.95× the full chain req/s (same run)';
    const why = usable(c, 'full chain with a console client') ?? usable(full, 'full chain');
    if (why) out.push(na('console client connected', th, why));
    else out.push(check('console client connected', th, c!.med!.rps >= 0.95 * full!.med!.rps,
      `${(c!.med!.rps / full!.med!.rps).toFixed(3)}× (${f0(c!.med!.rps)} vs ${f0(full!.med!.rps)} req/s)${pairedNote(c!, full!)}`));
  }
  for (const [role, name] of [
    ['gw-pass', 'gateway pass-through'],
    ['gw-full', 'full chain'],
  ] as const) {
    const r = byRole(rows, role);
    const th = '< 1 ms added streaming TTFB p50 over bare http-proxy-3';
    const s = r?.stream;
    const bs = bare?.stream;
    const why = usable(r, name) ?? usable(bare, 'bare http-proxy-3') ??
      (!s || !bs || s.n === 0 || bs.n === 0 ? 'streaming not measured or every stream failed' : undefined);
    if (why) out.push(na(`${name} streaming TTFB`, th, why));
    else {
      const added = s!.ttfbP50 - bs!.ttfbP50;
      const broken = s!.errors > 0 ? ` (${s!.errors} failed streams)` : '';
      out.push(check(`${name} streaming TTFB`, th, added < 1 && s!.errors === 0, `${fs(added)} ms (${f2(s!.ttfbP50)} vs ${f2(bs!.ttfbP50)} ms)${broken}`));
    }
  }
  return out;
}

/** Render one extra section's figures as markdown. */
function renderFigures(x: unknown): string {
  if (typeof x === 'string') return x;
  if (Array.isArray(x) && x.length > 0 && x.every((e) => e && typeof e === 'object' && !Array.isArray(e))) {
    const cols = [...new Set(x.flatMap((e) => Object.keys(e as object)))];
    const cell = (v: unknown): string => (typeof v === 'number' ? String(round(v, 3)) : typeof v === 'string' ? v : JSON.stringify(v));
    return [
      `| ${cols.join(' | ')} |`,
      `|${cols.map(() => '---').join('|')}|`,
      ...x.map((e) => `| ${cols.map((c) => cell((e as Record<string, unknown>)[c])).join(' | ')} |`),
    ].join('\n');
  }
  if (x && typeof x === 'object' && !Array.isArray(x)) {
    const entries = Object.entries(x as Record<string, unknown>);
    // scalars and lists of scalars in one figure/value table; nested objects and tables as sub-sections after it
    const flat = (v: unknown): boolean => v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((e) => e === null || typeof e !== 'object'));
    const scalar = (v: unknown): string =>
      typeof v === 'number' ? String(round(v, 3)) : Array.isArray(v) ? v.map((e) => scalar(e)).join(', ') || '—' : String(v);
    const simple = entries.filter(([, v]) => flat(v));
    const nested = entries.filter(([, v]) => !flat(v));
    const parts: string[] = [];
    if (simple.length) parts.push(['| figure | value |', '|---|---|', ...simple.map(([k, v]) => `| ${k} | ${scalar(v)} |`)].join('\n'));
    for (const [k, v] of nested) parts.push(`**${k}**\n\n${renderFigures(v)}`);
    return parts.join('\n\n');
  }
  return '```json\n' + JSON.stringify(x, null, 2) + '\n```';
}

/** The markdown report. */
export function renderMarkdown(rep: Report, svgName: string): string {
  const L: string[] = [];
  L.push(`# Policy Gateway benchmark — ${rep.date}${rep.preliminary ? ' (preliminary)' : ''}`);
  L.push('');
  if (rep.preliminary) {
    L.push('> **Preliminary**: taken with `--quick` and/or while other work shared the same cores; use for direction, not for claims.');
    L.push('');
  }
  L.push(`Command: \`${rep.command}\` · started ${rep.startedAt} · load average before ${rep.loadAvgBefore}, after ${rep.loadAvgAfter}`);
  L.push('');
  L.push('**Machine**: ' + Object.entries(rep.machine).map(([k, v]) => `${k} ${v}`).join(' · '));
  L.push('');
  L.push('**Load**: ' + Object.entries(rep.options).map(([k, v]) => `${k} ${v}`).join(' · '));
  L.push('');
  L.push('**Pinning**: ' + rep.pinning.join('; '));
  L.push('');
  L.push('## Throughput and latency (non-streaming, medians over rounds)');
  L.push('');
  L.push('| # | configuration | req/s | p50 ms | p99 ms | p99.9 ms | errors | peak RSS MB | proxy CPU µs/req | proxy core % | load-gen core % | upstream core % | ×direct | ×nginx | ×bare | p50 vs bare ms |');
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rep.rows) {
    if (!r.med) {
      L.push(`| ${r.num} | ${r.label} — **unavailable**: ${(r.reason ?? 'unknown').replace(/\|/g, '\\|')} | — | — | — | — | — | — | — | — | — | — | — | — | — | — |`);
      continue;
    }
    const m = r.med;
    const errs = r.totalNon2xx + r.totalErrors;
    const errCell = errs === 0 ? '0' : `**${errs}** / ${f0(r.totalOk + errs)}`;
    L.push(
      `| ${r.num} | ${r.label} | ${f0(m.rps)} | ${f2(m.p50)} | ${f2(m.p99)} | ${f2(m.p999)} | ${errCell} | ${f0(r.peakRssMb)}${(r.processes ?? 1) > 1 ? ` (${r.processes} proc)` : ''} | ${f0(m.cpuUsPerReq)} | ${f0(m.proxyCorePct)} | ${f0(m.genCorePct)} | ${f0(m.upCorePct)} | ${fr(r.ratios?.direct)} | ${fr(r.ratios?.nginx)} | ${fr(r.ratios?.bare)} | ${fs(r.addedP50VsBare)} |`,
    );
  }
  L.push('');
  L.push(`![throughput and latency per configuration](${svgName})`);
  L.push('');
  L.push('## Streaming (SSE): time to first body byte and to the end of the answer');
  L.push('');
  L.push('| # | configuration | streams | TTFB p50 ms | TTFB p99 ms | total p50 ms | total p99 ms | TTFB p50 vs bare ms | failed |');
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|');
  const bareS = byRole(rep.rows, 'bare')?.stream;
  for (const r of rep.rows) {
    if (!r.med || !r.stream) {
      if (!r.med) L.push(`| ${r.num} | ${r.label} | unavailable | — | — | — | — | — | — |`);
      continue;
    }
    const s = r.stream;
    const failed = s.errors === 0 ? '0' : `**${s.errors}** (${(s.firstError ?? '').replace(/\|/g, '\\|').slice(0, 80)})`;
    L.push(
      `| ${r.num} | ${r.label} | ${s.n} | ${f2(s.ttfbP50)} | ${f2(s.ttfbP99)} | ${f2(s.totalP50)} | ${f2(s.totalP99)} | ${bareS && bareS.n && s.n ? fs(s.ttfbP50 - bareS.ttfbP50) : '—'} | ${failed} |`,
    );
  }
  L.push('');
  L.push('## Targets (ratios measured in this run)');
  L.push('');
  for (const t of rep.targets) L.push(`- **${t.status}** ${t.name}: ${t.value} — target ${t.threshold}${t.why ? ` (${t.why})` : ''}`);
  L.push('');
  L.push('## Configurations');
  L.push('');
  for (const r of rep.rows) L.push(`- **${r.num}. ${r.label}** (${r.pinnedTo}${r.version ? `, ${r.version}` : ''}): ${r.what}`);
  if (rep.notes.length) {
    L.push('');
    L.push('## Notes');
    L.push('');
    for (const n of rep.notes) L.push(`- ${n}`);
  }
  for (const x of rep.extras) {
    L.push('');
    L.push(`## ${x.title} (\`${x.file}\`)`);
    L.push('');
    if (x.status === 'absent') L.push('_not present in this tree yet_');
    else if (x.status === 'error') L.push(`_failed_: \`${(x.error ?? '').slice(0, 500)}\``);
    else L.push(renderFigures(x.figures));
  }
  L.push('');
  L.push('Column guide: req/s counts 2xx answers only; latencies are per-request (fractional ms, autocannon response times); ' +
    'errors = non-2xx + socket errors + timeouts summed over all rounds; peak RSS = VmHWM summed over the proxy\'s process tree; ' +
    'proxy CPU µs/req = CPU time of the proxy process tree during the measurement ÷ 2xx answers; ' +
    'core % = CPU time ÷ wall time (100 = one core busy). When the processes sharing the load generator\'s core add up to ' +
    '~100%, that row is limited by the load-generator side, not by the proxy.');
  L.push('');
  return L.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A two-panel horizontal bar chart: req/s (linear) and p50/p99 latency (log scale), one line per configuration. */
export function renderSvg(rep: Report): string {
  const rows = rep.rows;
  const rowH = 26;
  const top = 56;
  const labelW = 330;
  const panelW = 300;
  const gap = 50;
  const width = labelW + panelW + gap + panelW + 110; // room for the p50/p99 label after the longest bar
  const height = top + rows.length * rowH + 40;
  const x1 = labelW;
  const x2 = labelW + panelW + gap;
  const maxRps = Math.max(1, ...rows.map((r) => r.med?.rps ?? 0));
  const lats = rows.flatMap((r) => (r.med ? [r.med.p50, r.med.p99] : [])).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(...lats, 1)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...lats, 1))));
  const lx = (v: number): number => x2 + (panelW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  o.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  o.push(`<text x="10" y="20" font-size="15" font-weight="bold">${esc(`Policy Gateway benchmark ${rep.date}${rep.preliminary ? ' (preliminary)' : ''}`)}</text>`);
  o.push(`<text x="${x1}" y="44" font-weight="bold">requests/s (higher is better)</text>`);
  o.push(`<text x="${x2}" y="44" font-weight="bold">latency ms, log scale: <tspan fill="#1f5fa8">■ p50</tspan> <tspan fill="#9cc3ea">■ p99</tspan></text>`);
  // latency grid
  for (let d = lo; d <= hi + 1e-9; d *= 10) {
    const x = lx(d);
    o.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
    o.push(`<text x="${x.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${d >= 1 ? d.toFixed(0) : d.toString()}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) o.push(`<rect x="0" y="${y - 2}" width="${width}" height="${rowH}" fill="#f6f7f9"/>`);
    const name = `${r.num}. ${r.label}`;
    o.push(`<text x="10" y="${y + 15}">${esc(name.length > 46 ? name.slice(0, 45) + '…' : name)}</text>`);
    if (!r.med) {
      o.push(`<text x="${x1}" y="${y + 15}" fill="#a33">unavailable</text>`);
      return;
    }
    const w = (panelW * r.med.rps) / maxRps;
    const colour = r.role.startsWith('gw') ? '#2e8b57' : r.role.startsWith('portkey') ? '#c0762b' : '#6b7a8f';
    o.push(`<rect x="${x1}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colour}"/>`);
    o.push(`<text x="${(x1 + w + 4).toFixed(1)}" y="${y + 15}" fill="#222">${esc(f0(r.med.rps))}</text>`);
    const p99x = lx(r.med.p99);
    const p50x = lx(r.med.p50);
    o.push(`<rect x="${x2}" y="${y + 3}" width="${Math.max(1, p99x - x2).toFixed(1)}" height="${rowH - 8}" fill="#9cc3ea"/>`);
    o.push(`<rect x="${x2}" y="${y + 7}" width="${Math.max(1, p50x - x2).toFixed(1)}" height="${rowH - 16}" fill="#1f5fa8"/>`);
    o.push(`<text x="${(p99x + 4).toFixed(1)}" y="${y + 15}" fill="#222" font-size="11">${esc(`${f2(r.med.p50)} / ${f2(r.med.p99)}`)}</text>`);
  });
  o.push(`<text x="10" y="${height - 8}" fill="#555" font-size="11">${esc(`${rep.options.connections} connections, ${rep.options['seconds per measurement']} s × ${rep.options.rounds} rounds, medians; ${rep.machine.CPU ?? ''}`)}</text>`);
  o.push('</svg>');
  return o.join('\n');
}
