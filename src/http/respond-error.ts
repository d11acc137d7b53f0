// Error answers of the edge, OpenAI-shaped (`{"error": {message, type, param, code}}`): a whole JSON answer, the error
// event that ends a stream already under way (a Responses stream's `error` event for that endpoint), and the lingering
// close after an early 413.
import type http from 'node:http';
import type { GatewayError } from '../errors.ts';
import { sseData } from '../chain/sse.ts';

/** The content type of every JSON answer. */
export const JSON_TYPE = 'application/json';

/** Lingering close after an early answer (413): how long, and how much of the rest of an upload, is read and dropped. */
const LINGER_MS = 5000;
const LINGER_BYTES = 64 * 1024 * 1024;

/** Sends a JSON body (or only ends the response when its head already went out). */
export function sendJson(res: http.ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * The `error` event that ends a Responses stream: the spec's fields (`type`, `code`, `message`, `param`,
 * `sequence_number`) and the same error nested as `error` (what the OpenAI SDKs read from an `error` event).
 */
export function responsesErrorEvent(err: GatewayError, sequence: number): string {
  const e = err.toJSON().error;
  return `event: error\ndata: ${JSON.stringify({ type: 'error', code: e.code, message: e.message, param: e.param, sequence_number: sequence, error: e })}\n\n`;
}

/**
 * Answers `err`: a whole JSON error answer, or — when a stream's head is already sent — one final SSE error event.
 * `extra` headers (x-ratelimit-*) are added; `close` asks the client to close the connection (a gateway stopping).
 */
export function sendError(res: http.ServerResponse, err: GatewayError, reqId: string, extra?: Record<string, string>, close = false,
  member = ''): void {
  const json = JSON.stringify(err.toJSON());
  // `member`: more members of the error body (`,"name":…`: the live trace), spliced in before its last brace
  const body = member === '' ? json : `${json.slice(0, -1)}${member}}`;
  if (res.headersSent) {
    if (!res.writableEnded) res.end(sseData(body));
    return;
  }
  const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': reqId };
  if (err.headers) Object.assign(headers, err.headers);
  if (extra) Object.assign(headers, extra);
  if (close) headers.connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}

/**
 * Sends a whole error answer with `Connection: close` at once, but ends the response — after which Node closes the
 * socket — only when the client's upload is over. Closing a socket that still has unread input makes the kernel
 * send a reset, which can destroy the answer in the client's buffers before it is read (a 4 MB upload against a
 * 64 KB limit: every Node fetch saw "connection reset"). So the rest of the body is read and dropped — nginx's
 * lingering close — for at most LINGER_MS and LINGER_BYTES, then the socket is closed regardless.
 */
export function sendLingering(req: http.IncomingMessage, res: http.ServerResponse, err: GatewayError, reqId: string): void {
  const body = JSON.stringify(err.toJSON());
  res.writeHead(err.status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': reqId, connection: 'close' });
  res.write(body);
  let drained = 0;
  const end = (cut: boolean) => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
    if (cut) req.socket?.destroy();
  };
  const timer = setTimeout(end, LINGER_MS, true);
  req.on('data', (c: Buffer) => { drained += c.length; if (drained > LINGER_BYTES) end(true); });
  req.once('end', () => end(false));
  res.once('close', () => clearTimeout(timer));
}
