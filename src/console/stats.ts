// The console's per-policy counters, kept in-process from the audit records the feed receives: decisions per minute
// (last hour), top reason codes, shadow-vs-enforced disagreement, quota rejections and the latency the gateway added.
// Every map is bounded; nothing here reads Prometheus.

/** Decisions counted on their own; anything else (never expected) counts as `reject`. */
export const DECISIONS = ['allow', 'rewrite', 'summary', 'escalate', 'refuse', 'reject'] as const;
export type DecisionName = (typeof DECISIONS)[number];

/** Upper bounds (ms) of the added-latency buckets; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000] as const;
/** Minutes of history in the decisions-over-time series. */
export const TIMELINE_MINUTES = 60;
/** Most distinct policy ids tracked; later ones are counted under OTHER_POLICY. */
export const MAX_POLICIES = 256;
/** Most distinct reason codes tracked per policy; later ones are counted under `OTHER`. */
export const MAX_REASONS = 64;
/** The key of requests that reached no policy (bad JSON, unknown route or policy). */
export const NO_POLICY = '(no policy)';
export const OTHER_POLICY = '(other policies)';

const QUOTA_CODES: ReadonlySet<string> = new Set(['GW_ERR_RATE_LIMITED', 'GW_ERR_QUOTA_EXCEEDED', 'GW_ERR_BUDGET_EXCEEDED']);

/** The counters of one policy. */
class PolicyCounters {
  total = 0;
  readonly decisions: number[] = DECISIONS.map(() => 0);
  readonly reasons = new Map<string, number>();
  /** Requests decided in shadow mode, and those whose decision differs from what was applied (enforcing would change them). */
  shadow = 0;
  disagree = 0;
  enforced = 0;
  quotaRejections = 0;
  /** Added latency: count, sum and bucket counts (LATENCY_BOUNDS_MS plus the open bucket). */
  latencyCount = 0;
  latencySumMs = 0;
  readonly latency: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  /** Per-minute decision counts: minute (epoch ms / 60000) → counts by DECISIONS index; a ring of TIMELINE_MINUTES. */
  readonly minutes: number[] = new Array<number>(TIMELINE_MINUTES).fill(-1);
  readonly perMinute: number[][] = Array.from({ length: TIMELINE_MINUTES }, () => DECISIONS.map(() => 0));
}

/** What the stats read from one audit record. */
export interface StatsInput {
  readonly policy_id?: unknown;
  readonly decision?: unknown;
  readonly effective_decision?: unknown;
  readonly reason_code?: unknown;
  readonly rollout_mode?: unknown;
  readonly code?: unknown;
  readonly quota_limit?: unknown;
  readonly overhead_ms?: unknown;
}

/** One policy's figures as the console API returns them. */
export interface PolicyStatsView {
  readonly policy_id: string;
  readonly total: number;
  readonly decisions: Readonly<Record<DecisionName, number>>;
  /** Most frequent first, at most 10. */
  readonly top_reason_codes: readonly { readonly reason_code: string; readonly count: number }[];
  readonly shadow: { readonly decided: number; readonly would_change: number; readonly rate: number | null };
  readonly enforced: number;
  readonly quota_rejections: number;
  readonly latency_added_ms: { readonly count: number; readonly mean: number | null; readonly p50: number | null; readonly p95: number | null };
  /** Oldest first: one entry per minute of the last TIMELINE_MINUTES, counts by decision. */
  readonly timeline: readonly { readonly minute: string; readonly counts: Readonly<Record<DecisionName, number>> }[];
}

const decisionIndex = (d: unknown): number => {
  const i = DECISIONS.indexOf(d as DecisionName);
  return i === -1 ? DECISIONS.length - 1 : i;
};

/** One process's counters as plain JSON (what a --workers N cluster sends to the console's worker). */
export interface StatsSnapshot {
  readonly startedAt: number;
  readonly policies: Readonly<Record<string, {
    total: number; decisions: number[]; reasons: [string, number][]; shadow: number; disagree: number; enforced: number;
    quotaRejections: number; latencyCount: number; latencySumMs: number; latency: number[]; minutes: number[]; perMinute: number[][];
  }>>;
}

const addInto = (into: number[], from: readonly number[]): void => {
  for (let i = 0; i < into.length && i < from.length; i++) into[i]! += Number(from[i]) || 0;
};

/** Per-policy counters over every record added; `now` is the clock for the per-minute series. */
export class ConsoleStats {
  readonly #byPolicy = new Map<string, PolicyCounters>();
  readonly #now: () => number;
  readonly startedAt: number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.startedAt = now();
  }

  /** Counts one finished request. O(1); never throws on odd field values. */
  add(r: StatsInput): void {
    const id = typeof r.policy_id === 'string' ? r.policy_id : NO_POLICY;
    let c = this.#byPolicy.get(id);
    if (c === undefined) {
      if (this.#byPolicy.size >= MAX_POLICIES) c = this.#other();
      else this.#byPolicy.set(id, (c = new PolicyCounters()));
    }
    c.total++;
    const di = decisionIndex(r.decision);
    c.decisions[di]!++;
    const reason = typeof r.reason_code === 'string' ? r.reason_code : 'NONE';
    const known = c.reasons.get(reason);
    if (known !== undefined) c.reasons.set(reason, known + 1);
    else if (c.reasons.size < MAX_REASONS) c.reasons.set(reason, 1);
    else c.reasons.set('OTHER', (c.reasons.get('OTHER') ?? 0) + 1);
    if (r.rollout_mode === 'shadow') {
      c.shadow++;
      if (r.decision !== r.effective_decision) c.disagree++;
    } else if (r.rollout_mode === 'enforced') c.enforced++;
    if (typeof r.quota_limit === 'string' || (typeof r.code === 'string' && QUOTA_CODES.has(r.code))) c.quotaRejections++;
    const ms = r.overhead_ms;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) {
      c.latencyCount++;
      c.latencySumMs += ms;
      let b = 0;
      while (b < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[b]!) b++;
      c.latency[b]!++;
    }
    const minute = Math.floor(this.#now() / 60_000);
    const slot = minute % TIMELINE_MINUTES;
    if (c.minutes[slot] !== minute) {
      c.minutes[slot] = minute;
      c.perMinute[slot]!.fill(0);
    }
    c.perMinute[slot]![di]!++;
  }

  /** These counters as plain JSON, for another process to absorb. */
  snapshot(): StatsSnapshot {
    const policies: Record<string, StatsSnapshot['policies'][string]> = {};
    for (const [id, c] of this.#byPolicy) {
      policies[id] = {
        total: c.total, decisions: [...c.decisions], reasons: [...c.reasons], shadow: c.shadow, disagree: c.disagree, enforced: c.enforced,
        quotaRejections: c.quotaRejections, latencyCount: c.latencyCount, latencySumMs: c.latencySumMs, latency: [...c.latency],
        minutes: [...c.minutes], perMinute: c.perMinute.map((m) => [...m]),
      };
    }
    return { startedAt: this.startedAt, policies };
  }

  /** Adds another process's counters to these (the same bounds apply); ignores malformed parts. */
  absorb(snap: StatsSnapshot): void {
    for (const [id, p] of Object.entries(snap.policies ?? {})) {
      if (p === null || typeof p !== 'object') continue;
      let c = this.#byPolicy.get(id);
      if (c === undefined) {
        if (this.#byPolicy.size >= MAX_POLICIES) c = this.#other();
        else this.#byPolicy.set(id, (c = new PolicyCounters()));
      }
      c.total += Number(p.total) || 0;
      addInto(c.decisions, p.decisions ?? []);
      for (const [reason, n] of p.reasons ?? []) {
        const known = c.reasons.get(reason);
        if (known !== undefined) c.reasons.set(reason, known + n);
        else if (c.reasons.size < MAX_REASONS) c.reasons.set(reason, n);
        else c.reasons.set('OTHER', (c.reasons.get('OTHER') ?? 0) + n);
      }
      c.shadow += Number(p.shadow) || 0;
      c.disagree += Number(p.disagree) || 0;
      c.enforced += Number(p.enforced) || 0;
      c.quotaRejections += Number(p.quotaRejections) || 0;
      c.latencyCount += Number(p.latencyCount) || 0;
      c.latencySumMs += Number(p.latencySumMs) || 0;
      addInto(c.latency, p.latency ?? []);
      for (let slot = 0; slot < TIMELINE_MINUTES; slot++) {
        const m = p.minutes?.[slot];
        if (typeof m !== 'number' || m < 0) continue;
        if (c.minutes[slot]! < m) { c.minutes[slot] = m; c.perMinute[slot]!.fill(0); }
        if (c.minutes[slot] === m) addInto(c.perMinute[slot]!, p.perMinute?.[slot] ?? []);
      }
    }
  }

  #other(): PolicyCounters {
    let c = this.#byPolicy.get(OTHER_POLICY);
    if (c === undefined) this.#byPolicy.set(OTHER_POLICY, (c = new PolicyCounters()));
    return c;
  }

  /** Every policy's figures, policy ids sorted (the no-policy and overflow rows last). */
  view(): PolicyStatsView[] {
    const ids = [...this.#byPolicy.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    const nowMinute = Math.floor(this.#now() / 60_000);
    return ids.map((id) => viewOf(id, this.#byPolicy.get(id)!, nowMinute));
  }
}

const rank = (id: string): number => (id === NO_POLICY ? 1 : id === OTHER_POLICY ? 2 : 0);

function countsOf(a: readonly number[]): Record<DecisionName, number> {
  const out = {} as Record<DecisionName, number>;
  DECISIONS.forEach((d, i) => { out[d] = a[i]!; });
  return out;
}

/** The upper bound of the bucket holding quantile `q` (the open bucket reads as its lower bound). */
function quantile(c: PolicyCounters, q: number): number | null {
  if (c.latencyCount === 0) return null;
  const want = Math.ceil(q * c.latencyCount);
  let seen = 0;
  for (let b = 0; b < c.latency.length; b++) {
    seen += c.latency[b]!;
    if (seen >= want) return LATENCY_BOUNDS_MS[Math.min(b, LATENCY_BOUNDS_MS.length - 1)]!;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

function viewOf(id: string, c: PolicyCounters, nowMinute: number): PolicyStatsView {
  const reasons = [...c.reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  const timeline: { minute: string; counts: Record<DecisionName, number> }[] = [];
  for (let m = nowMinute - TIMELINE_MINUTES + 1; m <= nowMinute; m++) {
    const slot = ((m % TIMELINE_MINUTES) + TIMELINE_MINUTES) % TIMELINE_MINUTES;
    const counts = c.minutes[slot] === m ? c.perMinute[slot]! : DECISIONS.map(() => 0);
    timeline.push({ minute: new Date(m * 60_000).toISOString().slice(0, 16) + 'Z', counts: countsOf(counts) });
  }
  return {
    policy_id: id,
    total: c.total,
    decisions: countsOf(c.decisions),
    top_reason_codes: reasons.map(([reason_code, count]) => ({ reason_code, count })),
    shadow: { decided: c.shadow, would_change: c.disagree, rate: c.shadow === 0 ? null : c.disagree / c.shadow },
    enforced: c.enforced,
    quota_rejections: c.quotaRejections,
    latency_added_ms: {
      count: c.latencyCount,
      mean: c.latencyCount === 0 ? null : Math.round((c.latencySumMs / c.latencyCount) * 1000) / 1000,
      p50: quantile(c, 0.5),
      p95: quantile(c, 0.95),
    },
    timeline,
  };
}
