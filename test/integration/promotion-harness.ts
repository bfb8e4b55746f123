import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createPool, createRedis } from '../../activities/connections';
import { createPipelineActivities } from '../../activities/index';
import { createOutboxRelay } from '../../worker/outbox-relay';
import { loadConfig } from '../../policy/config';
import { prepareBundle, uploadBundle } from '../../client/bundle-upload';
import { readBundleDir } from '../../activities/bundle-dir';
import { bundleDigest, packBundle } from '../../policy/bundle/pack';
import type { RolloutOverrides } from '../../policy/rollout/config';
import { connectTestEnvironment, createTestWorker } from '../support/temporal';
import { startEvaluator, type RunningEvaluator } from './evaluator-harness';
import { startTraffic, type Traffic } from '../../client/traffic';

/**
 * Real parts for promotion tests: bundles written to a temp dir and uploaded the way pkgctl does,
 * a pipeline worker with the real activities plus the outbox relay, and a traffic generator that
 * drives real evaluators. Requests tagged "boom" make the faulty candidate's wasm policy fail.
 */
const RULES = `subtask_types:
  - name: escalate
rules:
  - name: vip_escalation
    priority: 10
    conditions:
      - { type: TAG, key: vip }
    emissions:
      - { subtask: escalate }
`;

// RULES plus a rule for late guests: every old fixture still passes, but logged traffic tagged "late" changes.
const WIDER_RULES = `${RULES}  - name: late_escalation
    priority: 5
    conditions:
      - { type: TAG, key: late }
    emissions:
      - { subtask: escalate }
`;

const FIXTURES = `- name: vip_is_escalated
  input: { tags: [vip], context: { subject: "guest:Ada" } }
  expect: { subtasks: [escalate] }
- name: others_are_not
  input: { tags: [calm], context: { subject: "guest:Bo" } }
  expect: { subtasks: [] }
`;

const WRONG_FIXTURE = `- name: vip_is_not_escalated
  input: { tags: [vip] }
  expect: { subtasks: [] }
`;

// Same decisions as RULES, but no decision at all (an evaluation error) when a request says "boom".
const FAULTY_REGO = `package pkg

import rego.v1

escalations := [{"name": "escalate", "type": "escalate", "params": {}, "rule_id": "0000000000000000", "rule_name": "vip_escalation"}] if {
  "vip" in input.tags
} else := []

result := {"subtasks": escalations, "dag": [], "rules": []} if {
  not "boom" in input.tags
}
`;
import type { Lane } from '../../policy/lane';

// Hand-written Rego, no rules.yaml: the same decisions as RULES, judged by the wasm engine alone.
const OWN_REGO = FAULTY_REGO.replace('if {\n  not "boom" in input.tags\n}', '');

// Same decisions as RULES after a needlessly quadratic loop (90,000 steps, tens to hundreds of milliseconds in
// the wasm engine): a policy that is correct but slow, as a careless comprehension makes one.
const SLOW_REGO = FAULTY_REGO.replace(
  'not "boom" in input.tags',
  'count([1 | some i in numbers.range(1, 300); some j in numbers.range(1, 300); i != j]) > 0',
);

export type BundleKind = 'good' | 'faulty' | 'slow' | 'failing-fixtures' | 'wasm-only' | 'wider';

const HAND_WRITTEN_REGO: Partial<Record<BundleKind, string>> = {
  faulty: FAULTY_REGO,
  slow: SLOW_REGO,
  'wasm-only': OWN_REGO,
};

export interface BundleSpec {
  version: string;
  env: Lane['env'];
  kind?: BundleKind;
  rollout?: string;
}

export async function writeBundle(spec: BundleSpec): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pkg-bundle-'));
  const kind = spec.kind ?? 'good';
  const rego = HAND_WRITTEN_REGO[kind];
  const engine = rego === undefined ? 'native' : 'wasm';
  const manifest = [
    `version: ${spec.version}`,
    `env: ${spec.env}`,
    `engine: ${engine}`,
    'entrypoint: pkg/result',
    'schema_version: "1"',
    spec.rollout ?? '',
  ].join('\n');
  await mkdir(path.join(dir, 'fixtures'));
  await writeFile(path.join(dir, 'manifest.yaml'), `${manifest}\n`);
  if (kind !== 'wasm-only') await writeFile(path.join(dir, 'rules.yaml'), kind === 'wider' ? WIDER_RULES : RULES);
  await writeFile(path.join(dir, 'fixtures', 'basic.yaml'), kind === 'failing-fixtures' ? WRONG_FIXTURE : FIXTURES);
  if (rego !== undefined) {
    await mkdir(path.join(dir, 'policy'));
    await writeFile(path.join(dir, 'policy', 'pkg.rego'), rego);
  }
  return dir;
}

/** What `pkgctl promote` does before starting the workflow: check locally, upload, return the digest. */
export async function uploadSpec(pool: Pool, spec: BundleSpec, overrides: RolloutOverrides = {}): Promise<string> {
  const prepared = await prepareBundle(await writeBundle(spec), spec.env, overrides);
  await uploadBundle(pool, prepared, 'promotion-test');
  return prepared.digest;
}

/** Uploads without the client's checks, as a caller that bypasses pkgctl would. */
export async function uploadUnchecked(pool: Pool, spec: BundleSpec): Promise<string> {
  const packed = packBundle(await readBundleDir(await writeBundle(spec)));
  const digest = bundleDigest(packed);
  await pool.query(
    'INSERT INTO pkg_bundles (digest, bytes, size, uploaded_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [digest, packed, packed.byteLength, 'promotion-test'],
  );
  return digest;
}

export const uniqueName = () => `promo-${randomUUID().slice(0, 8)}`;

export interface PipelineUnderTest {
  worker: Worker;
  stop(): Promise<void>;
}

/**
 * A pipeline worker on a fresh task queue with every real activity, and the outbox relay running;
 * `webhookSecret` signs rollout webhook calls as PKG_WEBHOOK_SECRET does.
 */
export async function startPipeline(
  env: TestWorkflowEnvironment,
  pool: Pool,
  options: { webhookSecret?: string } = {},
): Promise<PipelineUnderTest> {
  const config = loadConfig();
  const redis = createRedis(config);
  const relay = createOutboxRelay({ pool, redis, intervalMs: 50 });
  const worker = await createTestWorker(env, {
    activities: createPipelineActivities({
      pool,
      redis,
      opaPath: config.OPA_PATH,
      metricsSettleMs: 1200,
      prometheusUrl: config.PROMETHEUS_URL,
      webhookSecret: options.webhookSecret,
      decisionLogRetentionDays: config.DECISION_LOG_RETENTION_DAYS,
    }),
  });
  relay.start();
  return {
    worker,
    async stop() {
      await relay.stop();
      redis.disconnect();
    },
  };
}

/** A promotion's whole stack on one lane, as the rollout suites run it; `stop` ends it in reverse. */
export interface RolloutStack {
  env: TestWorkflowEnvironment;
  pool: Pool;
  pipeline: PipelineUnderTest;
  evaluators: RunningEvaluator[];
  stop(): Promise<void>;
}

/**
 * Temporal, a pool, the lane created empty, a running pipeline worker and `evaluators` evaluator
 * processes (the first also runs fixtures on pkg-evaluator) under guest traffic. What started before
 * a failure is stopped before the failure is thrown.
 */
export async function startRolloutStack(
  lane: Lane,
  options: { evaluators?: number; poolSize?: number; webhookSecret?: string } = {},
): Promise<RolloutStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const env = await connectTestEnvironment();
    stops.push(() => env.teardown());
    const pool = createPool(loadConfig(), options.poolSize ?? 4);
    stops.push(() => pool.end());
    await createEmptyLane(pool, lane);
    const pipeline = await startPipeline(env, pool, { webhookSecret: options.webhookSecret });
    stops.push(() => pipeline.stop());
    const running = pipeline.worker.run();
    stops.push(async () => {
      pipeline.worker.shutdown();
      await running;
    });
    const evaluators = await Promise.all(
      Array.from({ length: options.evaluators ?? 2 }, (_, i) =>
        startEvaluator(lane, i === 0 ? { EVALUATOR_TEMPORAL: 'on' } : {}),
      ),
    );
    stops.push(() => Promise.all(evaluators.map((e) => e.stop())).then(() => undefined));
    const traffic = startGuestTraffic(evaluators);
    stops.push(() => traffic.stop().then(() => undefined));
    return { env, pool, pipeline, evaluators, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Closed-loop traffic over many routing keys; `boomShare` of requests carry the failing tag. */
export function startGuestTraffic(evaluators: RunningEvaluator[], boomShare = 0, concurrency = 6): Traffic {
  const body = (i: number) => {
    const key = `guest:${i % 7919}`;
    const tags = i % 100 < boomShare * 100 ? ['vip', 'boom'] : ['vip'];
    return { input: { tags, context: { subject: key } }, routing_key: key };
  };
  return startTraffic({ urls: evaluators.map((e) => e.url), body, concurrency, requireOk: false });
}

/**
 * Gives a test lane its own row serving nothing, so its first promotion has no baseline and does
 * not depend on the env's active snapshot that another suite's default-lane promotion left.
 */
export async function createEmptyLane(pool: Pool, lane: Lane): Promise<void> {
  await pool.query('INSERT INTO pkg_deployments (env, target, region, activated_by) VALUES ($1, $2, $3, $4)', [
    lane.env,
    lane.target,
    lane.region,
    'promotion-test',
  ]);
}

export interface LaneRow {
  snapshot_id: string | null;
  candidate_snapshot_id: string | null;
  canary_percent: string;
}

export async function laneRow(pool: Pool, lane: Lane): Promise<LaneRow | null> {
  const { rows } = await pool.query<LaneRow>(
    'SELECT stable_snapshot_id AS snapshot_id, candidate_snapshot_id, canary_percent::text FROM pkg_deployments WHERE env = $1 AND target = $2 AND region = $3',
    [lane.env, lane.target, lane.region],
  );
  return rows[0] ?? null;
}

export async function versionOf(pool: Pool, snapshotId: string | null): Promise<string | null> {
  if (snapshotId === null) return null;
  const { rows } = await pool.query<{ version: string }>('SELECT version FROM pkg_snapshots WHERE id = $1', [
    snapshotId,
  ]);
  return rows[0]?.version ?? null;
}
