import fc from 'fast-check';
import { BUCKET_COUNT, bucketOf, murmur3, routesToCandidate } from '../../policy/canary/bucketing';

test('murmur3 matches the published x86 32-bit reference vectors', () => {
  expect(murmur3('', 0)).toBe(0);
  expect(murmur3('', 1)).toBe(0x514e28b7);
  expect(murmur3('a', 0x9747b28c)).toBe(0x7fa09ea6);
  expect(murmur3('abc', 0x9747b28c)).toBe(0xc84a62dd);
  expect(murmur3('abcd', 0x9747b28c)).toBe(0xf0478627);
  expect(murmur3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
  expect(murmur3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
});

test('a bucket is an integer in 0..9999 and the same key and salt always land in the same one', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (key, salt) => {
      const bucket = bucketOf(key, salt);
      expect(Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKET_COUNT).toBe(true);
      expect(bucketOf(key, salt)).toBe(bucket);
    }),
  );
});

const percent = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);

test('monotonic: a key on the candidate at p stays on it at every q ≥ p', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), percent, percent, (key, salt, a, b) => {
      const [p, q] = a <= b ? [a, b] : [b, a];
      if (routesToCandidate(key, salt, p)) expect(routesToCandidate(key, salt, q)).toBe(true);
    }),
  );
});

test('0% routes nothing to the candidate and 100% routes everything', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (key, salt) => {
      expect(routesToCandidate(key, salt, 0)).toBe(false);
      expect(routesToCandidate(key, salt, 100)).toBe(true);
    }),
  );
});

test('two-decimal percents map to whole bucket counts despite float error (1.1% = 110 buckets)', () => {
  const keys = Array.from({ length: 200_000 }, (_, i) => `k${i}`);
  const bucketHits = new Set(keys.filter((k) => routesToCandidate(k, 's', 1.1)).map((k) => bucketOf(k, 's')));
  expect(Math.max(...bucketHits)).toBe(109);
});

test('10% of 20,000 distinct keys route to the candidate within ±1%, and a new salt picks other keys', () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `guest:${i}`);
  const first = keys.filter((k) => routesToCandidate(k, 'rollout-a', 10));
  const second = keys.filter((k) => routesToCandidate(k, 'rollout-b', 10));
  expect(first.length / keys.length).toBeGreaterThan(0.09);
  expect(first.length / keys.length).toBeLessThan(0.11);
  const overlap = second.filter((k) => first.includes(k)).length;
  expect(overlap / first.length).toBeLessThan(0.2);
});
