/**
 * Canary routing (ARCHITECTURE.md §5): a routing key is hashed with the rollout's salt into 10,000 buckets;
 * a key whose bucket is below percent×100 goes to the candidate. Because the threshold only rises
 * as the ramp rises, a key on the candidate at 5% is still on it at 25% (sticky and monotonic).
 */
export const BUCKET_COUNT = 10_000;

// Fixed forever: changing the seed would reshuffle every key mid-rollout.
const MURMUR_SEED = 0x9747b28c;
const encoder = new TextEncoder();

/** MurmurHash3 x86 32-bit over UTF-8 bytes: fast, well distributed, stable across processes. */
export function murmur3(text: string, seed = MURMUR_SEED): number {
  const bytes = encoder.encode(text);
  const tail = bytes.length & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < tail; i += 4) {
    const block = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = Math.imul(rotl(h ^ scramble(block), 13), 5) + 0xe6546b64;
  }
  const remaining = bytes.length & 3;
  if (remaining > 0) {
    let rest = 0;
    for (let i = remaining - 1; i >= 0; i--) rest = (rest << 8) | bytes[tail + i]!;
    h ^= scramble(rest);
  }
  h ^= bytes.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function scramble(k: number): number {
  return Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** 0..9999; the salt differs per rollout so each rollout samples a fresh set of keys. */
export function bucketOf(routingKey: string, salt: string): number {
  return murmur3(`${salt}:${routingKey}`) % BUCKET_COUNT;
}

/** `percent` is 0..100 with up to two decimals (pkg_deployments.canary_percent); 0 means off. */
export function routesToCandidate(routingKey: string, salt: string, percent: number): boolean {
  return percent > 0 && bucketOf(routingKey, salt) < Math.round(percent * 100);
}
