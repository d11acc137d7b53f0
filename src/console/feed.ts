// The console's live decisions: the DecisionTap the auditor hands every audit record to. Keeps a bounded ring of
// recent records, counts them into ConsoleStats, and fans them out to SSE clients in batches; a client that does not
// keep up loses records (counted, and told so) instead of slowing or buffering the proxy.
import type http from 'node:http';
import type { DecisionTap } from '../sdk/context.ts';
import { ConsoleStats } from './stats.ts';

/** The audit fields a client may filter on (exact match), as query parameters of the same name. */
export const FILTER_FIELDS = ['policy_id', 'decision', 'effective_decision', 'reason_code', 'rollout_mode', 'route'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
export type DecisionFilter = Partial<Record<FilterField, string>>;

/** Feed limits; the defaults suit a laptop console and a busy gateway alike. */
export interface FeedLimits {
  /** Records kept for a fresh page (default 100). */
  readonly history: number;
  /** Records waiting for the next flush; beyond it new records skip the live stream (default 5000). */
  readonly pending: number;
  /** Bytes a client may have unsent in its socket buffer; beyond it records are dropped for that client (default 1 MiB). */
  readonly clientBuffer: number;
  /** Live clients at once (default 16). */
  readonly clients: number;
  /** Flush interval in ms (default 100). */
  readonly flushMs: number;
  /**
   * Live records sent to one client per second (default 200): the stream is for people reading it; beyond it records
   * are skipped for that client (counted, and told) — narrow the filters to see every one. History and stats count all.
   */
  readonly perSecond: number;
  /** Keep-alive comment interval in ms (default 15000). */
  readonly heartbeatMs: number;
}

const DEFAULT_LIMITS: FeedLimits = { history: 100, pending: 5000, clientBuffer: 1 << 20, clients: 16, flushMs: 100, perSecond: 200, heartbeatMs: 15_000 };

/**
 * One record as kept: the record object the auditor built, serialised only when a client is sent it or a page asks for
 * history (at most `perSecond` records a second per client), never on the request path.
 */
interface Entry {
  readonly seq: number;
  readonly rec: Readonly<Record<string, unknown>>;
}

interface Client {
  readonly res: http.ServerResponse;
  readonly filter: DecisionFilter;
  /** Records dropped for this client since it was last told (it did not keep up). */
  dropped: number;
  /** Records skipped for this client since it was last told (over `perSecond`). */
  skipped: number;
  /** Records sent in the current one-second window, and when that window started. */
  sent: number;
  windowStart: number;
}

/** True when `rec` matches every field of `f`. */
export function matches(rec: Readonly<Partial<Record<FilterField, unknown>>>, f: DecisionFilter): boolean {
  for (const k in f) if (rec[k as FilterField] !== f[k as FilterField]) return false;
  return true;
}

/** The SSE frame of an entry: `{"seq":N,` spliced before the record's own members. */
function frameOf(e: Entry): string {
  return `id: ${e.seq}\nevent: decision\ndata: {"seq":${e.seq},${JSON.stringify(e.rec).slice(1)}\n\n`;
}

/** The decision feed of one gateway process. `publish` is O(1) on the request path; fan-out runs on a timer. */
export class DecisionFeed implements DecisionTap {
  readonly stats: ConsoleStats;
  readonly limits: FeedLimits;
  readonly #ring: (Entry | undefined)[];
  #seq = 0;
  #pending: Entry[] = [];
  readonly #clients = new Set<Client>();
  /** The batch interval, while clients are connected. */
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Records the live stream lost: a full pending queue (all clients) or a client's full buffer (per client). */
  dropped = 0;
  /** Records not sent to a client because it had its `perSecond` already (per client). */
  skipped = 0;

  readonly #onDrop: ((n: number) => void) | undefined;

  /** `onDrop`: told how many records the stream lost each time it loses some (the gateway counts them in a metric). */
  constructor(limits: Partial<FeedLimits> = {}, now: () => number = Date.now, onDrop?: (n: number) => void) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#onDrop = onDrop;
    this.#ring = new Array<Entry | undefined>(this.limits.history);
    this.stats = new ConsoleStats(now);
  }

  /** Records one finished request: ring, stats and (when clients listen) the next flush. Never throws. */
  publish(rec: Readonly<Record<string, unknown>>): void {
    const e: Entry = { seq: ++this.#seq, rec };
    this.#ring[e.seq % this.#ring.length] = e;
    this.stats.add(rec);
    if (this.#clients.size === 0) return;
    if (this.#pending.length >= this.limits.pending) { this.dropped++; this.#onDrop?.(1); return; }
    this.#pending.push(e);
  }

  /** The last records (oldest first) matching `f`, at most `limit`. */
  recent(f: DecisionFilter, limit = this.limits.history): Readonly<Record<string, unknown>>[] {
    const out: Readonly<Record<string, unknown>>[] = [];
    const n = this.#ring.length;
    for (let s = this.#seq; s > this.#seq - n && s > 0 && out.length < limit; s--) {
      const e = this.#ring[s % n];
      if (e !== undefined && e.seq === s && matches(e.rec, f)) out.push({ seq: e.seq, ...e.rec });
    }
    return out.reverse();
  }

  /** Live clients now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** True when one more live client would exceed the limit. */
  get full(): boolean {
    return this.#clients.size >= this.limits.clients;
  }

  /**
   * Streams records matching `f` to `res` as SSE until the client goes. The head is written here; records published
   * from now on follow (the page reads history from `recent` first and skips sequence numbers it has).
   */
  subscribe(res: http.ServerResponse, f: DecisionFilter, headers: Record<string, string>): void {
    const c: Client = { res, filter: f, dropped: 0, skipped: 0, sent: 0, windowStart: 0 };
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', ...headers });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ seq: this.#seq, dropped: this.dropped, per_second: this.limits.perSecond })}\n\n`);
    this.#clients.add(c);
    // One interval timer for the batches while anyone listens (no timer object per batch).
    this.#timer ??= setInterval(() => { if (this.#pending.length > 0) this.#flush(); }, this.limits.flushMs).unref();
    this.#heartbeat ??= setInterval(() => this.#beat(), this.limits.heartbeatMs).unref();
    res.once('close', () => {
      this.#clients.delete(c);
      if (this.#clients.size > 0) return;
      clearInterval(this.#timer);
      clearInterval(this.#heartbeat);
      this.#timer = this.#heartbeat = undefined;
      this.#pending = [];
    });
  }

  /** Ends every live stream (shutdown). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#timer = this.#heartbeat = undefined;
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }

  #beat(): void {
    for (const c of this.#clients) if (c.res.writableLength <= this.limits.clientBuffer) c.res.write(': keep-alive\n\n');
  }

  /** One batch: each client gets one write of the records it wants, unless its socket buffer is already full. */
  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    const max = this.limits.clientBuffer;
    const perSecond = this.limits.perSecond;
    const now = Date.now();
    for (const c of this.#clients) {
      if (c.res.destroyed) continue;
      if (c.res.writableLength > max) {
        let want = 0;
        for (const e of batch) if (matches(e.rec, c.filter)) want++;
        c.dropped += want;
        this.dropped += want;
        if (want > 0) this.#onDrop?.(want);
        continue;
      }
      if (now - c.windowStart >= 1000) { c.windowStart = now; c.sent = 0; }
      let out = '';
      for (const e of batch) {
        if (!matches(e.rec, c.filter)) continue;
        if (c.sent < perSecond) { out += frameOf(e); c.sent++; } else c.skipped++;
      }
      if (c.dropped > 0 || c.skipped > 0) {
        out = `event: dropped\ndata: {"dropped":${c.dropped},"skipped":${c.skipped}}\n\n${out}`;
        this.skipped += c.skipped;
        c.dropped = c.skipped = 0;
      }
      if (out !== '') c.res.write(out);
    }
  }
}
