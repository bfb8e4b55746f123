import { createOutboxRelay } from '../../worker/outbox-relay';
import { promoteCandidate, setLaneStep, type SnapshotRef } from '../../activities/store/deployments';
import { revert } from '../../activities/revert';
import type { Lane } from '../../policy/lane';
import {
  evaluate,
  randomLane,
  sleep,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Lane isolation (ARCHITECTURE.md §5): live evaluators on the env's default lane and on another
 * lane; promotions and a revert through the same store functions the promotion activities use, the
 * outbox relayed to Redis as the pipeline worker does. Nothing done on one lane changes what the
 * other serves, although the default lane's promotion moves the env's active snapshot.
 */
jest.setTimeout(180_000);
const services = useEvaluatorServices();
const main: Lane = { env: 'dev', target: 'default', region: 'default' };

type Stored = Awaited<ReturnType<typeof storeExample>> & { checksum?: string };

async function refOf(snapshot: Stored): Promise<SnapshotRef> {
  const { rows } = await services.pool.query<{ checksum: string }>('SELECT checksum FROM pkg_snapshots WHERE id = $1', [
    snapshot.snapshotId,
  ]);
  return { snapshotId: snapshot.snapshotId, version: snapshot.version, checksum: rows[0]!.checksum };
}

const served = async (evaluator: RunningEvaluator): Promise<unknown> =>
  (await evaluate(evaluator, { input: { tags: ['vip'] }, routing_key: 'guest:1' })).body.snapshot ?? null;

async function servesSoon(evaluators: RunningEvaluator[], version: unknown, what: string): Promise<void> {
  await waitFor(
    async () => ((await Promise.all(evaluators.map(served))).every((v) => v === version) ? true : null),
    20_000,
    what,
  );
}

/** Still serving `version` after the other lane's change had time to reach every evaluator. */
async function keepsServing(evaluators: RunningEvaluator[], version: unknown): Promise<void> {
  for (let i = 0; i < 6; i++) {
    expect(await Promise.all(evaluators.map(served))).toEqual(evaluators.map(() => version));
    await sleep(500);
  }
}

/**
 * The env's default lane and active snapshot as they were: this test moves both, and left moved
 * they become every new dev lane's baseline (a demo rollout then compared itself with a test copy).
 */
async function restoresDevDefault(): Promise<() => Promise<void>> {
  const { pool } = services;
  const active = (await pool.query<{ id: string | null }>("SELECT pkg_active_snapshot_uuid('dev') AS id")).rows[0]!.id;
  const lane = [main.env, main.target, main.region];
  const { rows } = await pool.query<{ stable: string | null }>(
    'SELECT stable_snapshot_id AS stable FROM pkg_deployments WHERE env = $1 AND target = $2 AND region = $3',
    lane,
  );
  return async () => {
    await pool.query("UPDATE pkg_snapshots SET is_active = false WHERE env = 'dev' AND is_active");
    if (active !== null) await pool.query('UPDATE pkg_snapshots SET is_active = true WHERE id = $1', [active]);
    if (rows.length === 0)
      await pool.query('DELETE FROM pkg_deployments WHERE env = $1 AND target = $2 AND region = $3', lane);
    else
      await pool.query(
        `UPDATE pkg_deployments SET stable_snapshot_id = $4, candidate_snapshot_id = NULL, canary_percent = 0
          WHERE env = $1 AND target = $2 AND region = $3`,
        [...lane, rows[0]!.stable],
      );
  };
}

test('a promotion or revert on one lane never changes what another lane serves', async () => {
  const restore = await restoresDevDefault();
  try {
    const { pool, redis } = services;
    const relay = createOutboxRelay({ pool, redis });
    const other = randomLane('dev');
    const [v1, v2, v3] = [
      await storeExample(pool, 'hotel-ops-v1'),
      await storeExample(pool, 'hotel-ops-v2'),
      await storeExample(pool, 'hotel-ops-v1'),
    ];
    const promoteOn = async (lane: Lane, snapshot: Stored, rolloutId: string) => {
      const candidate = await refOf(snapshot);
      await setLaneStep(pool, { rolloutId, lane, candidate, step: 0, percent: 50, actor: 'isolation-test' });
      await promoteCandidate(pool, { rolloutId, lane, candidate, actor: 'isolation-test', reason: 'test' });
      await relay.publishPending();
    };
    const activeOfEnv = async () =>
      (await pool.query<{ id: string | null }>("SELECT pkg_active_snapshot_uuid('dev') AS id")).rows[0]!.id;

    const mainEvaluators = [await startEvaluator(main)];
    const otherEvaluators = [await startEvaluator(other), await startEvaluator(other)];
    services.running.push(...mainEvaluators, ...otherEvaluators);
    // The other lane has no row of its own yet: it serves whatever the env's active snapshot is.
    const before = await served(otherEvaluators[0]!);

    await promoteOn(main, v1, `isolation-${v1.version}`);
    await servesSoon(mainEvaluators, v1.version, 'the default lane to serve v1');
    expect(await activeOfEnv()).toBe(v1.snapshotId);
    await keepsServing(otherEvaluators, before);

    await promoteOn(other, v2, `isolation-${v2.version}`);
    await servesSoon(otherEvaluators, v2.version, 'the other lane to serve v2');
    expect(await activeOfEnv()).toBe(v1.snapshotId);
    await keepsServing(mainEvaluators, v1.version);

    await promoteOn(main, v3, `isolation-${v3.version}`);
    await servesSoon(mainEvaluators, v3.version, 'the default lane to serve v3');
    await keepsServing(otherEvaluators, v2.version);

    const reverted = await revert(
      { pool },
      { lane: main, version: v1.version, actor: 'oncall', reason: 'isolation test', force: false },
    );
    await relay.publishPending();
    expect(reverted.previous?.version).toBe(v3.version);
    await servesSoon(mainEvaluators, v1.version, 'the default lane to serve v1 again');
    await keepsServing(otherEvaluators, v2.version);
  } finally {
    await restore();
  }
});
