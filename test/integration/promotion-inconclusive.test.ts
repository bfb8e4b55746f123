import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createPool } from '../../activities/connections';
import { loadConfig } from '../../policy/config';
import { startPromotion } from '../../client/rollout-client';
import type { PromotionResult } from '../../workflows/definitions';
import { connectTestEnvironment } from '../support/temporal';
import { randomLane, startEvaluator, type RunningEvaluator } from './evaluator-harness';
import { laneRow, startPipeline, uniqueName, uploadSpec, type PipelineUnderTest } from './promotion-harness';
import { saveHistory } from '../replay/record';

/** A lane with a live evaluator but no traffic at all: never promote on missing data. */
let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let evaluator: RunningEvaluator;
const lane = randomLane('dev');

beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = createPool(loadConfig(), 2);
  pipeline = await startPipeline(env, pool);
  evaluator = await startEvaluator(lane, { EVALUATOR_TEMPORAL: 'on' });
}, 60_000);

afterAll(async () => {
  await evaluator?.stop();
  await pipeline?.stop();
  await pool?.end();
  await env?.teardown();
});

test('no traffic → inconclusive → bake extended → rolled back, never promoted', async () => {
  const version = `${uniqueName()}@1.0.0`;
  const spec = { version, env: 'dev' as const };
  const overrides = { steps: [50, 100], bake: '1s' };
  const digest = await uploadSpec(pool, spec, overrides);
  const handle = await startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides, actor: 'ci' },
    version,
  );
  const result: PromotionResult = await pipeline.worker.runUntil(handle.result());
  expect(result.outcome).toBe('rolled_back');
  expect(result.verdicts.map((v) => [v.step, v.verdict])).toEqual([
    [0, 'inconclusive'],
    [0, 'inconclusive'],
    [0, 'inconclusive'],
  ]);
  expect(result.verdicts[2]!.checks.find((c) => c.gate === 'samples')).toMatchObject({
    verdict: 'inconclusive',
    value: 0,
    limit: 200,
  });
  expect(result.reason).toMatch(
    /^still inconclusive after 2 extension\(s\): step 1\/2 \(50%\) inconclusive: only 0 candidate requests \(need 200\)/,
  );
  expect(await laneRow(pool, lane)).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  const promoted = await pool.query(
    `SELECT 1 FROM pkg_promotions p JOIN pkg_snapshots s ON s.id = p.snapshot_uuid WHERE s.version = $1 AND p.action = 'promote'`,
    [version],
  );
  expect(promoted.rowCount).toBe(0);
  await saveHistory(handle, 'rolled-back-inconclusive');
});
