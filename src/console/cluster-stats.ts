// Per-policy figures across a --workers N cluster, aggregated like /metrics: the console's worker asks the primary, the
// primary asks every worker for its counters (StatsSnapshot) and hands them back; the console adds them up. Bounded
// waits everywhere: a worker that does not answer in time is left out and the answer says how many answered.
import cluster, { type Worker } from 'node:cluster';
import type { ConsoleStats, StatsSnapshot } from './stats.ts';

/** How long the primary waits for the workers' parts, and a worker for the primary's answer. */
const PART_WAIT_MS = 1000;
const ANSWER_WAIT_MS = 3000;

interface Msg { type?: string; id?: number; snapshot?: StatsSnapshot; parts?: StatsSnapshot[]; workers?: number }

/** Worker side: answers the primary's requests for this process's counters. Call once per worker process. */
export function answerStatsRequests(stats: ConsoleStats): void {
  process.on('message', (m: Msg) => {
    if (m?.type === 'pgw:console-stats-collect' && typeof m.id === 'number') {
      process.send?.({ type: 'pgw:console-stats-part', id: m.id, snapshot: stats.snapshot() });
    }
  });
}

let seq = 0;
const waiters = new Map<number, (m: Msg) => void>();

/** Console worker side: every worker's counters (its own included), and how many workers are running. */
export function askPrimaryForStats(): Promise<{ parts: StatsSnapshot[]; workers: number }> {
  const id = ++seq;
  if (waiters.size === 0 && seq === 1) {
    process.on('message', (m: Msg) => {
      if (m?.type === 'pgw:console-stats' && typeof m.id === 'number') { waiters.get(m.id)?.(m); waiters.delete(m.id); }
    });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(id); reject(new Error('the cluster primary did not answer in time')); }, ANSWER_WAIT_MS);
    waiters.set(id, (m) => { clearTimeout(timer); resolve({ parts: m.parts ?? [], workers: m.workers ?? 0 }); });
    process.send?.({ type: 'pgw:console-stats-req', id });
  });
}

let collectSeq = 0;
const collecting = new Map<number, { parts: StatsSnapshot[]; want: number; done: () => void }>();

/**
 * Primary side: wires a forked worker into the aggregation — it may ask for every worker's counters, and it answers
 * the primary's collection requests. Call for each worker the primary forks.
 */
export function relayStats(w: Worker): void {
  w.on('message', (m: Msg) => {
    if (m?.type === 'pgw:console-stats-part' && typeof m.id === 'number') {
      const c = collecting.get(m.id);
      if (c && m.snapshot) { c.parts.push(m.snapshot); if (c.parts.length >= c.want) c.done(); }
      return;
    }
    if (m?.type !== 'pgw:console-stats-req' || typeof m.id !== 'number') return;
    const workers = Object.values(cluster.workers ?? {}).filter((x): x is Worker => x !== undefined && x.isConnected());
    const cid = ++collectSeq;
    const parts: StatsSnapshot[] = [];
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      collecting.delete(cid);
      if (w.isConnected()) w.send({ type: 'pgw:console-stats', id: m.id, parts, workers: workers.length });
    };
    const timer = setTimeout(done, PART_WAIT_MS);
    collecting.set(cid, { parts, want: workers.length, done });
    for (const x of workers) x.send({ type: 'pgw:console-stats-collect', id: cid });
  });
}
