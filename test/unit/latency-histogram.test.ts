import fc from 'fast-check';
import {
  LATENCY_BOUNDS_US,
  LATENCY_BUCKET_COUNT,
  emptyHistogram,
  latencyBucketIndex,
  mergeHistograms,
  percentileFromHistogram,
  shiftHistogram,
} from '../../policy/rollout/latency-histogram';

test('bounds rise strictly, start at a few µs and reach past one second', () => {
  LATENCY_BOUNDS_US.slice(1).forEach((bound, i) => expect(bound).toBeGreaterThan(LATENCY_BOUNDS_US[i]!));
  expect(LATENCY_BOUNDS_US[0]).toBeLessThanOrEqual(2);
  expect(LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1]).toBeGreaterThan(1_000_000);
});

test('between 10 µs and 1 s adjacent bounds are at most 25% apart', () => {
  LATENCY_BOUNDS_US.forEach((bound, i) => {
    const next = LATENCY_BOUNDS_US[i + 1];
    if (next !== undefined && bound >= 10 && bound <= 1_000_000) expect(next / bound).toBeLessThanOrEqual(1.25);
  });
});

test('a sample lands in the first bucket whose bound covers it', () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 10_000_000, noNaN: true }), (micros) => {
      const i = latencyBucketIndex(micros);
      if (i < LATENCY_BOUNDS_US.length) expect(LATENCY_BOUNDS_US[i]).toBeGreaterThanOrEqual(micros);
      else expect(micros).toBeGreaterThan(LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1]!);
      if (i > 0) expect(LATENCY_BOUNDS_US[i - 1]).toBeLessThan(micros);
    }),
  );
});

test('the percentile of recorded samples lies in the bucket that holds the true percentile', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 2_000_000 }), { minLength: 1, maxLength: 400 }), (samples) => {
      const counts = emptyHistogram();
      samples.forEach((s) => counts[latencyBucketIndex(s)]!++);
      const sorted = [...samples].sort((a, b) => a - b);
      const truth = sorted[Math.ceil(0.99 * sorted.length) - 1]!;
      const estimate = percentileFromHistogram(counts, 0.99)!;
      const i = latencyBucketIndex(truth);
      expect(estimate).toBeLessThanOrEqual(LATENCY_BOUNDS_US[i]!);
      expect(estimate).toBeGreaterThanOrEqual(i === 0 ? 0 : LATENCY_BOUNDS_US[i - 1]!);
    }),
  );
});

test('no samples → null; overflow samples report the largest bound', () => {
  expect(percentileFromHistogram(emptyHistogram(), 0.99)).toBeNull();
  const counts = emptyHistogram();
  counts[LATENCY_BUCKET_COUNT - 1] = 5;
  expect(percentileFromHistogram(counts, 0.99)).toBe(LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1]);
});

test('merging adds counts slot by slot', () => {
  const a = emptyHistogram();
  const b = emptyHistogram();
  a[3] = 2;
  b[3] = 5;
  b[10] = 1;
  const merged = mergeHistograms(a, b);
  expect(merged[3]).toBe(7);
  expect(merged[10]).toBe(1);
  expect(merged).toHaveLength(LATENCY_BUCKET_COUNT);
});

test('shifting a histogram moves every sample by the slack, to within half a bucket; 0 changes nothing', () => {
  const counts = emptyHistogram();
  counts[latencyBucketIndex(10)] = 5;
  counts[latencyBucketIndex(5_000)] = 7;
  counts[LATENCY_BUCKET_COUNT - 1] = 2;
  expect(shiftHistogram(counts, 0)).toEqual(counts);
  const shifted = shiftHistogram(counts, 2_000);
  expect(shifted[latencyBucketIndex(2_010)]).toBe(5);
  expect(shifted[latencyBucketIndex(7_000)]).toBe(7);
  expect(shifted[LATENCY_BUCKET_COUNT - 1]).toBe(2);
  expect(shifted.reduce((a, b) => a + b, 0)).toBe(14);
});
