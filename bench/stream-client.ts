// Streaming measurement: a raw node:http client sends `"stream": true` requests with modest concurrency and
// times, per request, the first body byte (TTFB) and the end of the SSE answer; it checks the answer carried its end
// marker (`data: [DONE]`, or a Responses stream's `event: response.completed`), so a proxy that breaks streams shows up
// as errors, not as fast numbers.
import http from 'node:http';
import { Samples } from './stats.ts';

/** What to send. */
export interface StreamSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  requests: number;
  concurrency: number;
  timeoutMs?: number;
  /** What a complete answer contains (default `data: [DONE]`; Responses streams: `event: response.completed`). */
  endMarker?: string;
}

/** Raw samples of a streaming pass (ms), plus failures with a short reason. */
export interface StreamSamples {
  ttfb: Samples;
  total: Samples;
  errors: number;
  firstError?: string;
}

const DONE = 'data: [DONE]';

/** One streamed request; resolves with [ttfb, total] ms or an error string. */
function oneStream(agent: http.Agent, u: URL, spec: StreamSpec, body: Buffer): Promise<[number, number] | string> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let ttfb = -1;
    let tail = '';
    let ended = false;
    const marker = spec.endMarker ?? DONE;
    let settled = false;
    const done = (v: [number, number] | string): void => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...spec.headers },
        timeout: spec.timeoutMs ?? 10_000,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.on('data', (d: Buffer) => {
          if (ttfb < 0) ttfb = Number(process.hrtime.bigint() - t0) / 1e6;
          const t = tail + d.toString('latin1');
          if (!ended && t.includes(marker)) ended = true;
          tail = t.slice(-marker.length);
        });
        res.on('end', () => {
          const total = Number(process.hrtime.bigint() - t0) / 1e6;
          if (status !== 200) done(`HTTP ${status}`);
          else if (!ended) done(`stream ended without ${marker}`);
          else done([ttfb, total]);
        });
        res.on('error', (e) => done(e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(e.message));
    req.end(body);
  });
}

/** Run `requests` streamed requests at `concurrency`, appending to `into` (pooled across rounds). */
export async function runStreams(spec: StreamSpec, into?: StreamSamples): Promise<StreamSamples> {
  const out: StreamSamples = into ?? { ttfb: new Samples(), total: new Samples(), errors: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const u = new URL(spec.url);
  const body = Buffer.from(spec.body);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < spec.requests) {
      next++;
      const r = await oneStream(agent, u, spec, body);
      if (typeof r === 'string') {
        out.errors++;
        out.firstError ??= r;
      } else {
        out.ttfb.push(r[0]);
        out.total.push(r[1]);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  agent.destroy();
  return out;
}
