// Content-Encoding at the HTTP edge: request bodies sent gzip/deflate/br are decoded with the body limit applied to the
// decoded size (no zip bomb), and upstream answers compressed despite `accept-encoding: identity` are decoded as streams.
import zlib from 'node:zlib';

/** The codings the gateway decodes (`x-gzip` is `gzip`). */
export type Coding = 'gzip' | 'deflate' | 'br';

/**
 * Reads a Content-Encoding header: undefined for none or `identity`, a Coding, or `{ unsupported }` naming what was
 * sent (several stacked codings are not accepted). Case and surrounding spaces are ignored.
 */
export function parseContentEncoding(header: string | undefined): Coding | undefined | { unsupported: string } {
  if (header === undefined) return undefined;
  const v = header.trim().toLowerCase();
  switch (v) {
    case '': case 'identity': return undefined;
    case 'gzip': case 'x-gzip': return 'gzip';
    case 'deflate': return 'deflate';
    case 'br': return 'br';
    default: return { unsupported: v.length > 40 ? `${v.slice(0, 40)}…` : v };
  }
}

/** Why a body could not be decoded. */
export class DecodeError extends Error {
  readonly reason: 'too_large' | 'corrupt';
  constructor(reason: 'too_large' | 'corrupt', cause: unknown) {
    super(reason === 'too_large' ? 'decoded body over the limit' : 'corrupt compressed data', { cause });
    this.reason = reason;
  }
}

const inflateRaw = (buf: Buffer, maxOutputLength: number): Promise<Buffer> =>
  new Promise((resolve, reject) => zlib.inflateRaw(buf, { maxOutputLength }, (e, out) => (e ? reject(e) : resolve(out))));

/**
 * Decodes a whole body on the thread pool, never producing more than `limit` bytes (zlib stops at `maxOutputLength`,
 * so a bomb costs at most `limit` of memory and the time to inflate it). `deflate` accepts the zlib wrapper RFC 9110
 * asks for and, failing that, raw deflate (which some clients send). Rejects with DecodeError.
 */
export function decodeBody(buf: Buffer, coding: Coding, limit: number): Promise<Buffer> {
  const maxOutputLength = Math.max(1, limit);
  return new Promise<Buffer>((resolve, reject) => {
    const done = (e: Error | null, out: Buffer) => {
      if (!e) { resolve(out); return; }
      if (coding === 'deflate' && (e as NodeJS.ErrnoException).code === 'Z_DATA_ERROR') {
        inflateRaw(buf, maxOutputLength).then(resolve, (e2: NodeJS.ErrnoException) => reject(new DecodeError(e2.code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'corrupt', e2)));
        return;
      }
      reject(new DecodeError((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'corrupt', e));
    };
    if (coding === 'gzip') zlib.gunzip(buf, { maxOutputLength }, done);
    else if (coding === 'deflate') zlib.inflate(buf, { maxOutputLength }, done);
    else zlib.brotliDecompress(buf, { maxOutputLength }, done);
  });
}

/** A streaming decoder for an upstream answer (the consumer bounds what it buffers from it). */
export function createDecoder(coding: Coding): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress {
  return coding === 'gzip' ? zlib.createGunzip() : coding === 'deflate' ? zlib.createInflate() : zlib.createBrotliDecompress();
}
