import fc from 'fast-check';
import {
  actionFor,
  errorRateZ,
  judgeStep,
  stepAction,
  type JudgeInput,
  type StepVerdict,
  type VersionMetrics,
} from '../../policy/rollout/gates';
import { emptyHistogram, latencyBucketIndex } from '../../policy/rollout/latency-histogram';
import { rolloutConfigFor } from '../../policy/rollout/config';

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

test('within budget but significantly worse than the baseline fails the two-proportion test', () => {
  const verdict = judgeStep(input({ candidate: metrics(5000, 45), baseline: metrics(50_000, 50) }));
  expect(gate(verdict, 'error_rate')?.verdict).toBe('pass');
  expect(gate(verdict, 'error_rate_vs_baseline')?.verdict).toBe('fail');
  expect(verdict.verdict).toBe('fail');
});

test('the z statistic is 0 for equal rates and grows with the gap', () => {
  expect(errorRateZ(metrics(1000, 10), metrics(1000, 10))).toBe(0);
  expect(errorRateZ(metrics(1000, 0), metrics(1000, 0))).toBe(0);
  expect(errorRateZ(metrics(1000, 30), metrics(1000, 10))).toBeGreaterThan(
    errorRateZ(metrics(1000, 20), metrics(1000, 10)),
  );
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
