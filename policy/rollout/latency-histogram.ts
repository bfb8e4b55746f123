/**
 * Latency histogram shared by the evaluator (records) and the gate (reads p99). Bounds are upper
 * bounds in microseconds, log-spaced at 2^(1/4) (~19% apart) from 2 µs to ~4.2 s, so a p99 anywhere
 * between ~10 µs and 1 s is resolved to within a bucket's width. counts has one more slot than
 * LATENCY_BOUNDS_US: the last one counts samples above the largest bound.
 */
const STEPS_PER_DOUBLING = 4;
const SMALLEST_BOUND_US = 2;
const DOUBLINGS = 21;

export const LATENCY_BOUNDS_US: readonly number[] = Object.freeze(
  Array.from(
    new Set(
      Array.from({ length: DOUBLINGS * STEPS_PER_DOUBLING + 1 }, (_, i) =>
        Math.round(SMALLEST_BOUND_US * 2 ** (i / STEPS_PER_DOUBLING)),
      ),
    ),
  ),
);

export const LATENCY_BUCKET_COUNT = LATENCY_BOUNDS_US.length + 1;

/** Index of the bucket a sample falls in: the first bound ≥ the sample, else the overflow slot. */
export function latencyBucketIndex(micros: number): number {
  let low = 0;
  let high = LATENCY_BOUNDS_US.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (LATENCY_BOUNDS_US[mid]! >= micros) high = mid;
    else low = mid + 1;
  }
  return low;
}

export function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
}

/** Element-wise sum; shorter inputs count as zeros in their missing slots. */
export function mergeHistograms(...histograms: readonly (readonly number[])[]): number[] {
  const merged = emptyHistogram();
  for (const counts of histograms) counts.forEach((n, i) => (merged[i] = (merged[i] ?? 0) + n));
  return merged;
}

/**
 * The histogram with every sample `micros` slower. A bucket's samples move together, as from the
 * bucket's midpoint, so a shifted sample lands within half a bucket (~10%) of where it would;
 * the overflow slot stays where it is. 0 µs changes nothing.
 */
export function shiftHistogram(counts: readonly number[], micros: number): number[] {
  const shifted = emptyHistogram();
  counts.forEach((n, i) => {
    if (n === 0) return;
    const upper = LATENCY_BOUNDS_US[i];
    const lower = i === 0 ? 0 : LATENCY_BOUNDS_US[i - 1]!;
    const target = upper === undefined || micros === 0 ? i : latencyBucketIndex((lower + upper) / 2 + micros);
    shifted[target] = shifted[target]! + n;
  });
  return shifted;
}

/**
 * The q-quantile (0 < q ≤ 1) in µs, linearly interpolated inside its bucket; null without samples.
 * A quantile in the overflow slot is reported as the largest bound (a lower bound of the truth).
 */
export function percentileFromHistogram(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n > 0 && seen + n >= rank) {
      if (i >= LATENCY_BOUNDS_US.length) return LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_US[i - 1]!;
      const upper = LATENCY_BOUNDS_US[i]!;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1]!;
}
