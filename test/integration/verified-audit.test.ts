import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { readBundleDir } from '../../activities/bundle-dir';
import { packBundle } from '../../policy/bundle/pack';
import { laneName } from '../../policy/lane';
import { startPromotion } from '../../client/rollout-client';
import type { PromotionResult } from '../../workflows/definitions';
import { saveHistory } from '../replay/record';
import { randomLane } from './evaluator-harness';
import {
  uniqueName,
  uploadSpec,
  writeBundle,
  type PipelineUnderTest,
  startRolloutStack,
  type RolloutStack,
} from './promotion-harness';
import { callApi, createTestToken, startApi, type RunningApi } from './api-harness';

/**
 * Verified identity on every audit row of a rollout (README "Identity and access"): a promotion the
 * control-plane API started for a token names that token, verified, in pkg_promotions, its
 * validation run and its decision record (and its rollout events); one started straight through
 * Temporal, even naming the same token and replaying the first one's verification, is recorded
 * unverified. Real API process,
 * pipeline worker, evaluators and traffic on one lane.
 */
jest.setTimeout(300_000);

let stack: RolloutStack;
let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let api: RunningApi;
const lane = randomLane('dev');
const name = uniqueName();
const overrides = { steps: [50, 100], bake: '2s' };

beforeAll(async () => {
  stack = await startRolloutStack(lane);
  ({ env, pool, pipeline } = stack);
  api = await startApi({ PIPELINE_TASK_QUEUE: pipeline.worker.options.taskQueue });
}, 90_000);

afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

interface Attribution {
  actor: string | null;
  actor_verified: boolean | null;
}

/**
 * Who each audit table says acted in this rollout (`workflowId:firstRunId`) or revert (its id); its
 * pkg_promotions row is keyed `<rollout>:promote`, a revert's by its id.
 */
async function attributions(rolloutId: string, promotionKey = `${rolloutId}:promote`) {
  const read = async (sql: string, key = rolloutId) => (await pool.query<Attribution>(sql, [key])).rows;
  return {
    promotions: await read('SELECT actor, actor_verified FROM pkg_promotions WHERE idempotency_key = $1', promotionKey),
    validationRuns: await read(
      `SELECT actor, actor_verified FROM pkg_validation_runs WHERE run_key = $1 || ':fixtures'`,
    ),
    decisionRecords: await read('SELECT actor, actor_verified FROM pkg_decision_records WHERE rollout_id = $1'),
    rolloutEvents: await read(
      `SELECT DISTINCT actor, actor_verified FROM pkg_rollout_events WHERE rollout_id = $1 AND actor <> 'gate'`,
    ),
  };
}

const everywhere = (attribution: Attribution) => ({
  promotions: [attribution],
  validationRuns: [attribution],
  decisionRecords: [attribution],
  rolloutEvents: [attribution],
});

test('a promotion the API started for a token is verified on every audit row; one straight through Temporal is not', async () => {
  const deployer = await createTestToken(pool, 'deployer', ['dev']);
  const dir = await writeBundle({ version: `${name}@1.0.0`, env: 'dev' });
  const started = await callApi(api.url, 'POST', '/v1/promotions', deployer.token, {
    ...lane,
    overrides,
    bundle: JSON.parse(packBundle(await readBundleDir(dir)).toString('utf8')) as unknown,
  });
  expect(started.status).toBe(200);
  const { workflowId, runId } = started.body as { workflowId: string; runId: string };
  const viaApiHandle = env.client.workflow.getHandle(workflowId);
  const viaApi: PromotionResult = await viaApiHandle.result();
  expect(viaApi.outcome).toBe('promoted');
  await saveHistory(viaApiHandle, 'promoted-verified-start');
  const token = `token:${deployer.name}`;
  expect(await attributions(`${workflowId}:${runId}`)).toEqual(everywhere({ actor: token, actor_verified: true }));

  // Anyone with Temporal access can start one naming the same token, even with the verification the
  // first rollout's input shows in the Temporal UI: that one is claimed, so this start stays unverified.
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM pkg_verified_actions WHERE workflow_id = $1 AND action = 'promote' AND subject = $2`,
    [workflowId, token],
  );
  expect(rows).toHaveLength(1);
  const version = `${name}@1.1.0`;
  const digest = await uploadSpec(pool, { version, env: 'dev' }, overrides);
  const input = { digest, lane, overrides, actor: token, verification: rows[0]!.id };
  const handle = await startPromotion(env.client, pipeline.worker.options.taskQueue, input, version);
  expect((await handle.result()).outcome).toBe('promoted');
  expect(await attributions(`${handle.workflowId}:${handle.firstExecutionRunId}`)).toEqual(
    everywhere({ actor: token, actor_verified: false }),
  );
});

test('a revert the API performs for a token is verified on its promotion row, fixture run, decision record and event', async () => {
  const operator = await createTestToken(pool, 'operator', ['dev']);
  const reverted = await callApi(api.url, 'POST', `/v1/lanes/${laneName(lane)}/revert`, operator.token, {
    to: `${name}@1.0.0`,
    reason: 'verified audit test',
  });
  expect(reverted.status).toBe(200);
  const revertId = reverted.body.revertId as string;
  expect(await attributions(revertId, revertId)).toEqual(
    everywhere({ actor: `token:${operator.name}`, actor_verified: true }),
  );
});
