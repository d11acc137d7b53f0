// One load measurement with autocannon (programmatic API): fixed connections and pipelining for N seconds.
// Latency percentiles come from autocannon's per-response times (fractional ms), not its 1-ms histogram,
// so sub-millisecond differences between proxies are visible.
import autocannon from 'autocannon';
import { Samples, percentile } from './stats.ts';

/** What to send and how hard. */
export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  pipelining: number;
  durationS: number;
  /** Per-request timeout, seconds. */
  timeoutS?: number;
}

/** Figures of one measurement. */
export interface LoadResult {
  /** Successful (2xx) responses per second. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  /** 2xx responses. */
  ok: number;
  /** non-2xx responses. */
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
  timeouts: number;
  durationS: number;
  statusCodes: Record<string, number>;
}

/** Run autocannon once and summarise it. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const lat = new Samples();
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...spec.headers },
        body: spec.body,
        connections: spec.connections,
        pipelining: spec.pipelining,
        duration: spec.durationS,
        timeout: spec.timeoutS ?? 10,
      },
      (err, r) => {
        if (err) {
          reject(err);
          return;
        }
        const sorted = lat.sorted();
        let sum = 0;
        for (let i = 0; i < sorted.length; i++) sum += sorted[i];
        const codes: Record<string, number> = {};
        for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) codes[k] = v.count;
        const ok = r['2xx'] ?? 0;
        resolve({
          rps: ok / r.duration,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          p999: percentile(sorted, 99.9),
          mean: sorted.length ? sum / sorted.length : Number.NaN,
          ok,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          durationS: r.duration,
          statusCodes: codes,
        });
      },
    );
    inst.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) lat.push(responseTime);
    });
  });
}
