import fc from 'fast-check';
import {
  actionFor,
  judgeStep,
  stepAction,
  type JudgeInput,
  type StepVerdict,
  type VersionMetrics,
} from '../../policy/rollout/gates';
import { emptyHistogram, latencyBucketIndex, percentileFromHistogram } from '../../policy/rollout/latency-histogram';
import { rolloutConfigFor, type GateConfig } from '../../policy/rollout/config';

const gates = rolloutConfigFor('dev', { gates: { max_error_rate: 0.01, max_divergence: 0.1 } }).gates;

function metrics(requests: number, errors: number, micros = 50, compared = 100, diverged = 0): VersionMetrics {
  const latencyBuckets = emptyHistogram();
  latencyBuckets[latencyBucketIndex(micros)] = requests;
  return { requests, errors, latencyBuckets, shadow: { compared, diverged } };
}

function input(overrides: Partial<JudgeInput>): JudgeInput {
  return {
    step: 1,
    stepCount: 4,
    percent: 10,
    candidate: metrics(1000, 2),
    baseline: metrics(20_000, 40),
    coverage: { evaluators: 2, serving: 2 },
    gates,
    ...overrides,
  };
}

const gate = (verdict: ReturnType<typeof judgeStep>, name: string) => verdict.checks.find((c) => c.gate === name);

test('a healthy candidate passes every check and says so with its numbers', () => {
  const verdict = judgeStep(input({}));
  expect(verdict.verdict).toBe('pass');
  expect(verdict.baseline).toBe('compared');
  expect(verdict.checks.every((c) => c.verdict === 'pass')).toBe(true);
  expect(verdict.message).toMatch(/^step 2\/4 \(10%\) passed: 1000 candidate requests ≥ 200; error rate 0\.2% ≤ 1%/);
});

test('too few requests → inconclusive, never pass', () => {
  const verdict = judgeStep(input({ candidate: metrics(50, 0) }));
  expect(verdict.verdict).toBe('inconclusive');
  expect(verdict.message).toContain('only 50 candidate requests (need 200)');
});

test('no traffic at all → inconclusive', () => {
  const verdict = judgeStep(input({ candidate: metrics(0, 0, 50, 0), baseline: metrics(0, 0, 50, 0) }));
  expect(verdict.verdict).toBe('inconclusive');
});

test('errors that already break the budget of the minimum sample fail before min samples', () => {
  const verdict = judgeStep(input({ candidate: metrics(30, 10) }));
  expect(verdict.verdict).toBe('fail');
  expect(gate(verdict, 'error_rate')?.message).toContain('10 errors already exceed budget 1% of 200 requests');
});

test('an error rate over the budget fails with rate and budget in the message', () => {
  const verdict = judgeStep(input({ candidate: metrics(1000, 50) }));
  expect(verdict.verdict).toBe('fail');
  expect(gate(verdict, 'error_rate')).toMatchObject({ verdict: 'fail', value: 0.05, limit: 0.01 });
  expect(verdict.message).toContain('error rate 5% > budget 1%');
});

/**
 * Expected p-values and effects were computed independently with SciPy 1.17.1:
 * scipy.stats.fisher_exact([[ec, nc - ec], [eb, nb - eb]], alternative='greater').pvalue and
 * scipy.stats.mannwhitneyu(x, y, alternative='greater', method='asymptotic') on the histograms
 * expanded to one sample per count (statistic / (len(x)·len(y)) for the effect); see statistics.test.ts.
 */
const closeTo = (actual: number | null | undefined, expected: number) =>
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-9);
const withGates = (changes: Partial<GateConfig>): GateConfig => ({ ...gates, ...changes });

test('within budget but significantly worse than the baseline fails Fisher, with its p-value', () => {
  const verdict = judgeStep(input({ candidate: metrics(5000, 45), baseline: metrics(50_000, 50) }));
  expect(gate(verdict, 'error_rate')?.verdict).toBe('pass');
  const check = gate(verdict, 'error_rate_vs_baseline')!;
  expect(check).toMatchObject({ verdict: 'fail', limit: 0.05, stats: { test: 'fisher', effect: 0.009 - 0.001 } });
  closeTo(check.stats!.pValue, 3.2254253062390455e-22);
  expect(check.value).toBe(check.stats!.pValue);
  expect(verdict.verdict).toBe('fail');
  expect(verdict.message).toContain(
    'error rate 0.9% significantly worse than baseline 0.1% (Fisher p=3.2e-22 < α 0.05)',
  );
});

test('one error in 2000 against none in 20000 passes: Fisher p 0.091 (the old z-test said p 0.0008 and rolled back)', () => {
  const verdict = judgeStep(input({ candidate: metrics(2000, 1), baseline: metrics(20_000, 0) }));
  const check = gate(verdict, 'error_rate_vs_baseline')!;
  expect(check.verdict).toBe('pass');
  closeTo(check.stats!.pValue, 0.09090909090909091);
  expect(check.message).toBe('error rate 0.05% vs baseline 0% (Fisher p=0.091)');
  expect(verdict.verdict).toBe('pass');
});

test('the issue case: 3 errors in 200 against none in 2000 is still significantly worse (p 0.00074)', () => {
  const verdict = judgeStep(
    input({ candidate: metrics(200, 3), baseline: metrics(2000, 0), gates: withGates({ maxErrorRate: 0.02 }) }),
  );
  const check = gate(verdict, 'error_rate_vs_baseline')!;
  expect(check.verdict).toBe('fail');
  closeTo(check.stats!.pValue, 0.0007410929196454175);
});

test('3 errors in 200 against 10 in 2000: Fisher p 0.107 passes where the z-test (p 0.039) failed; α decides', () => {
  const judged = (alpha: number) =>
    gate(
      judgeStep(
        input({
          candidate: metrics(200, 3),
          baseline: metrics(2000, 10),
          gates: withGates({ maxErrorRate: 0.02, alpha }),
        }),
      ),
      'error_rate_vs_baseline',
    )!;
  expect(judged(0.05).verdict).toBe('pass');
  closeTo(judged(0.05).stats!.pValue, 0.10726605382035191);
  // A larger alpha fails on weaker evidence: that is why alpha only grows when layers merge.
  expect(judged(0.2)).toMatchObject({ verdict: 'fail', limit: 0.2 });
});

/** Metrics whose latency histogram is {bucket index: count}, every request a success. */
function timed(counts: Record<number, number>): VersionMetrics {
  const latencyBuckets = emptyHistogram();
  for (const [index, n] of Object.entries(counts)) latencyBuckets[Number(index)] = n;
  const requests = latencyBuckets.reduce((sum, n) => sum + n, 0);
  return { requests, errors: 0, latencyBuckets, shadow: { compared: 100, diverged: 0 } };
}

const BASELINE_LATENCY = { 24: 100, 25: 300, 26: 400, 27: 150, 28: 40, 32: 10 };
// scipy's values hold for the histograms as they are: these comparisons add no slack to the baseline.
const noSlack = withGates({ latencySlackMs: 0 });
const latencyVerdict = (candidate: VersionMetrics, baseline: VersionMetrics, config = noSlack) =>
  judgeStep(input({ candidate, baseline, gates: config }));

test('a body slower by a bucket or two under the same tail passes p99 but fails both distribution checks', () => {
  const candidate = timed({ 26: 150, 27: 400, 28: 330, 29: 110, 32: 10 });
  const baseline = timed(BASELINE_LATENCY);
  const p99s = [candidate, baseline].map((m) => percentileFromHistogram(m.latencyBuckets, 0.99)!);
  expect(p99s[0]! / p99s[1]!).toBeLessThan(gates.p99Factor);
  const verdict = latencyVerdict(candidate, baseline);
  expect(gate(verdict, 'p99')?.verdict).toBe('pass');
  const check = gate(verdict, 'latency_vs_baseline')!;
  expect(check).toMatchObject({ verdict: 'fail', limit: 0.64, stats: { test: 'mann_whitney' } });
  closeTo(check.stats!.pValue, 8.79868710599129e-200);
  closeTo(check.stats!.effect, 0.87895);
  expect(check.value).toBe(check.stats!.effect);
  const exceedance = gate(verdict, 'latency_exceedance_vs_baseline')!;
  expect(exceedance).toMatchObject({ verdict: 'fail', limit: 0.2, stats: { test: 'kolmogorov_smirnov' } });
  closeTo(exceedance.stats!.pValue, 1.691570032367327e-184);
  closeTo(exceedance.stats!.effect, 0.65);
  expect(verdict.verdict).toBe('fail');
  expect(verdict.message).toContain(
    'latency slower than baseline + 0ms: P(candidate slower) 0.879 > 0.64 (Mann–Whitney p=8.8e-200 < α 0.05)',
  );
});

test('a significant but tiny latency shift in a huge sample is within both tolerances and passes', () => {
  const candidate = timed({ 24: 8000, 25: 32000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 });
  const baseline = timed({ 24: 10000, 25: 30000, 26: 40000, 27: 15000, 28: 4000, 32: 1000 });
  const verdict = latencyVerdict(candidate, baseline);
  const check = gate(verdict, 'latency_vs_baseline')!;
  expect(check.verdict).toBe('pass');
  closeTo(check.stats!.pValue, 0.0005525938398779354);
  closeTo(check.stats!.effect, 0.504);
  expect(check.message).toBe('latency vs baseline + 0ms: P(candidate slower) 0.504 ≤ 0.64 (Mann–Whitney p=0.00055)');
  const exceedance = gate(verdict, 'latency_exceedance_vs_baseline')!;
  expect(exceedance.verdict).toBe('pass');
  closeTo(exceedance.stats!.pValue, 4.164231204773822e-18);
  expect(exceedance.message).toMatch(/^2% more candidate requests than baseline \+ 0ms slower than [\d.]+ms ≤ 20% /);
});

test('a large latency effect on too little evidence is not significant and passes, saying so', () => {
  const candidate = timed({ 26: 2, 27: 2 });
  const baseline = timed({ 25: 1, 26: 3 });
  const check = gate(
    latencyVerdict(candidate, baseline, withGates({ minRequests: 4, latencySlackMs: 0 })),
    'latency_vs_baseline',
  )!;
  expect(check.verdict).toBe('pass');
  expect(check.stats!.effect).toBe(13 / 16);
  expect(check.stats!.pValue).toBeGreaterThan(0.05);
  expect(check.message).toContain('> 0.64 but not significant');
});

test('a wider spread around the same median: Mann–Whitney (a location test) passes it, the exceedance check fails it', () => {
  const candidate = timed({ 25: 250, 26: 500, 27: 250 });
  const baseline = timed({ 26: 1000 });
  const verdict = latencyVerdict(candidate, baseline);
  expect(gate(verdict, 'p99')?.verdict).toBe('pass');
  const check = gate(verdict, 'latency_vs_baseline')!;
  expect(check.verdict).toBe('pass');
  closeTo(check.stats!.pValue, 0.5000203848917552);
  expect(check.stats!.effect).toBe(0.5);
  const exceedance = gate(verdict, 'latency_exceedance_vs_baseline')!;
  expect(exceedance.verdict).toBe('fail');
  closeTo(exceedance.stats!.pValue, 5.597850046927003e-28);
  closeTo(exceedance.stats!.effect, 0.25);
  expect(exceedance.message).toMatch(
    /^25% more candidate requests than baseline \+ 0ms slower than [\d.]+ms > 20% \(Kolmogorov–Smirnov p=5\.6e-28 < α 0\.05\)$/,
  );
});

test('latency_slack_ms: a candidate several times slower at microseconds passes, a body 10 ms slower fails', () => {
  const at = (micros: number) => timed({ [latencyBucketIndex(micros)]: 1000 });
  const micro = latencyVerdict(at(40), at(10), gates);
  expect(gate(micro, 'latency_vs_baseline')?.verdict).toBe('pass');
  expect(gate(micro, 'latency_exceedance_vs_baseline')?.verdict).toBe('pass');
  expect(gate(micro, 'latency_vs_baseline')?.message).toContain('latency vs baseline + 2ms: P(candidate slower) 0 ≤');
  const strict = latencyVerdict(at(40), at(10));
  expect(gate(strict, 'latency_vs_baseline')?.verdict).toBe('fail');
  // A body 10 ms slower under the same 2% tail at 40 ms: p99 sees nothing.
  const bodyAt = (micros: number) => timed({ [latencyBucketIndex(micros)]: 980, [latencyBucketIndex(40_000)]: 20 });
  const milli = latencyVerdict(bodyAt(20_000), bodyAt(10_000), gates);
  expect(gate(milli, 'p99')?.verdict).toBe('pass');
  expect(gate(milli, 'latency_vs_baseline')?.verdict).toBe('fail');
  expect(gate(milli, 'latency_exceedance_vs_baseline')?.verdict).toBe('fail');
});

test('latency samples short of min_requests on either side leave both comparisons inconclusive', () => {
  const candidate = { ...metrics(1000, 0), latencyBuckets: timed({ 26: 150 }).latencyBuckets };
  const verdict = judgeStep(input({ candidate }));
  expect(gate(verdict, 'latency_vs_baseline')).toMatchObject({ verdict: 'inconclusive', value: null, limit: 0.64 });
  expect(gate(verdict, 'latency_exceedance_vs_baseline')).toMatchObject({ verdict: 'inconclusive', limit: 0.2 });
  expect(gate(verdict, 'latency_vs_baseline')?.message).toBe('only 150 latency samples to compare (need 200)');
});

test('p99 above baseline × factor + slack fails; within passes', () => {
  const slow = judgeStep(input({ candidate: metrics(1000, 0, 20_000), baseline: metrics(20_000, 0, 5_000) }));
  expect(gate(slow, 'p99')?.verdict).toBe('fail');
  const ok = judgeStep(input({ candidate: metrics(1000, 0, 6_000), baseline: metrics(20_000, 0, 5_000) }));
  expect(gate(ok, 'p99')?.verdict).toBe('pass');
});

test('divergence over the declared budget fails', () => {
  const verdict = judgeStep(input({ candidate: metrics(1000, 0, 50, 200, 40) }));
  expect(gate(verdict, 'divergence')).toMatchObject({ verdict: 'fail', value: 0.2, limit: 0.1 });
});

test('coverage short of 100% or no evaluators → inconclusive', () => {
  expect(judgeStep(input({ coverage: { evaluators: 3, serving: 2 } })).verdict).toBe('inconclusive');
  expect(judgeStep(input({ coverage: { evaluators: 0, serving: 0 } })).verdict).toBe('inconclusive');
});

test('first promotion: no baseline, comparisons skipped and the verdict says so', () => {
  const verdict = judgeStep(input({ baseline: null, candidate: metrics(1000, 0, 50, 0) }));
  expect(verdict.verdict).toBe('pass');
  expect(verdict.baseline).toBe('none');
  expect(gate(verdict, 'error_rate_vs_baseline')).toBeUndefined();
  expect(gate(verdict, 'latency_vs_baseline')).toBeUndefined();
  expect(gate(verdict, 'latency_exceedance_vs_baseline')).toBeUndefined();
  expect(gate(verdict, 'divergence')).toBeUndefined();
  expect(verdict.message).toContain('no baseline (first promotion of this lane)');
});

test('a quiet baseline (e.g. the 100% step) skips comparisons but keeps absolute budgets', () => {
  const verdict = judgeStep(input({ baseline: metrics(3, 0), candidate: metrics(1000, 50) }));
  expect(verdict.baseline).toBe('quiet');
  expect(verdict.verdict).toBe('fail');
});

const metricsArb = fc
  .record({
    requests: fc.nat(5000),
    errors: fc.nat(5000),
    micros: fc.integer({ min: 1, max: 2_000_000 }),
    compared: fc.nat(500),
    diverged: fc.nat(500),
  })
  .map(({ requests, errors, micros, compared, diverged }) =>
    metrics(requests, Math.min(errors, requests), micros, compared, Math.min(diverged, compared)),
  );

test('property: the worst check decides, and pass needs min samples', () => {
  fc.assert(
    fc.property(metricsArb, fc.option(metricsArb), (candidate, baseline) => {
      const verdict = judgeStep(input({ candidate, baseline }));
      const verdicts = verdict.checks.map((c) => c.verdict);
      if (verdicts.includes('fail')) expect(verdict.verdict).toBe('fail');
      else if (verdicts.includes('inconclusive')) expect(verdict.verdict).toBe('inconclusive');
      else expect(verdict.verdict).toBe('pass');
      if (verdict.verdict === 'pass') expect(candidate.requests).toBeGreaterThanOrEqual(gates.minRequests);
    }),
  );
});

test('a verdict maps to one action: inconclusive extends until the budget of extensions is spent', () => {
  expect(actionFor('pass', 0, 2)).toBe('advance');
  expect(actionFor('inconclusive', 1, 2)).toBe('extend');
  expect(actionFor('inconclusive', 2, 2)).toBe('rollback');
  expect(actionFor('fail', 0, 2)).toBe('rollback');
});

test('a rollback carries its reason: the failed verdict message, or the exhausted extensions', () => {
  const verdict = (v: StepVerdict['verdict']): StepVerdict => ({
    step: 0,
    stepCount: 2,
    percent: 5,
    verdict: v,
    baseline: 'compared',
    checks: [],
    message: `step 1/2 (5%) ${v}`,
  });
  expect(stepAction(verdict('pass'), 0, 1)).toEqual({ kind: 'advance' });
  expect(stepAction(verdict('inconclusive'), 0, 1)).toEqual({ kind: 'extend' });
  expect(stepAction(verdict('inconclusive'), 1, 1)).toEqual({
    kind: 'rollback',
    reason: 'still inconclusive after 1 extension(s): step 1/2 (5%) inconclusive',
  });
  expect(stepAction(verdict('fail'), 0, 1)).toEqual({ kind: 'rollback', reason: 'step 1/2 (5%) fail' });
});
