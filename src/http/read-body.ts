// Reading a chat request's body: JSON content type only, the body limit enforced while it arrives (413 with a lingering
// close), gzip/deflate/br bodies decoded off the event loop and bounded by the same limit (no zip bomb).
import type http from 'node:http';
import { E, GatewayError } from '../errors.ts';
import { decodeBody, DecodeError, parseContentEncoding, type Coding } from './content-encoding.ts';
import type { Edge } from './edge.ts';
import { endUnchained } from './request-end.ts';
import { JSON_TYPE } from './respond-error.ts';

/**
 * Reads the body of a chat request and calls `onBody` with its decoded bytes; any failure (415, 413, 400 bad
 * encoding) is answered and recorded here. `onBody` is not called when the client went away during decoding.
 */
export function readBody(edge: Edge, req: http.IncomingMessage, res: http.ServerResponse, route: string, reqId: string, start: number,
  onBody: (body: Buffer) => void): void {
  const ct = req.headers['content-type'];
  if (!ct || !(ct === JSON_TYPE || ct.startsWith(JSON_TYPE) || /^application\/[\w.+-]*json\b/i.test(ct))) {
    return endUnchained(edge, req, res, reqId, route, start, new GatewayError(E.GW_ERR_UNSUPPORTED_MEDIA_TYPE));
  }
  let coding: Coding | undefined;
  const ce = req.headers['content-encoding'];
  if (ce !== undefined) {
    const c = parseContentEncoding(ce);
    if (typeof c === 'object') return endUnchained(edge, req, res, reqId, route, start, new GatewayError(E.GW_ERR_UNSUPPORTED_ENCODING, [c.unsupported]));
    coding = c;
  }
  const limit = edge.o.bodyLimit;
  const tooLarge = () => endUnchained(edge, req, res, reqId, route, start, new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [limit]), { connection: 'close' }, undefined, true);
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (c: Buffer) => {
    if (over) return;
    size += c.length;
    if (size > limit) { over = true; chunks.length = 0; tooLarge(); return; }
    chunks.push(c);
  });
  req.on('end', () => {
    if (over) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    if (coding === undefined) { onBody(body); return; }
    // Compressed: decoded on the thread pool, never to more than the body limit (a bomb stops there).
    decodeBody(body, coding, limit).then(
      (plain) => { if (!res.closed) onBody(plain); },
      (e: unknown) => {
        if (res.closed) return;
        const err = e instanceof DecodeError && e.reason === 'too_large'
          ? new GatewayError(E.GW_ERR_BODY_TOO_LARGE, [limit])
          : new GatewayError(E.GW_ERR_BAD_ENCODING, [coding], { cause: e });
        endUnchained(edge, req, res, reqId, route, start, err);
      },
    );
  });
  req.on('error', () => { /* client aborted while sending; res 'close' cleans up */ });
}
