import fc from 'fast-check';
import {
  fisherExactGreater,
  kolmogorovSmirnovGreater,
  mannWhitneyGreater,
  normalUpperTail,
} from '../../policy/rollout/statistics';

/**
 * Reference values computed independently with SciPy 1.17.1 (NumPy 2.4.6), Python 3.11:
 * - scipy.stats.fisher_exact([[ec, nc - ec], [eb, nb - eb]], alternative='greater').pvalue
 * - scipy.stats.mannwhitneyu(x, y, alternative='greater', method='asymptotic', use_continuity=True),
 *   x and y the histograms expanded to one sample per count (value = bucket index); the effect is
 *   statistic / (len(x) · len(y))
 * - scipy.stats.ks_2samp(x, y, alternative='less', method='asymp') (x, y as above): 'less' is
 *   scipy's name for "x's CDF lies below y's somewhere", i.e. x has more samples above some value
 * - scipy.stats.norm.sf(z)
 * "z-test" is the pooled one-sided two-proportion z-test the judge used before, p = norm.sf(z).
 */
const closeTo = (actual: number, expected: number, relative = 1e-9) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * relative);

const counts = (errors: number, requests: number) => ({ errors, requests });

test.each([
  // candidate errors/requests, baseline errors/requests, scipy p, (z-test p where it misleads)
  [3, 200, 0, 2000, 0.0007410929196454175], // z-test p 2.1e-8
  [1, 200, 0, 2000, 0.09090909090909091], // z-test p 0.00078: one error would have failed the step
  [1, 2000, 0, 20000, 0.09090909090909091], // z-test p 0.00078
  [2, 200, 0, 2000, 0.008226879986770847],
  [3, 200, 10, 2000, 0.10726605382035191], // z-test p 0.039: fails at α 0.05, Fisher does not
  [4, 1000, 1, 10000, 0.0003150349531733469],
  [45, 5000, 50, 50000, 3.2254253062390455e-22],
  [10, 1000, 10, 1000, 0.5885422383037667],
  [1200, 100_000, 10_000, 1_000_000, 2.498621043949249e-9], // large counts: nothing overflows
  [0, 200, 5, 2000, 1],
])('Fisher one-sided: %i/%i vs %i/%i → p = scipy %p', (ec, nc, eb, nb, expected) => {
  closeTo(fisherExactGreater(counts(ec, nc), counts(eb, nb)), expected);
});

test('Fisher without any error anywhere is p = 1', () => {
  expect(fisherExactGreater(counts(0, 500), counts(0, 5000))).toBe(1);
});

test.each([
  [-3, 0.9986501019683699],
  [-1, 0.8413447460685429],
  [0, 0.5],
  [0.5, 0.3085375387259869],
  [1, 0.15865525393145707],
  [1.6448536269514722, 0.050000000000000044],
  [2, 0.022750131948179195],
  [2.5, 0.006209665325776132],
  [3, 0.0013498980316300933],
  [5, 2.866515718791933e-7],
  [8, 6.22096057427174e-16],
  [12, 1.776482112077653e-33],
  [20, 2.7536241186061556e-89],
  [30, 4.906713927147908e-198],
])('normal upper tail at %p = scipy norm.sf', (z, expected) => {
  closeTo(normalUpperTail(z), expected, 1e-12);
});

/** A histogram from {bucket index: count}. */
function histogram(counts: Record<number, number>): number[] {
  const buckets = new Array<number>(90).fill(0);
  for (const [index, n] of Object.entries(counts)) buckets[Number(index)] = n;
  return buckets;
}

const BASELINE = { 24: 100, 25: 300, 26: 400, 27: 150, 28: 40, 32: 10 };

test.each([
  [
    'the body moved up a bucket or two',
    { 26: 150, 27: 400, 28: 330, 29: 110, 32: 10 },
    BASELINE,
    8.79868710599129e-200,
    0.87895,
  ],
  ['identical', BASELINE, BASELINE, 0.5000162415848332, 0.5],
  ['faster', { 24: 400, 25: 400, 26: 200 }, BASELINE, 1, 0.24],
  ['wider around the same median', { 25: 250, 26: 500, 27: 250 }, { 26: 1000 }, 0.5000203848917552, 0.5],
  [
    'a tiny shift in a huge sample',
    { 24: 8000, 25: 32000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 },
    { 24: 10000, 25: 30000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 },
    0.0005525938398779354,
    0.504,
  ],
  ['in the overflow slot', { 84: 700, 85: 300 }, { 84: 1000 }, 5.3036459073994534e-79, 0.65],
])('Mann–Whitney one-sided, %s: p and effect = scipy', (_, candidate, baseline, pValue, superiority) => {
  const result = mannWhitneyGreater(histogram(candidate), histogram(baseline))!;
  closeTo(result.pValue, pValue);
  closeTo(result.superiority, superiority, 1e-12);
});

test('Mann–Whitney needs samples on both sides, and all-tied samples are no evidence', () => {
  expect(mannWhitneyGreater(histogram({}), histogram(BASELINE))).toBeNull();
  expect(mannWhitneyGreater(histogram(BASELINE), histogram({}))).toBeNull();
  expect(mannWhitneyGreater(histogram({ 30: 500 }), histogram({ 30: 800 }))).toEqual({ pValue: 1, superiority: 0.5 });
});

test('Fisher over a support of 50,000 terms stays finite and matches scipy', () => {
  const half = counts(50_000, 100_000);
  closeTo(fisherExactGreater(half, half), 0.501784117419027);
  expect(fisherExactGreater(counts(1_000_000, 1_000_000), counts(0, 1_000_000))).toBe(0);
});

test.each([
  [
    'the body moved up a bucket or two',
    { 26: 150, 27: 400, 28: 330, 29: 110, 32: 10 },
    BASELINE,
    1.691570032367327e-184,
    0.65,
    26,
  ],
  ['identical', BASELINE, BASELINE, 1, 0, -1],
  ['faster', { 24: 400, 25: 400, 26: 200 }, BASELINE, 1, 0, -1],
  ['wider around the same median', { 25: 250, 26: 500, 27: 250 }, { 26: 1000 }, 5.597850046927003e-28, 0.25, 26],
  [
    'a tiny shift in a huge sample',
    { 24: 8000, 25: 32000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 },
    { 24: 10000, 25: 30000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 },
    4.164231204773822e-18,
    0.02,
    24,
  ],
  [
    'a slightly heavier tail',
    { 24: 100, 25: 300, 26: 400, 27: 100, 28: 50, 29: 40, 32: 10 },
    BASELINE,
    0.07808166600115368,
    0.05,
    27,
  ],
  ['in the overflow slot', { 84: 700, 85: 300 }, { 84: 1000 }, 6.070273852348033e-40, 0.3, 84],
])('Kolmogorov–Smirnov one-sided, %s: p and excess = scipy', (_, candidate, baseline, pValue, excess, bucket) => {
  const result = kolmogorovSmirnovGreater(histogram(candidate), histogram(baseline))!;
  closeTo(result.pValue, pValue);
  closeTo(result.excess, excess, 1e-12);
  expect(result.bucket).toBe(bucket);
});

test('Kolmogorov–Smirnov needs samples on both sides', () => {
  expect(kolmogorovSmirnovGreater(histogram({}), histogram(BASELINE))).toBeNull();
  expect(kolmogorovSmirnovGreater(histogram(BASELINE), histogram({}))).toBeNull();
});

const countsArb = fc
  .record({ requests: fc.integer({ min: 1, max: 3000 }), errors: fc.nat(3000) })
  .map(({ requests, errors }) => counts(Math.min(errors, requests), requests));

test('property: a Fisher p-value is a probability, and one more candidate error never raises it', () => {
  fc.assert(
    fc.property(countsArb, countsArb, (candidate, baseline) => {
      const p = fisherExactGreater(candidate, baseline);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      if (candidate.errors < candidate.requests) {
        const worse = fisherExactGreater(counts(candidate.errors + 1, candidate.requests), baseline);
        expect(worse).toBeLessThanOrEqual(p * (1 + 1e-9));
      }
    }),
  );
});

const histogramArb = fc.array(fc.nat(50), { minLength: 12, maxLength: 12 }).filter((h) => h.some((n) => n > 0));

test('property: moving candidate samples to a slower bucket never lowers the effects nor raises the KS p-value', () => {
  fc.assert(
    fc.property(histogramArb, histogramArb, fc.nat(10), (candidate, baseline, from) => {
      const slower = [...candidate];
      const moved = slower[from]!;
      slower[from] = 0;
      slower[from + 1] = slower[from + 1]! + moved;
      const [before, after] = [candidate, slower].map((h) => mannWhitneyGreater(h, baseline)!);
      const [ksBefore, ksAfter] = [candidate, slower].map((h) => kolmogorovSmirnovGreater(h, baseline)!);
      for (const result of [before!, after!]) {
        expect(result.superiority).toBeGreaterThanOrEqual(0);
        expect(result.superiority).toBeLessThanOrEqual(1);
        expect(result.pValue).toBeLessThanOrEqual(1);
      }
      expect(after!.superiority).toBeGreaterThanOrEqual(before!.superiority - 1e-12);
      // Not the Mann–Whitney p-value: when U stays put, the tie correction alone moves it (by ~1e-8).
      expect(ksAfter!.excess).toBeGreaterThanOrEqual(ksBefore!.excess - 1e-12);
      expect(ksAfter!.pValue).toBeLessThanOrEqual(ksBefore!.pValue + 1e-12);
    }),
    { numRuns: 2000 },
  );
});
