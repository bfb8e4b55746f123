import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../../policy/config';
import { honourPlainActivation } from '../../activities/store/plain-activation';
import { applyMigrations } from '../../scripts/migrate';
import type { PlainActivation } from '../../policy/rollout/plain-activation';
import { listenForPlainActivations, PLAIN_ACTIVATION_ACTOR } from '../../worker/plain-activations';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-database';
import { storeExample, waitFor } from './evaluator-harness';

/**
 * The seed's `PUBLISH pkg_updates "activate:<version>"`: honoured for a version that passed
 * validation while no rollout runs on its env's default lane, refused (and nothing written)
 * otherwise. A scratch database of its own, since honouring it moves an env's active snapshot.
 */
let scratch: ScratchDatabase;
let v1: { snapshotId: string; version: string; env: string };
let v2: { snapshotId: string; version: string; env: string };

beforeAll(async () => {
  scratch = await createScratchDatabase('plain_activation');
  await applyMigrations(scratch.url);
  v1 = await storeExample(scratch.pool, 'hotel-ops-v1');
  v2 = await storeExample(scratch.pool, 'hotel-ops-v2');
}, 120_000);

afterAll(async () => {
  await scratch.drop();
});

const query = async (sql: string, params: unknown[] = []) => (await scratch.pool.query(sql, params)).rows;
const activeVersion = async (env: string) =>
  (await query('SELECT version FROM pkg_snapshots WHERE env = $1 AND is_active', [env]))[0]?.version ?? null;
const passValidation = (snapshotId: string) =>
  query(
    `INSERT INTO pkg_validation_runs (snapshot_uuid, finished_at, success, report)
     VALUES ($1, now(), TRUE, '{"passed": 21, "failed": 0}')`,
    [snapshotId],
  );
const writes = async () => ({
  promotions: (await query('SELECT count(*)::int AS n FROM pkg_promotions'))[0].n,
  outbox: (await query('SELECT count(*)::int AS n FROM pkg_outbox'))[0].n,
  events: (await query('SELECT count(*)::int AS n FROM pkg_rollout_events'))[0].n,
});

test('a version that never passed validation, or does not exist, is refused and nothing is written', async () => {
  const before = await writes();
  expect(await honourPlainActivation(scratch.pool, v1.version, 'test')).toEqual({
    outcome: 'refused',
    version: v1.version,
    reason: expect.stringContaining('has not passed validation'),
  });
  expect(await honourPlainActivation(scratch.pool, 'rules@9.9.9', 'test')).toEqual({
    outcome: 'refused',
    version: 'rules@9.9.9',
    reason: 'no snapshot rules@9.9.9',
  });
  expect(await activeVersion(v1.env)).toBeNull();
  expect(await writes()).toEqual(before);
});

test('a validated version becomes the active snapshot with its audit and lane message; again, nothing more', async () => {
  await passValidation(v1.snapshotId);
  expect(await honourPlainActivation(scratch.pool, v1.version, 'test')).toEqual({
    outcome: 'activated',
    version: v1.version,
    env: v1.env,
    previous: null,
  });
  expect(await activeVersion(v1.env)).toBe(v1.version);
  expect(
    await query(`SELECT stable_snapshot_id, candidate_snapshot_id FROM pkg_deployments WHERE target = 'default'`),
  ).toEqual([{ stable_snapshot_id: v1.snapshotId, candidate_snapshot_id: null }]);
  expect(await query('SELECT to_version, action, actor, reason FROM pkg_promotions')).toEqual([
    { to_version: v1.version, action: 'promote', actor: 'test', reason: `plain activate:${v1.version} on pkg_updates` },
  ]);
  expect(await query(`SELECT payload->>'type' AS type, payload->>'version' AS version FROM pkg_outbox`)).toEqual([
    { type: 'activate', version: v1.version },
  ]);
  expect(await query('SELECT event, snapshot_id FROM pkg_rollout_events')).toEqual([
    { event: 'activated', snapshot_id: 1 },
  ]);

  const before = await writes();
  expect(await honourPlainActivation(scratch.pool, v1.version, 'test')).toMatchObject({ outcome: 'already-active' });
  expect(await writes()).toEqual(before);
});

test('while a rollout runs on the default lane, even a validated version is refused', async () => {
  await passValidation(v2.snapshotId);
  await query(`UPDATE pkg_deployments SET candidate_snapshot_id = $1, canary_percent = 5 WHERE target = 'default'`, [
    v2.snapshotId,
  ]);
  expect(await honourPlainActivation(scratch.pool, v2.version, 'test')).toEqual({
    outcome: 'refused',
    version: v2.version,
    reason: `${v2.env}/default/default is rolling out ${v2.version}; ${v2.version} can be activated once that rollout ends`,
  });
  expect(await activeVersion(v2.env)).toBe(v1.version);
  await query(`UPDATE pkg_deployments SET candidate_snapshot_id = NULL, canary_percent = 0 WHERE target = 'default'`);
});

test('PUBLISH pkg_updates "activate:<version>" is honoured by the listener and logged', async () => {
  const channel = `pkg_updates_test_${randomUUID().slice(0, 8)}`;
  const subscriber = new Redis(loadConfig().REDIS_URL);
  const publisher = new Redis(loadConfig().REDIS_URL);
  const lines: string[] = [];
  const results: PlainActivation[] = [];
  try {
    await listenForPlainActivations({
      subscriber,
      pool: scratch.pool,
      channel,
      log: (line) => lines.push(line),
      onResult: (result) => results.push(result),
    });
    await publisher.publish(channel, JSON.stringify({ type: 'activate', env: 'dev', version: v2.version }));
    await publisher.publish(channel, 'activate:nothing@1.0.0');
    await publisher.publish(channel, `activate:${v2.version}`);
    await waitFor(async () => (results.length === 2 ? true : null), 10_000, 'two plain activations');
    // Messages are handled as they come, so their results may finish in either order.
    expect(results.map((r) => r.outcome).sort()).toEqual(['activated', 'refused']);
    expect([...lines].sort()).toEqual(
      [
        'plain activate:nothing@1.0.0: refused: no snapshot nothing@1.0.0',
        `plain activate:${v2.version}: activated in ${v2.env} (was ${v1.version})`,
      ].sort(),
    );
    expect(await activeVersion(v2.env)).toBe(v2.version);
    expect(await query(`SELECT actor FROM pkg_promotions WHERE to_version = $1`, [v2.version])).toEqual([
      { actor: PLAIN_ACTIVATION_ACTOR },
    ]);
  } finally {
    subscriber.disconnect();
    publisher.disconnect();
  }
});
