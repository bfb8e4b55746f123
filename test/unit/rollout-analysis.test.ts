import fc from 'fast-check';
import { pkgErrorOf } from '../support/pkg-error';
import {
  GLOBAL_ROLLOUT_DEFAULTS,
  mergeRolloutConfig,
  rolloutConfigFor,
  rolloutOverridesSchema,
  type RolloutOverrides,
} from '../../policy/rollout/config';
import type { AnalysisMetric } from '../../policy/rollout/analysis';
import {
  judgeAnalysis,
  judgeAnalysisMetric,
  renderQuery,
  type AnalysisReading,
  type QueryOutcome,
} from '../../policy/rollout/analysis-judge';
import { judgeStep } from '../../policy/rollout/gates';
import { emptyHistogram, latencyBucketIndex } from '../../policy/rollout/latency-histogram';

const P99 = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{version="{{version}}"}[{{window}}])))';

/** An env that requires a latency metric, as ENV_ROLLOUT_DEFAULTS or an env config may. */
const envRequiringP99: RolloutOverrides = { analysis: { p99: { query: P99, max: 0.05, baseline_factor: 1.5 } } };

const configWith = (bundle: RolloutOverrides, commandLine: RolloutOverrides = {}) =>
  mergeRolloutConfig(GLOBAL_ROLLOUT_DEFAULTS, envRequiringP99, bundle, commandLine);

describe('merging rollout.analysis: safety only tightens', () => {
  test('an env-required metric reaches the plan, and a bundle adds its own beside it', () => {
    const config = configWith({
      analysis: { errors: { query: 'sum(rate(e{version="{{version}}"}[{{window}}]))', max: 1 } },
    });
    expect(config.analysis.map((m) => m.name)).toEqual(['errors', 'p99']);
    expect(config.analysis[1]).toEqual({
      name: 'p99',
      query: P99,
      max: 0.05,
      min: null,
      baselineFactor: 1.5,
      baselineSlack: 0,
      requiresBaseline: false,
    });
  });

  test('a bundle may tighten a required metric by name without repeating its query', () => {
    const config = configWith({ analysis: { p99: { max: 0.02, baseline_factor: 1.1 } } });
    expect(config.analysis[0]).toMatchObject({ query: P99, max: 0.02, baselineFactor: 1.1 });
  });

  test('loosening, re-querying or skipping a required metric is refused with each violation named', () => {
    const error = pkgErrorOf(() =>
      configWith({
        analysis: {
          p99: { query: 'vector(0)', max: 0.5, baseline_factor: 3, baseline_slack: 1, requires_baseline: true },
        },
      }),
    );
    expect(error.type).toBe('GateConfigLoosened');
    expect(error.problems.map((p) => p.path).sort()).toEqual([
      'rollout.analysis.p99.baseline_factor',
      'rollout.analysis.p99.baseline_slack',
      'rollout.analysis.p99.max',
      'rollout.analysis.p99.query',
      'rollout.analysis.p99.requires_baseline',
    ]);
    expect(error.message).toContain('bundle sets 0.5, above the budget 0.05');
    expect(error.message).toContain('bundle changes the query an earlier layer requires');
  });

  test('the command line cannot loosen what the bundle tightened; a floor only rises', () => {
    const error = pkgErrorOf(() =>
      configWith({ analysis: { rps: { query: 'vector(5)', min: 10 } } }, { analysis: { rps: { min: 2 } } }),
    );
    expect(error.problems).toEqual([
      { path: 'rollout.analysis.rps.min', message: 'command line sets 2, below the floor 10' },
    ]);
  });

  test('a metric needs a query and a condition; unknown placeholders are refused by the schema', () => {
    const error = pkgErrorOf(() =>
      rolloutConfigFor('dev', {
        analysis: { a: { max: 1 }, b: { query: 'vector(1)' }, c: { query: 'vector(1)', min: 2, max: 1 } },
      }),
    );
    expect(error.problems.map((p) => [p.path, p.message])).toEqual([
      ['rollout.analysis.a.query', 'bundle sets no query and no earlier layer defines a'],
      ['rollout.analysis.b', 'needs a condition: max, min or baseline_factor'],
      ['rollout.analysis.c', 'min 2 is above max 1: nothing could pass'],
    ]);
    const parsed = rolloutOverridesSchema.safeParse({ analysis: { a: { query: 'up{v="{{verison}}"}', max: 1 } } });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('unknown placeholder(s) {{verison}}');
  });

  test('a query using {{baseline}} requires one; saying otherwise is refused', () => {
    const ratio = 'x{v="{{candidate}}"} / x{v="{{baseline}}"}';
    expect(rolloutConfigFor('dev', { analysis: { r: { query: ratio, max: 2 } } }).analysis[0]!.requiresBaseline).toBe(
      true,
    );
    const error = pkgErrorOf(() =>
      rolloutConfigFor('dev', { analysis: { r: { query: ratio, max: 2, requires_baseline: false } } }),
    );
    expect(error.problems[0]!.path).toBe('rollout.analysis.r.requires_baseline');
  });

  test('property: whatever a bundle sets, the merged bounds are never looser than the env requires', () => {
    const bound = fc.option(fc.double({ min: 0.001, max: 10, noNaN: true }), { nil: undefined });
    fc.assert(
      fc.property(bound, bound, (max, factor) => {
        let config;
        try {
          config = configWith({ analysis: { p99: { max, baseline_factor: factor } } });
        } catch {
          return true;
        }
        const p99 = config.analysis.find((m) => m.name === 'p99')!;
        return p99.max! <= 0.05 && p99.baselineFactor! <= 1.5 && p99.query === P99;
      }),
    );
  });
});

const metric = (changes: Partial<AnalysisMetric> = {}): AnalysisMetric => ({
  name: 'p99',
  query: P99,
  max: 0.05,
  min: null,
  baselineFactor: null,
  baselineSlack: 0,
  requiresBaseline: false,
  ...changes,
});

const values = (...v: number[]): QueryOutcome => ({ ok: true, values: v });

function reading(
  candidate: QueryOutcome,
  changes: Partial<AnalysisMetric> = {},
  baseline?: QueryOutcome,
): AnalysisReading {
  return {
    metric: metric(changes),
    query: 'q{version="c"}',
    candidate,
    baseline: baseline ? { query: 'q{version="b"}', outcome: baseline } : null,
  };
}

const noNumber: [string, QueryOutcome, string][] = [
  ['no series', values(), 'no data: the query returned no series'],
  ['several series', values(0.01, 0.02), '2 series where one is needed'],
  ['NaN', values(NaN), 'the query returned NaN'],
  ['a query error', { ok: false, reason: 'bad_data: parse error' }, 'query failed: bad_data: parse error'],
];

describe('judging a metric: no number is never a pass', () => {
  test.each(noNumber)('%s → inconclusive with the reason and the query', (_, outcome, reason) => {
    const check = judgeAnalysisMetric(reading(outcome), false);
    expect(check).toMatchObject({ gate: 'analysis', name: 'p99', verdict: 'inconclusive', value: null });
    expect(check.query).toBe('q{version="c"}');
    expect(check.message).toContain(reason);
  });

  test('a value over max fails, under it passes, and under min fails; each with its number', () => {
    expect(judgeAnalysisMetric(reading(values(0.08)), false)).toMatchObject({
      verdict: 'fail',
      value: 0.08,
      limit: 0.05,
      message: 'p99 0.08 > 0.05',
    });
    expect(judgeAnalysisMetric(reading(values(0.01)), false)).toMatchObject({
      verdict: 'pass',
      message: 'p99 0.01 ≤ 0.05',
    });
    expect(judgeAnalysisMetric(reading(values(3), { max: null, min: 5 }), false)).toMatchObject({
      verdict: 'fail',
      limit: 5,
      message: 'p99 3 < 5',
    });
  });

  test('baseline_factor compares with the same query run for the baseline', () => {
    const changes = { baselineFactor: 1.5, baselineSlack: 0.001 };
    const slower = judgeAnalysisMetric(reading(values(0.02), changes, values(0.01)), true);
    expect(slower).toMatchObject({ verdict: 'fail', limit: 0.016, message: 'p99 0.02 > 0.016 (baseline 0.01)' });
    const alike = judgeAnalysisMetric(reading(values(0.012), changes, values(0.01)), true);
    expect(alike.verdict).toBe('pass');
    const noBaselineData = judgeAnalysisMetric(reading(values(0.012), changes, { ok: true, values: [] }), true);
    expect(noBaselineData).toMatchObject({
      verdict: 'inconclusive',
      message: 'p99: baseline no data: the query returned no series',
    });
  });

  test('without a compared baseline, factor-only and baseline-only metrics are skipped; absolute ones judged', () => {
    const readings = [
      reading(values(1), { name: 'factor_only', max: null, baselineFactor: 2 }),
      reading(values(1), { name: 'ratio', requiresBaseline: true }),
      reading(values(1), { name: 'absolute', baselineFactor: 2 }, values(0.001)),
    ];
    expect(judgeAnalysis(readings, false).map((c) => [c.name, c.verdict])).toEqual([['absolute', 'fail']]);
    expect(judgeAnalysis(readings, true).map((c) => c.name)).toEqual(['factor_only', 'ratio', 'absolute']);
  });
});

test('placeholders render per measured version, quoted safely inside PromQL strings', () => {
  const window = {
    candidate: 'rules@2.0.0',
    baseline: 'rules@1.0.0',
    lane: { env: 'dev', target: 'we"b', region: 'eu\\1' } as const,
    windowS: 12.2,
  };
  const query = '{{env}} {{target}} {{region}} {{lane}} {{ version }} {{candidate}} {{baseline}} [{{window}}]';
  expect(renderQuery(query, window, 'rules@1.0.0')).toBe(
    'dev we\\"b eu\\\\1 dev/we\\"b/eu\\\\1 rules@1.0.0 rules@2.0.0 rules@1.0.0 [13s]',
  );
});

describe('the step verdict with metric gates', () => {
  const latencyBuckets = emptyHistogram();
  latencyBuckets[latencyBucketIndex(50)] = 1000;
  const versionMetrics = { requests: 1000, errors: 0, latencyBuckets, shadow: { compared: 100, diverged: 0 } };
  const input = {
    step: 0,
    stepCount: 2,
    percent: 50,
    candidate: versionMetrics,
    baseline: null,
    coverage: { evaluators: 1, serving: 1 },
    gates: rolloutConfigFor('dev').gates,
  };

  test('a failing metric fails the step beside passing built-in gates, its number in the message', () => {
    const verdict = judgeStep({ ...input, analysis: [reading(values(0.2))] });
    expect(verdict.verdict).toBe('fail');
    expect(verdict.checks.filter((c) => c.verdict === 'fail').map((c) => c.gate)).toEqual(['analysis']);
    expect(verdict.message).toMatch(/^step 1\/2 \(50%\) failed: p99 0\.2 > 0\.05; no baseline/);
  });

  test('a metric without data makes an otherwise passing step inconclusive', () => {
    const verdict = judgeStep({ ...input, analysis: [reading({ ok: true, values: [] })] });
    expect(verdict.verdict).toBe('inconclusive');
    expect(verdict.message).toContain('p99: no data: the query returned no series');
  });
});
