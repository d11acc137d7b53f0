// Raw-socket HTTP for tests that must send what no well-behaved client sends (smuggling attempts, stalled bodies,
// oversized heads) and see exactly what the gateway answers, byte for byte, or that it closed without answering.
import net from 'node:net';

/** What came back on one raw connection. */
export interface RawAnswer {
  /** Everything the server sent before it closed (or before the wait ran out). */
  readonly text: string;
  /** Status of the first response, or 0 when nothing HTTP-shaped arrived. */
  readonly status: number;
  /** The first response's headers (lower-case names; last value wins). */
  readonly headers: Record<string, string>;
  /** The first response's body (by content-length when given, else everything after the head). */
  readonly body: string;
  /** How the connection ended: the server closed it, reset it, or it was still open when the wait ran out. */
  readonly end: 'closed' | 'reset' | 'timeout';
  /** Milliseconds from connect to the end of the first response (or to the end of the wait). */
  readonly ms: number;
}

/**
 * Parses the first final HTTP response in `text` (the bytes received, decoded as latin1: one character per byte);
 * interim 1xx responses before it (`100 Continue`) are skipped.
 */
export function parseRawResponse(text: string): { status: number; headers: Record<string, string>; body: string; complete: boolean } {
  while (/^HTTP\/1\.[01] 1\d\d /.test(text) && text.includes('\r\n\r\n')) text = text.slice(text.indexOf('\r\n\r\n') + 4);
  const headEnd = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/1.') || headEnd === -1) return { status: 0, headers: {}, body: '', complete: false };
  const lines = text.slice(0, headEnd).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  // `text` holds the raw bytes one per character (latin1): count and cut bytes there, then read the body as UTF-8.
  const rest = Buffer.from(text.slice(headEnd + 4), 'latin1');
  const len = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const body = (len === undefined ? rest : rest.subarray(0, len)).toString('utf8');
  return { status, headers, body, complete: len === undefined ? false : rest.length >= len };
}

/**
 * Sends `chunks` on a new connection (each written as given; a number pauses that many ms) and collects the answer
 * until the server closes the connection or `waitMs` passes. Never rejects: resets and timeouts are reported in `end`.
 */
export function rawExchange(port: number, chunks: readonly (string | Buffer | number)[], opts: { waitMs?: number; untilResponse?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let done = false;
    let endKind: RawAnswer['end'] = 'timeout';
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const r = parseRawResponse(text);
      resolve({ text, status: r.status, headers: r.headers, body: r.body, end: endKind, ms: performance.now() - t0 });
    };
    const timer = setTimeout(finish, opts.waitMs ?? 5000);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (opts.untilResponse && parseRawResponse(Buffer.concat(got).toString('latin1')).complete) finish();
    });
    sock.on('end', () => { endKind = 'closed'; finish(); });
    sock.on('error', (e: NodeJS.ErrnoException) => { endKind = e.code === 'ECONNRESET' ? 'reset' : 'closed'; finish(); });
    sock.on('close', () => { if (endKind === 'timeout') endKind = 'closed'; finish(); });
    sock.once('connect', async () => {
      for (const c of chunks) {
        if (done) return;
        if (typeof c === 'number') { await new Promise((r) => setTimeout(r, c)); continue; }
        sock.write(c);
      }
    });
  });
}

/** A POST head for `path` with a JSON content type and the given extra header lines. */
export function postHead(path: string, contentLength: number, extra: readonly string[] = []): string {
  return [`POST ${path} HTTP/1.1`, 'Host: localhost', 'Content-Type: application/json', `Content-Length: ${contentLength}`, ...extra, '', ''].join('\r\n');
}
