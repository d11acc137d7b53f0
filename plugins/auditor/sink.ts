// Where audit lines go: stdout, stderr, a file (reopened on SIGHUP for logrotate) or nowhere, through pino's
// asynchronous SonicBoom destination, separate from the application logger. One sink per gateway instance.
import { appendFileSync, writeSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { GatewayServices } from '../../src/sdk/context.ts';
import type { CounterLike } from '../../src/sdk/metrics.ts';
import { AUDITOR_METRICS } from './declarations.ts';
import type { AuditFormat } from './format.ts';

/** Largest amount of unwritten audit text buffered in memory (a stalled disk or pipe drops lines, counted, beyond it). */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

type Dest = ReturnType<typeof pino.destination>;

/** Results counted in `policy_gateway_audit_records_total{result}`. */
export type AuditResult = 'written' | 'dropped' | 'error';
/** Frozen: the metric remembers each one, so counting a record costs no label work. */
const RESULT_LABELS: Readonly<Record<AuditResult, Readonly<Record<string, string>>>> = Object.freeze({
  written: Object.freeze({ result: 'written' }), dropped: Object.freeze({ result: 'dropped' }), error: Object.freeze({ result: 'error' }),
});

/**
 * Lines to a file are handed to SonicBoom in batches: {@link BATCH_MS} after the first line of a batch, or as soon as
 * the batch holds {@link BATCH_BYTES} of text (stdout and stderr get each line at once, see write). Under load this turns one file write (a thread-pool hop and a system call,
 * on the gateway's own core) per few records into one per batch; close() and reopen() flush first.
 */
export const BATCH_MS = 25;
/** Largest write to a shared pipe that POSIX makes atomic (Linux: 4096). */
export const PIPE_BUF = 4096;
const BATCH_BYTES = 64 * 1024;

/** Options of one sink. */
export interface AuditSinkOptions {
  /** `stdout`, `stderr`, `off` or a file path (created with its directory; appended to). */
  readonly destination: string;
  readonly format: AuditFormat;
  readonly log: Logger;
  /** `policy_gateway_audit_records_total{result}`, when the gateway provides it. */
  readonly counter?: CounterLike | undefined;
}

/**
 * An audit destination. `write` never blocks the request path: lines are queued and written asynchronously by
 * SonicBoom; `close` flushes everything (graceful shutdown); lines written after `close` go out synchronously.
 */
export class AuditSink {
  readonly destination: string;
  readonly format: AuditFormat;
  readonly #log: Logger;
  readonly #counter: CounterLike | undefined;
  readonly #fd: number | undefined;
  readonly #path: string | undefined;
  #dest: Dest | undefined;
  #closed = false;
  /** The file could not be opened: records are counted as errors until a reopen succeeds. */
  #broken = false;
  #errorLogged = false;
  /** Lines not yet handed to SonicBoom (see write), and their length with newlines. */
  #batch: string[] = [];
  #batchChars = 0;
  /** Pending while a reopen (SIGHUP) has not opened the new file yet. */
  #reopening: Promise<void> | undefined;
  /** Set by SonicBoom's 'drop' during the current flush. */
  #dropping = false;

  constructor(o: AuditSinkOptions) {
    this.destination = o.destination;
    this.format = o.format;
    this.#log = o.log;
    this.#counter = o.counter;
    if (o.destination === 'off') return;
    this.#fd = o.destination === 'stdout' ? 1 : o.destination === 'stderr' ? 2 : undefined;
    this.#path = this.#fd === undefined ? o.destination : undefined;
    this.#dest = this.#open();
  }

  #open(): Dest {
    const dest = pino.destination({
      dest: this.#fd ?? this.#path!, sync: false, mkdir: this.#path !== undefined, append: true, minLength: 0, maxLength: MAX_BUFFERED_BYTES,
      // a pipe write of at most PIPE_BUF bytes is atomic: lines sharing stdout with the log never interleave
      ...(this.#fd !== undefined ? { maxWrite: PIPE_BUF } : {}),
    });
    let ready = this.#fd !== undefined;
    dest.once('ready', () => { ready = true; });
    dest.on('error', (err: Error) => {
      // An error before 'ready' is a failed open: stop queueing into a stream that can never write. Such a stream has
      // nothing to flush, and pino's exit hook (registered by pino.destination) would call its flushSync at process
      // exit — which throws "sonic boom is not ready yet" and turns the exit code into 1 while the stream is still
      // reachable. Marking it destroyed is what that hook checks to leave a stream alone.
      if (!ready) {
        this.#broken = true;
        (dest as unknown as { destroyed: boolean }).destroyed = true;
      }
      this.fail(err);
    });
    dest.on('drop', () => { this.#dropping = true; });
    return dest;
  }

  /** True when records are discarded (`--audit off`). */
  get off(): boolean {
    return this.destination === 'off';
  }

  #count(result: AuditResult, n = 1): void {
    this.#counter?.inc(RESULT_LABELS[result], n);
  }

  /** Counts lost records (`result="error"`, `n` of them) and logs the first failure of this sink. */
  fail(err: Error, msg = 'audit destination failed', n = 1): void {
    this.#count('error', n);
    if (this.#errorLogged) return;
    this.#errorLogged = true;
    this.#log.error({ err, destination: this.destination }, msg);
  }

  /**
   * Queues one line (a newline is added). Never throws; failures are counted and logged once. Lines are gathered
   * and handed to SonicBoom in batches (see {@link BATCH_MS}): one write call per batch instead of one per record.
   */
  write(line: string): void {
    if (this.off) return;
    if (this.#broken && !this.#closed) { this.#count('error'); return; }
    if (this.#closed) {
      try {
        this.#writeSync(`${line}\n`);
        this.#count('written');
      } catch (err) {
        this.fail(err as Error);
      }
      return;
    }
    if (this.#fd !== undefined) {
      // stdout/stderr are shared with the application log (often one pipe): each line goes to SonicBoom on its own,
      // whose writes there stay within PIPE_BUF (see #open), so lines of the two streams never tear each other
      this.#batch.push(line);
      this.#flush();
      return;
    }
    const batch = this.#batch;
    batch.push(line);
    this.#batchChars += line.length + 1;
    if (batch.length === 1) setTimeout(this.#flush, BATCH_MS).unref();
    else if (this.#batchChars >= BATCH_BYTES) this.#flush();
  }

  /** Hands the gathered lines to SonicBoom as one string; counts them written or dropped (buffer full). */
  readonly #flush = (): void => {
    const batch = this.#batch;
    const n = batch.length;
    if (n === 0) return;
    batch.push(''); // the last line's newline
    const text = batch.join('\n');
    this.#batch = [];
    this.#batchChars = 0;
    if (this.#broken) { this.#count('error', n); return; }
    this.#dropping = false;
    try {
      this.#dest!.write(text);
    } catch (err) {
      this.fail(err as Error, 'audit destination failed', n);
      return;
    }
    // SonicBoom drops a whole write when its buffer is full ('drop', emitted during write)
    this.#count(this.#dropping ? 'dropped' : 'written', n);
  };

  #writeSync(text: string): void {
    if (this.#fd !== undefined) writeSync(this.#fd, text);
    else appendFileSync(this.#path!, text);
  }

  /** Reopens a file destination in place (after logrotate renamed it); no-op for stdout/stderr/off. Retries a failed open. */
  reopen(): void {
    if (this.#path === undefined || this.#closed || !this.#dest) return;
    this.#flush();
    if (this.#broken) {
      this.#broken = false;
      this.#errorLogged = false;
      this.#dest = this.#open();
      return;
    }
    const dest = this.#dest;
    // SonicBoom reopens once its current write is done; ending it before then loses what is queued (its deferred
    // reopen gives up once ending), so close() waits for the new file.
    this.#reopening = new Promise<void>((resolve) => {
      const done = () => { dest.off('ready', done); dest.off('error', done); this.#reopening = undefined; resolve(); };
      dest.once('ready', done);
      dest.once('error', done);
    });
    try {
      dest.reopen();
    } catch (err) {
      this.#reopening = undefined; // nothing will open
      this.fail(err as Error);
    }
  }

  /** Flushes every queued line and releases the file. Later lines are written synchronously, so none is lost. */
  async close(): Promise<void> {
    this.#flush();
    if (this.#closed || !this.#dest || this.#broken) { this.#closed = true; return; }
    this.#closed = true;
    const dest = this.#dest;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      timer.unref();
      const done = () => { clearTimeout(timer); resolve(); };
      dest.once('close', done);
      dest.once('error', done);
      const end = () => {
        try {
          dest.end();
        } catch {
          done();
        }
      };
      if (this.#reopening) void this.#reopening.then(end);
      else end();
    });
  }
}

const sinks = new WeakMap<GatewayServices, AuditSink>();

/**
 * The sink of one gateway instance (created on first use from `services.audit`): registers a SIGHUP reopen and
 * a flush at graceful shutdown with the gateway.
 */
export function sinkFor(services: GatewayServices): AuditSink {
  let sink = sinks.get(services);
  if (sink) return sink;
  const counter = services.metricsOf(AUDITOR_METRICS).records;
  sink = new AuditSink({ destination: services.audit.destination, format: services.audit.format, log: services.log, counter });
  sinks.set(services, sink);
  const s = sink;
  services.onReopen(() => s.reopen());
  services.onClose(() => s.close());
  return sink;
}
