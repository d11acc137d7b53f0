// Fixed quota windows aligned to UTC boundaries (second, minute, hour, day, calendar month) and the
// OpenAI-style duration text of the x-ratelimit-reset-* headers ("1s", "6m0s", "20ms").

/** The window of a limit: `per second|minute|hour|day|month`. */
export type WindowName = 'second' | 'minute' | 'hour' | 'day' | 'month';

/** Every window, shortest first (the order the docs list them). */
export const WINDOWS: readonly WindowName[] = ['second', 'minute', 'hour', 'day', 'month'];

const FIXED_MS: Readonly<Record<Exclude<WindowName, 'month'>, number>> = {
  second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000,
};

/** One window instance: `[start, end)` in epoch ms. */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

// The month window is the only one that needs calendar arithmetic; cache the last one computed.
let monthCache: WindowBounds = { start: 0, end: 0 };

/**
 * The window of kind `w` that contains `now` (epoch ms). Fixed windows: every second/minute/hour/day starts on
 * a multiple of its length since the epoch (so days start at 00:00:00Z); months start on the 1st at 00:00:00Z.
 */
export function windowAt(w: WindowName, now: number): WindowBounds {
  if (w === 'month') {
    if (now >= monthCache.start && now < monthCache.end) return monthCache;
    const d = new Date(now);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    monthCache = { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
    return monthCache;
  }
  const len = FIXED_MS[w];
  const start = now - (((now % len) + len) % len);
  return { start, end: start + len };
}

/** Whole seconds until `end`, at least 1: the value of a Retry-After header. */
export function retryAfterSeconds(end: number, now: number): number {
  return Math.max(1, Math.ceil((end - now) / 1000));
}

/**
 * A duration in Go's `time.Duration` text form, as OpenAI's x-ratelimit-reset-* headers use it:
 * `20ms`, `1s`, `1.5s`, `6m0s`, `1h0m0s`. Millisecond precision; negative values print as `0s`.
 */
export function formatResetDuration(ms: number): string {
  ms = Math.max(0, Math.ceil(ms));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sMs = ms % 60_000;
  const whole = Math.floor(sMs / 1000);
  const frac = sMs % 1000;
  let fracText = String(frac).padStart(3, '0');
  while (fracText.endsWith('0')) fracText = fracText.slice(0, -1);
  const s = frac === 0 ? `${whole}s` : `${whole}.${fracText}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}
