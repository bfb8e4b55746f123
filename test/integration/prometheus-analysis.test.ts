import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import { loadBundle } from '../../policy/bundle/bundle';
import { readBundleDir } from '../../activities/bundle-dir';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../policy/config';
import { startPromotion } from '../../client/rollout-client';
import { queryInstant } from '../../activities/store/prometheus';
import { readAnalysis } from '../../activities/analysis';
import { rolloutConfigFor } from '../../policy/rollout/config';
import type { GateCheck, StepVerdict } from '../../policy/rollout/gates';
import type { PromotionResult } from '../../workflows/definitions';
import { startPrometheusSide } from '../../worker/pipeline-metrics';
import type { TargetGroup } from '../../policy/scrape-targets';
import { saveHistory } from '../replay/record';
import { randomLane, waitFor, type RunningEvaluator } from './evaluator-harness';
import {
  laneRow,
  uniqueName,
  uploadSpec,
  versionOf,
  type BundleKind,
  type PipelineUnderTest,
  startRolloutStack,
  type RolloutStack,
} from './promotion-harness';

/**
 * Metric gates against the real Prometheus that scripts/up started (PROMETHEUS_URL), scraping real
 * evaluator processes that it discovers through the targets file the pipeline keeps current
 * (startPrometheusSide, as in worker/pipeline.ts). Tests run in order on one lane.
 */
jest.setTimeout(300_000);

const config = loadConfig();
let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let prometheus: { stop(): Promise<void> };
let evaluators: RunningEvaluator[];
let stack: RolloutStack;
const lane = randomLane('dev');
const name = uniqueName();
const fast = { steps: [50, 100], bake: '3s' };

// The evaluator's own decision time per version on this lane; 10 ms is a histogram bucket bound, so
// a fast policy (well under 1 ms) and a slow one (tens of ms) land on opposite sides of it.
const P99_SECONDS =
  'histogram_quantile(0.99, sum by (le) (rate(pkg_evaluator_evaluation_seconds_bucket{lane="{{lane}}", version="{{version}}"}[{{window}}])))';
const LATENCY_GATE = `rollout:
  analysis:
    p99_seconds:
      query: '${P99_SECONDS}'
      max: 0.01
      baseline_factor: 2
      baseline_slack: 0.002
`;

beforeAll(async () => {
  stack = await startRolloutStack(lane);
  ({ env, pool, pipeline, evaluators } = stack);
  prometheus = await startPrometheusSide(config, pool);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack?.stop();
});

/** Promotes and waits; `history` names the recorded history the replay test keeps (PKG_RECORD_HISTORIES=1). */
async function promote(version: string, kind: BundleKind, rollout: string, history?: string): Promise<PromotionResult> {
  const digest = await uploadSpec(pool, { version, env: 'dev', kind, rollout }, fast);
  const handle = await startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides: fast, actor: 'ci' },
    version,
  );
  const result = await handle.result();
  if (history) await saveHistory(handle, history);
  return result;
}

const analysisChecks = (verdicts: StepVerdict[]): GateCheck[] =>
  verdicts.flatMap((v) => v.checks).filter((c) => c.gate === 'analysis');

test('Prometheus discovers the evaluators from the fleet registry and scrapes them and the pipeline', async () => {
  const laneLabel = `dev/${lane.target}/${lane.region}`;
  const upQuery = `up{job="pkg-evaluator", evaluator_lane="${laneLabel}"} == 1`;
  await waitFor(
    async () => {
      const outcome = await queryInstant(config.PROMETHEUS_URL, upQuery, Date.now());
      return outcome.ok && outcome.values.length === evaluators.length ? outcome : null;
    },
    60_000,
    'both evaluators of the lane up in Prometheus',
    500,
  );
  const groups = JSON.parse(await readFile(config.PROMETHEUS_TARGETS_FILE, 'utf8')) as TargetGroup[];
  const ours = groups.find((group) => group.labels.evaluator_lane === laneLabel)!;
  expect(ours.targets.map((target) => Number(target.split(':')[1])).sort()).toEqual(
    evaluators.map((e) => e.port).sort(),
  );
  const pipelineUp = await waitFor(
    async () => {
      const outcome = await queryInstant(config.PROMETHEUS_URL, 'up{job="pkg-pipeline"} == 1', Date.now());
      return outcome.ok && outcome.values.length === 1 ? outcome : null;
    },
    30_000,
    "the pipeline's /metrics up in Prometheus",
    500,
  );
  expect(pipelineUp.values).toEqual([1]);
});

test('a latency gate passes a fast candidate, with its number and query in the verdict', async () => {
  const result = await promote(`${name}@1.0.0`, 'good', LATENCY_GATE);
  expect(result.outcome).toBe('promoted');
  const checks = analysisChecks(result.verdicts);
  expect(checks.length).toBeGreaterThan(0);
  const last = checks.at(-1)!;
  expect(last).toMatchObject({ name: 'p99_seconds', verdict: 'pass', limit: 0.01 });
  expect(last.value).toBeLessThanOrEqual(0.01);
  expect(last.query).toContain(`version="${name}@1.0.0"`);
  expect(last.query).toMatch(/\[\d+s\]/);
});

test("the example bundle's queries each answer one number for a version that serves traffic", async () => {
  const { manifest } = loadBundle(
    await readBundleDir(path.join(__dirname, '..', '..', 'examples', 'room-service-analysis')),
  );
  const plan = rolloutConfigFor('dev', manifest.rollout);
  const window = { candidate: `${name}@1.0.0`, baseline: null, lane, windowS: 10 };
  const readings = await readAnalysis(config.PROMETHEUS_URL, plan.analysis, window, Date.now());
  expect(readings.map((r) => [r.metric.name, r.candidate.ok && r.candidate.values.length])).toEqual([
    ['error_ratio', 1],
    ['p99_seconds', 1],
    ['requests_per_second', 1],
  ]);
});

test('the same gate fails a slow candidate (real extra work in its policy) and rolls it back', async () => {
  const result = await promote(`${name}@1.1.0`, 'slow', LATENCY_GATE, 'rolled-back-analysis');
  expect(result.outcome).toBe('rolled_back');
  const failing = result.verdicts.at(-1)!;
  expect(failing.verdict).toBe('fail');
  const check = failing.checks.find((c) => c.gate === 'analysis')!;
  expect(check).toMatchObject({ name: 'p99_seconds', verdict: 'fail' });
  expect(check.value).toBeGreaterThan(0.01);
  // Against the baseline too when it served enough in the window; the slow policy's blocked event
  // loop may starve it, and then the absolute bound alone decides.
  expect(check.message).toMatch(/^p99_seconds [\d.]+ > [\d.]+( \(baseline [\d.e-]+\))?$/);
  expect(result.reason).toContain(check.message);
  expect(await versionOf(pool, (await laneRow(pool, lane))!.snapshot_id)).toBe(`${name}@1.0.0`);
});

test('a query that matches nothing is inconclusive, never a pass: the candidate is never promoted', async () => {
  const nothing = `rollout:
  analysis:
    checkout_errors:
      query: 'sum(rate(shop_checkout_errors_total{version="{{version}}"}[{{window}}]))'
      max: 0
`;
  const result = await promote(`${name}@1.2.0`, 'good', nothing);
  expect(result.outcome).toBe('rolled_back');
  const checks = analysisChecks(result.verdicts);
  expect(checks.length).toBeGreaterThan(1);
  for (const check of checks) {
    expect(check).toMatchObject({ name: 'checkout_errors', verdict: 'inconclusive', value: null });
    expect(check.message).toBe('checkout_errors: no data: the query returned no series');
  }
  expect(result.verdicts.every((v) => v.verdict === 'inconclusive')).toBe(true);
  expect(result.reason).toMatch(/^still inconclusive after 2 extension\(s\)/);
  expect(await versionOf(pool, (await laneRow(pool, lane))!.snapshot_id)).toBe(`${name}@1.0.0`);
});

test('a PromQL error and an unreachable Prometheus are reasons, not numbers', async () => {
  const plan = rolloutConfigFor('dev', {
    analysis: {
      broken: { query: 'sum(rate(x{version="{{version}}"}[{{window}}])', max: 1 },
      range: { query: 'up[{{window}}]', max: 1 },
    },
  });
  const window = { candidate: 'v@1.0.0', baseline: null, lane, windowS: 5 };
  const readings = await readAnalysis(config.PROMETHEUS_URL, plan.analysis, window, Date.now());
  expect(readings.map((r) => r.candidate)).toEqual([
    { ok: false, reason: expect.stringMatching(/^bad_data: .*parse error/) },
    { ok: false, reason: 'the query returns a matrix; a gate needs an instant vector or a scalar' },
  ]);
  const [gone] = await readAnalysis('http://127.0.0.1:9', plan.analysis.slice(0, 1), window, Date.now());
  expect(gone!.candidate).toEqual({ ok: false, reason: expect.stringContaining('unreachable') });
});
