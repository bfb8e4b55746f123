import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { compileBundleFiles } from '../../activities/compile';
import { readBundleDir } from '../../activities/bundle-dir';
import { createPool } from '../../activities/connections';
import { startPromotion } from '../../client/rollout-client';
import type { Traffic } from '../../client/traffic';
import { NO_SIGNING } from '../../policy/bundle/signing';
import { loadConfig } from '../../policy/config';
import type { Lane } from '../../policy/lane';
import { REASONS } from '../../policy/rollout/reasons';
import type { ImpactReport } from '../../policy/rollout/impact';
import { saveHistory } from '../replay/record';
import { connectTestEnvironment } from '../support/temporal';
import { pkgctl } from '../support/pkgctl';
import { randomLane, removeTestLanes, setLane, startEvaluator, type RunningEvaluator } from './evaluator-harness';
import {
  laneRow,
  startGuestTraffic,
  startPipeline,
  uniqueName,
  uploadSpec,
  writeBundle,
  type BundleSpec,
  type PipelineUnderTest,
} from './promotion-harness';

/**
 * Impact analysis on a known corpus of logged decisions: `pkgctl impact` counts exactly, and the
 * promotion's replay stage rejects a candidate that changes more than its declared budget before
 * any canary row exists, while one that changes nothing goes on to the ramp.
 */
jest.setTimeout(240_000);

let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let running: Promise<void>;
let evaluator: RunningEvaluator;
const lane = randomLane('dev');
const name = uniqueName();
const v1 = `${name}@1.0.0`;
const budget = { gates: { max_replay_divergence: 0.05 }, replay: { min_decisions: 100 } };
const rollout = `rollout:\n  gates: { max_replay_divergence: 0.05 }\n  replay: { min_decisions: 100 }`;

// 100 late guests (v1: nothing; the wider v2: escalate), 100 VIPs and 100 calm guests (same on both).
const CORPUS = [
  ...Array.from({ length: 100 }, (_, i) => ({ tags: ['late'], subject: `guest:late-${i}` })),
  ...Array.from({ length: 100 }, (_, i) => ({ tags: ['vip'], subject: `guest:vip-${i}` })),
  ...Array.from({ length: 100 }, (_, i) => ({ tags: ['calm'], subject: `guest:calm-${i}` })),
];

async function logDecisions(at: string, entries: typeof CORPUS, target: Lane = lane): Promise<void> {
  await pool.query(`SELECT pkg_decision_log_partition((${at})::date)`);
  await pool.query(
    `INSERT INTO pkg_decision_logs
       (decision_id, "timestamp", env, target, region, snapshot_version, canary, mode, input, result, eval_ns)
     SELECT gen_random_uuid(), ${at}, $1, $2, $3, $4, false, 'control', input, '{"ok": true}', 1000
       FROM jsonb_array_elements($5::jsonb) AS input`,
    [
      target.env,
      target.target,
      target.region,
      v1,
      JSON.stringify(entries.map((e) => ({ tags: e.tags, context: { subject: e.subject }, facts: [] }))),
    ],
  );
}

async function store(spec: BundleSpec): Promise<string> {
  const files = await readBundleDir(await writeBundle(spec));
  const deps = { pool, opaPath: loadConfig().OPA_PATH, signing: NO_SIGNING };
  return (await compileBundleFiles(deps, files, null, 'impact-test')).snapshotId;
}

const impact = (args: string[]) =>
  pkgctl(['impact', ...args], { PIPELINE_TASK_QUEUE: pipeline.worker.options.taskQueue });

const laneArgs = ['--env', lane.env, '--target', lane.target, '--region', lane.region];

beforeAll(async () => {
  env = await connectTestEnvironment();
  pool = createPool(loadConfig(), 4);
  pipeline = await startPipeline(env, pool);
  running = pipeline.worker.run();
  evaluator = await startEvaluator(lane, { EVALUATOR_TEMPORAL: 'on' });
  await setLane(pool, lane, { snapshotId: await store({ version: v1, env: 'dev' }) });
  await logDecisions('now()', CORPUS);
  // Outside the replay window, and on another lane: neither may be counted.
  await logDecisions(`now() - interval '2 days'`, CORPUS.slice(0, 50));
  await logDecisions('now()', CORPUS.slice(0, 50), { ...lane, region: `other-${randomUUID().slice(0, 6)}` });
}, 120_000);

afterAll(async () => {
  await evaluator?.stop();
  pipeline?.worker.shutdown();
  await running;
  await pipeline?.stop();
  if (pool) await removeTestLanes(pool);
  await pool?.end();
  await env?.teardown();
});

test('pkgctl impact counts a known corpus exactly: changed decisions, rules and subtasks, examples as logged', async () => {
  const v2 = `${name}@2.0.0`;
  await store({ version: v2, env: 'dev', kind: 'wider' });
  const run = await impact([v2, ...laneArgs, '--since', '24h', '--examples', '2', '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as ImpactReport & { share: number };
  expect(report).toMatchObject({ candidateVersion: v2, baselineVersion: v1, decisions: 300, changed: 100, skipped: 0 });
  expect(report.share).toBeCloseTo(1 / 3);
  expect(report.subtasks).toEqual([{ name: 'escalate', added: 100, removed: 0 }]);
  expect(report.rules).toEqual([{ name: 'late_escalation', added: 100, removed: 0 }]);
  expect(report.examples).toHaveLength(2);
  expect(report.examples[0]).toMatchObject({
    input: { tags: ['late'] },
    baseline: { subtasks: [] },
    candidate: { subtasks: ['escalate'] },
  });
  const limited = JSON.parse((await impact([v2, ...laneArgs, '--limit', '120', '--json'])).stdout);
  expect(limited.decisions).toBe(120);
});

test('pkgctl impact on a bundle directory compiles it and replays it; a bad target is refused', async () => {
  const dir = await writeBundle({ version: `${name}@2.1.0`, env: 'dev', kind: 'wider' });
  const run = await impact([dir, ...laneArgs]);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(`${name}@2.1.0 vs ${v1}`);
  expect(run.stdout).toContain('300 replayed, 100 changed (33.333%)');
  expect(run.stdout).toContain('escalate  +100 −0');
  const bad = await impact(['no-such-dir', ...laneArgs, '--json']);
  expect(bad.code).toBe(2);
  expect(JSON.parse(bad.stdout)).toMatchObject({ outcome: 'error', type: 'InputInvalid' });
});

async function promote(spec: Omit<BundleSpec, 'env'>) {
  const overrides = { steps: [50, 100], bake: '2s' };
  const digest = await uploadSpec(pool, { ...spec, env: 'dev', rollout }, overrides);
  return startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides, actor: 'ci' },
    spec.version,
  );
}

test('the replay stage rejects a candidate changing more than its budget, before any canary row', async () => {
  const version = `${name}@3.0.0`;
  const handle = await promote({ version, kind: 'wider' });
  const result = await handle.result();
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toBe(
    REASONS.replayOver(100, 300, 1 / 3, budget.gates.max_replay_divergence, 'late_escalation'),
  );
  expect((await laneRow(pool, lane))?.candidate_snapshot_id).toBeNull();
  const rolloutId = `${handle.workflowId}:${handle.firstExecutionRunId}`;
  const { rows } = await pool.query<{ event: string }>(
    'SELECT event FROM pkg_rollout_events WHERE rollout_id = $1 ORDER BY id',
    [rolloutId],
  );
  expect(rows.map((r) => r.event)).toEqual(['compiled', 'validated', 'replay_fail', 'rejected']);
  const record = await pool.query<{ canonical: string }>(
    'SELECT canonical FROM pkg_decision_records WHERE rollout_id = $1',
    [rolloutId],
  );
  expect(JSON.parse(record.rows[0]!.canonical).replay).toMatchObject({ verdict: 'fail', decisions: 300, changed: 100 });
  await saveHistory(handle, 'rejected-replay');
});

test('a candidate that changes no logged decision passes the replay and is ramped and promoted', async () => {
  let traffic: Traffic | undefined;
  try {
    traffic = startGuestTraffic([evaluator]);
    const version = `${name}@1.0.1`;
    const handle = await promote({ version });
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    expect(result.verdicts.length).toBeGreaterThanOrEqual(2);
    const rolloutId = `${handle.workflowId}:${handle.firstExecutionRunId}`;
    const record = await pool.query<{ canonical: string }>(
      'SELECT canonical FROM pkg_decision_records WHERE rollout_id = $1',
      [rolloutId],
    );
    expect(JSON.parse(record.rows[0]!.canonical).replay).toMatchObject({ verdict: 'pass', decisions: 300, changed: 0 });
    await saveHistory(handle, 'promoted-after-replay');
  } finally {
    await traffic?.stop();
  }
});
