// Requests Node's HTTP parser refused (malformed heads, oversized headers) or that did not arrive within the request
// timeout: answered once on the raw socket, OpenAI-shaped, recorded like any unchained request, then closed.
import http from 'node:http';
import type { Socket } from 'node:net';
import { E, GatewayError } from '../errors.ts';
import type { Edge } from './edge.ts';
import { unchainedKey } from './request-end.ts';
import { routeName, routeOf } from './routes.ts';

/**
 * What a parser error says to the client, by llhttp error code: fixed texts, never the bytes that were refused.
 * Anything else: "the request could not be parsed".
 */
const PARSE_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  HPE_INVALID_METHOD: 'unknown method',
  HPE_INVALID_URL: 'invalid request target',
  HPE_INVALID_CONSTANT: 'invalid request line',
  HPE_INVALID_VERSION: 'invalid HTTP version or request line',
  HPE_INVALID_HEADER_TOKEN: 'invalid character in a header name or value (control characters, NUL, obs-fold line continuations)',
  HPE_LF_EXPECTED: 'a line ending without CRLF (bare CR) in the request head',
  HPE_CR_EXPECTED: 'a line ending without CRLF in the request head',
  HPE_UNEXPECTED_SPACE: 'unexpected whitespace in the request head',
  HPE_INVALID_CONTENT_LENGTH: 'invalid Content-Length',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'conflicting or repeated Content-Length headers',
  HPE_INVALID_TRANSFER_ENCODING: 'invalid Transfer-Encoding, or Transfer-Encoding together with Content-Length',
  HPE_INVALID_CHUNK_SIZE: 'invalid chunk size in a chunked body',
  HPE_STRICT: 'the request head breaks HTTP/1.1 framing rules',
  HPE_INVALID_EOF_STATE: 'the connection ended in the middle of the request',
  HPE_CLOSED_CONNECTION: 'data after a request that closed the connection',
});

/** Sockets whose parser error was answered (llhttp keeps failing on every later chunk: answer once). */
const HANDLED = new WeakSet<Socket>();

/**
 * Node's HTTP parser refused a request (or its request timeout fired): answer on the raw socket with an OpenAI-shaped
 * 400/408/431 and `Connection: close`, record it once (metrics, log, audit), and close. Nothing was forwarded: the
 * request never reached a route. A socket whose response already started is only closed.
 */
export function answerClientError(edge: Edge, err: NodeJS.ErrnoException, socket: Socket, requestTimeoutMs: number): void {
  if (HANDLED.has(socket)) return;
  HANDLED.add(socket);
  const code = err.code ?? '';
  const pending = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || pending?.headersSent) { socket.destroy(); return; }
  const ge = code === 'HPE_HEADER_OVERFLOW' ? new GatewayError(E.GW_ERR_HEADERS_TOO_LARGE, [http.maxHeaderSize])
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new GatewayError(E.GW_ERR_REQUEST_TIMEOUT, [`${requestTimeoutMs / 1000} s`])
      : new GatewayError(E.GW_ERR_BAD_HTTP, [PARSE_ERRORS[code] ?? 'the request could not be parsed']);
  const reqId = edge.nextRequestId();
  const body = JSON.stringify(ge.toJSON());
  socket.end(`HTTP/1.1 ${ge.status} ${http.STATUS_CODES[ge.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
    + `x-request-id: ${reqId}\r\nconnection: close\r\n\r\n${body}`);
  // Whatever the client still sends is read (and dropped by the failed parser) for a moment, so closing does not reset
  // the answer away; then the socket goes.
  setTimeout(() => socket.destroy(), 1000).unref();
  const url = pending?.req?.url;
  const route = routeName(url === undefined ? undefined : routeOf(url.split('?', 1)[0]!));
  const durationMs = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? requestTimeoutMs : 0;
  edge.metrics.requests.byKey(unchainedKey(route, ge.status)).inc();
  edge.log.info({ reqId, route, status: ge.status, code: ge.code, parserCode: code }, 'request rejected');
  edge.o.onUnchainedEnd?.({ ctx: undefined, reqId, route, status: ge.status, error: ge, durationMs, revision: edge.o.policies.current?.revision });
}
