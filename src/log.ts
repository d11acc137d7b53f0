// The pino root logger: JSON lines, credentials redacted, no prompt or completion text ever passed to it.
// One child logger per request carries `reqId`.
import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths pino censors wherever they appear in a log object. */
const REDACT = [
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'apiKey', '*.apiKey', 'api_key', '*.api_key', 'key', '*.key',
];

/**
 * Creates the root logger at `level`, writing to `dest` (stdout by default; writes of at most PIPE_BUF = 4096 bytes,
 * atomic on a pipe, so lines never tear with audit lines that share stdout).
 */
export function createLogger(level: string, dest?: DestinationStream): Logger {
  const opts = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return dest ? pino(opts, dest) : pino(opts, pino.destination({ dest: 1, sync: false, minLength: 0, maxWrite: 4096 }));
}
