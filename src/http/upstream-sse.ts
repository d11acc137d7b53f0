// Reading an upstream SSE body for the streaming answers (respond-sse.ts, respond-events.ts): decoded event by event,
// one event's size bounded, output batched per network chunk, the client's back-pressure followed, a failure ending the
// answer. The answer files keep what differs: what an event becomes, the error event, and when a stream is complete.
import type http from 'node:http';
import { E, GatewayError } from '../errors.ts';
import { SseDecoder, type SseEvent } from '../chain/sse.ts';
import { jsonTextNestsDeeper } from '../json-depth.ts';
import type { Edge } from './edge.ts';
import type { Flight } from './flight.ts';

/** What a streaming answer tells the reader. */
export interface SseAnswer {
  /** True once the answer is complete or failed: nothing more is read. */
  finished(): boolean;
  /** Writes the output one network chunk produced (and ends the response once finished). */
  flush(): void;
  /** Ends the answer with its error event (then drops the upstream with `dropUpstream`). */
  fail(err: unknown): void;
  /** The upstream body ended (every event decoded): fail an incomplete stream, or finish and flush. May throw. */
  ended(): void;
}

/** Stops reading the upstream: its body, the call behind a decoder in front of it, and a http-proxy-3 request. */
export function dropUpstream(f: Flight, proxyRes: http.IncomingMessage): void {
  proxyRes.destroy();
  f.call?.destroy(); // proxyRes may be a decoder in front of the upstream body: drop the upstream call itself too
  if (f.proxyReq && !f.proxyReq.destroyed) f.proxyReq.destroy();
}

/** Feeds the upstream's SSE body to `onEvent` and `answer` until the answer is finished or the body ends. */
export function readUpstreamSse(
  edge: Edge, f: Flight, proxyRes: http.IncomingMessage, res: http.ServerResponse, onEvent: (ev: SseEvent) => void, answer: SseAnswer,
): void {
  const decoder = new SseDecoder(onEvent);
  proxyRes.on('data', (c: Buffer) => {
    if (answer.finished() || res.destroyed) return;
    const t = performance.now();
    try {
      decoder.push(c);
      if (decoder.pending > edge.upstreamLimit) {
        // One event that never ends (no blank line): bounded like any answer the gateway holds.
        edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
        throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE event longer than ${edge.upstreamLimit} characters (--upstream-body-limit)`) });
      }
      answer.flush();
    } catch (e) {
      answer.fail(e);
    }
    f.postMs += performance.now() - t;
    if (!answer.finished() && res.writableNeedDrain) {
      proxyRes.pause();
      res.once('drain', () => proxyRes.resume());
    }
  });
  proxyRes.on('end', () => {
    if (answer.finished() || res.destroyed) return;
    const t = performance.now();
    try {
      decoder.end();
      answer.ended();
    } catch (e) {
      answer.fail(e);
    }
    f.postMs += performance.now() - t;
  });
}

/**
 * Throws GW_ERR_UPSTREAM_BAD_RESPONSE (and counts it) when an event's JSON nests deeper than --max-json-depth:
 * re-serialising it after the chunk hooks would recurse past any sane bound, so the stream is broken, not passed on.
 */
export function checkEventDepth(edge: Edge, f: Flight, data: string): void {
  if (!jsonTextNestsDeeper(data, edge.maxDepth)) return;
  edge.metrics.upstreamErrors.inc({ upstream: f.upstream.name, kind: 'bad_response' });
  throw new GatewayError(E.GW_ERR_UPSTREAM_BAD_RESPONSE, [], { cause: new Error(`SSE event nested deeper than ${edge.maxDepth} levels`) });
}
