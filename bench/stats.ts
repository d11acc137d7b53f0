// Small statistics helpers for the benchmark harness: a growable sample buffer, percentiles, medians.

/** A growable Float64 buffer of samples (latencies in ms), cheap to append on the load path. */
export class Samples {
  private buf = new Float64Array(65536);
  private n = 0;

  /** Append one sample. */
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  /** Number of samples. */
  get length(): number {
    return this.n;
  }

  /** A sorted copy of the samples. */
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

/** The p-th percentile (0–100) of an ascending array (nearest-rank); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))];
}

/** Median of numbers, ignoring NaN; NaN when none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Round to `d` decimals (NaN stays NaN). */
export function round(x: number, d = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
