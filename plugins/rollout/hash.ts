// Stable user bucketing for percentage rollouts: FNV-1a (32-bit) over the UTF-8 bytes of `policyId + "\0" + user`,
// finished with MurmurHash3's fmix32, modulo 10000. Allocation-free; the same user always lands in the same bucket.

/** Number of buckets: percentages resolve to 0.01 %. */
export const BUCKETS = 10_000;

/** FNV-1a 32-bit step over one byte. */
function step(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}

/** Feeds the UTF-8 encoding of `s` into the hash state `h`. Lone surrogates are encoded as U+FFFD, like TextEncoder. */
function feed(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { h = step(h, c); continue; }
    if (c < 0x800) { h = step(step(h, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f)); continue; }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        h = step(h, 0xf0 | (cp >> 18));
        h = step(h, 0x80 | ((cp >> 12) & 0x3f));
        h = step(h, 0x80 | ((cp >> 6) & 0x3f));
        h = step(h, 0x80 | (cp & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    h = step(step(step(h, 0xe0 | (c >> 12)), 0x80 | ((c >> 6) & 0x3f)), 0x80 | (c & 0x3f));
  }
  return h;
}

/**
 * The rollout bucket (0 … 9999) of `user` under policy `policyId`: deterministic across processes and replicas.
 * A percentage rule with `percent P` selects the users whose bucket is below P × 100.
 */
export function rolloutBucket(policyId: string, user: string): number {
  let h = feed(0x811c9dc5, policyId);
  h = step(h, 0);
  h = feed(h, user);
  // fmix32: spreads the low bits FNV leaves weak.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}
