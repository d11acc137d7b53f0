// Minimal typings for the parts of autocannon 9's programmatic API the benchmark harness uses
// (autocannon ships no types; @types/autocannon is not installed).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  /** Options accepted by autocannon(); only the fields the harness sets. */
  export interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    connections?: number;
    pipelining?: number;
    duration?: number;
    timeout?: number;
    workers?: number;
    setupClient?: (client: unknown) => void;
  }

  /** One latency/request/throughput summary object. */
  export interface Histogram {
    average: number; mean: number; stddev: number; min: number; max: number;
    p50: number; p90: number; p99: number; p99_9: number; [key: string]: number;
  }

  /** The result object passed to the callback / resolved promise. */
  export interface Result {
    latency: Histogram;
    requests: Histogram & { total: number; sent: number };
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    resets: number;
    mismatches: number;
    duration: number;
    '2xx': number;
    statusCodeStats: Record<string, { count: number }>;
  }

  /** The running instance (an EventEmitter: 'response', 'done', 'reqError', …). */
  export interface Instance extends EventEmitter {
    stop(): void;
  }

  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
