import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { readDesiredLaneState } from '../../activities/store/lane-state';
import { readSnapshot } from '../../activities/store/snapshot-read';
import {
  evaluate,
  randomLane,
  readyz,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Rows written the seed's way, by the seed's column names only, are honoured by running
 * evaluators: a canary row in pkg_deployments (snapshot_id, percent, is_active) is the split they
 * serve, and a snapshot whose rules, conditions and emissions were written as seed rows reads as a
 * native snapshot, which evaluators refuse as unsealed: only a compile seals what they may load.
 * No hot-swap message is sent: the evaluators find the rows on their own reconcile.
 */
const services = useEvaluatorServices();
const RECONCILE = { EVALUATOR_RECONCILE_MS: '300' };

const numberOf = async (pool: Pool, snapshotId: string) =>
  (await pool.query<{ n: number }>('SELECT snapshot_id AS n FROM pkg_snapshots WHERE id = $1', [snapshotId])).rows[0]!
    .n;

/** Which version answered each of `keys` routing keys, as fractions per version. */
async function split(evaluator: RunningEvaluator, keys: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < keys; i++) {
    const { status, body } = await evaluate(evaluator, {
      input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops' } },
      routing_key: randomUUID(),
    });
    if (status !== 200) throw new Error(`${status} ${JSON.stringify(body)}`);
    counts.set(String(body.snapshot), (counts.get(String(body.snapshot)) ?? 0) + 1);
  }
  return new Map([...counts].map(([version, n]) => [version, n / keys]));
}

test('a seed-style deployment row, then the seed canary update, are the split evaluators serve', async () => {
  const { pool } = services;
  const [v1, v2] = [await storeExample(pool, 'hotel-ops-v1'), await storeExample(pool, 'hotel-ops-v2')];
  const lane = randomLane(v1.env);
  await pool.query(
    `INSERT INTO pkg_deployments (snapshot_id, target, region, percent, is_active) VALUES ($1, $2, $3, 100, TRUE)`,
    [await numberOf(pool, v1.snapshotId), lane.target, lane.region],
  );
  const evaluator = await startEvaluator(lane, RECONCILE);
  services.running.push(evaluator);
  expect(await split(evaluator, 200)).toEqual(new Map([[v1.version, 1]]));

  await pool.query(`UPDATE pkg_deployments SET snapshot_id = $1, percent = 10 WHERE target = $2 AND region = $3`, [
    await numberOf(pool, v2.snapshotId),
    lane.target,
    lane.region,
  ]);
  expect(await readDesiredLaneState(pool, lane)).toMatchObject({
    snapshotId: v1.snapshotId,
    candidateSnapshotId: v2.snapshotId,
    canaryPercent: 10,
    source: 'deployment',
  });
  await waitFor(async () => ((await split(evaluator, 50)).has(v2.version) ? true : null), 20_000, 'the canary split');
  const canary = await split(evaluator, 2000);
  expect(canary.get(v2.version)).toBeGreaterThan(0.07);
  expect(canary.get(v2.version)).toBeLessThan(0.13);

  // percent 100: the deployed snapshot becomes the lane's stable.
  await pool.query(`UPDATE pkg_deployments SET percent = 100 WHERE target = $1 AND region = $2`, [
    lane.target,
    lane.region,
  ]);
  await waitFor(async () => ((await split(evaluator, 50)).get(v2.version) === 1 ? true : null), 20_000, 'v2 for all');

  // is_active = FALSE: the row no longer says what the lane serves; it falls back to the env's active snapshot.
  await pool.query(`UPDATE pkg_deployments SET is_active = FALSE WHERE target = $1 AND region = $2`, [
    lane.target,
    lane.region,
  ]);
  expect((await readDesiredLaneState(pool, lane)).source).not.toBe('deployment');
}, 120_000);

test('a snapshot whose rules were written as seed rows reads as a native snapshot and, unsealed, is refused at load', async () => {
  const { pool } = services;
  const tag = randomUUID().slice(0, 8);
  const version = `seed-rules@1.0.0-t${tag}`;
  const lane = randomLane('dev');
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const { rows: snapshot } = await db.query<{ snapshot_id: number }>(
      `INSERT INTO pkg_snapshots (version, env, engine, checksum, notes)
       VALUES ($1, 'dev', 'native', $2, 'rules written as seed rows') RETURNING snapshot_id`,
      [version, createHash('sha256').update(version).digest('hex')],
    );
    const n = snapshot[0]!.snapshot_id;
    const { rows: types } = await db.query<{ id: string }>(
      `INSERT INTO pkg_subtask_types (snapshot_id, name, default_params) VALUES ($1, 'escalate', '{"level":"normal"}'),
         ($1, 'notify', '{}') RETURNING id`,
      [n],
    );
    const { rows: rules } = await db.query<{ id: string }>(
      `INSERT INTO pkg_policy_rules (snapshot_id, rule_name, priority, rule_source, engine, metadata, disabled)
       VALUES ($1, 'high_priority_vip', 10, 'TAG vip AND SIGNAL x2 >= 0.7 EMITS escalate', 'native', '{}', FALSE),
              ($1, 'switched_off', 20, 'TAG vip EMITS notify', 'native', '{}', TRUE)
       RETURNING id`,
      [n],
    );
    await db.query(
      `INSERT INTO pkg_rule_conditions (rule_id, condition_type, condition_key, operator, value, position)
       VALUES ($1, 'TAG', 'vip', 'EXISTS', NULL, 0), ($1, 'SIGNAL', 'x2', '>=', '0.7', 1), ($2, 'TAG', 'vip', 'EXISTS', NULL, 0)`,
      [rules[0]!.id, rules[1]!.id],
    );
    await db.query(
      `INSERT INTO pkg_rule_emissions (rule_id, subtask_type_id, relationship_type, params, position)
       VALUES ($1, $2, 'EMITS', '{"level":"high"}', 0), ($3, $4, 'EMITS', '{}', 0)`,
      [rules[0]!.id, types[0]!.id, rules[1]!.id, types[1]!.id],
    );
    await db.query(
      `INSERT INTO pkg_deployments (snapshot_id, target, region, percent, is_active) VALUES ($1, $2, $3, 100, TRUE)`,
      [n, lane.target, lane.region],
    );
    await db.query('COMMIT');
  } finally {
    db.release();
  }
  // Read back, the rows are the native snapshot the seed wrote...
  const stored = await readSnapshot(pool, { version });
  expect(stored.compiled).toMatchObject({
    engine: 'native',
    rules: [
      {
        name: 'high_priority_vip',
        priority: 10,
        enabled: true,
        conditions: [
          { type: 'TAG', key: 'vip', op: 'EXISTS' },
          { type: 'SIGNAL', key: 'x2', op: '>=', value: 0.7 },
        ],
        emissions: [{ subtask: 'escalate', relationship: 'EMITS', params: { level: 'high' } }],
      },
      { name: 'switched_off', enabled: false },
    ],
  });
  // ...but load = verify: nothing sealed them at compile, so no evaluator serves them.
  const evaluator = await startEvaluator(lane, RECONCILE);
  services.running.push(evaluator);
  const refused = await waitFor(
    async () => {
      const { body } = await readyz(evaluator);
      return (body.refused_snapshots as Record<string, { reason: string }>)[version] ?? null;
    },
    15_000,
    `${evaluator.port} to refuse ${version}`,
  );
  expect(refused.reason).toBe('unsealed');
  expect(await evaluate(evaluator, { input: { tags: ['vip'], signals: { x2: 0.8 } } })).toMatchObject({
    status: 503,
    body: { ok: false, snapshot: null },
  });
}, 120_000);
