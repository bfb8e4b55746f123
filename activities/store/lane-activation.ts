import type { PoolClient } from 'pg';
import { DEFAULT_LANE_PART, type Lane } from '../../policy/lane';

/**
 * What "active" means in a world of lanes (ARCHITECTURE.md §5). Every lane serves its own
 * pkg_deployments row. The env-wide active snapshot (the seed's is_active, one per env) is what the
 * env's default lane (`env/default/default`) serves as stable; a lane without a row of its own falls
 * back to it. So only a promotion or revert of the default lane moves it, and before it moves, every
 * lane with evaluators but no row is pinned to what it serves now: no other lane's serving changes.
 */
export interface Activation {
  lane: Lane;
  snapshotId: string;
  action: 'promote' | 'revert';
  actor: string;
  /** Whether the API verified the actor (README "Identity and access"); null in the row when absent. */
  actorVerified?: boolean;
  reason: string;
  /** Idempotency key of the pkg_promotions row: a retry finds it and writes nothing. */
  key: string;
}

export const isDefaultLane = (lane: Lane): boolean =>
  lane.target === DEFAULT_LANE_PART && lane.region === DEFAULT_LANE_PART;

/** Records the activation in pkg_promotions; returns what the lane served before. */
export async function activateOnLane(
  client: PoolClient,
  a: Activation,
): Promise<{ previousSnapshotId: string | null }> {
  const done = await client.query<{ previous_snapshot_id: string | null }>(
    'SELECT previous_snapshot_id FROM pkg_promotions WHERE idempotency_key = $1',
    [a.key],
  );
  if (done.rows[0]) return { previousSnapshotId: done.rows[0].previous_snapshot_id };
  if (isDefaultLane(a.lane)) {
    await pinLanesWithoutRow(client, a.lane.env, a.actor);
    const { rows } = await client.query<{ id: string }>('SELECT pkg_promote_snapshot($1::uuid, $2, $3, $4) AS id', [
      a.snapshotId,
      a.lane.env,
      a.actor,
      a.reason,
    ]);
    const updated = await client.query<{ previous_snapshot_id: string | null }>(
      `UPDATE pkg_promotions SET action = $2, idempotency_key = $3, actor_verified = $4
        WHERE id = $1 RETURNING previous_snapshot_id`,
      [rows[0]!.id, a.action, a.key, a.actorVerified ?? null],
    );
    return { previousSnapshotId: updated.rows[0]?.previous_snapshot_id ?? null };
  }
  const { rows } = await client.query<{ previous_snapshot_id: string | null }>(
    `INSERT INTO pkg_promotions (snapshot_uuid, previous_snapshot_id, env, target, region, action, actor, reason, idempotency_key,
                                 actor_verified)
     VALUES ($1, (SELECT coalesce((SELECT stable_snapshot_id FROM pkg_deployments
                                    WHERE env = $2 AND target = $3 AND region = $4 AND is_active),
                                  pkg_active_snapshot_uuid($2))),
             $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING previous_snapshot_id`,
    [
      a.snapshotId,
      a.lane.env,
      a.lane.target,
      a.lane.region,
      a.action,
      a.actor,
      a.reason,
      a.key,
      a.actorVerified ?? null,
    ],
  );
  return { previousSnapshotId: rows[0]?.previous_snapshot_id ?? null };
}

/** Lanes whose evaluators fall back to the env's active snapshot get a row serving it, before it moves. */
async function pinLanesWithoutRow(client: PoolClient, env: Lane['env'], actor: string): Promise<void> {
  await client.query(
    `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id, activated_by)
     SELECT DISTINCT v.env, v.target, v.region, pkg_active_snapshot_uuid($1), $2
       FROM pkg_device_versions v
      WHERE v.env = $1 AND v.device_type = 'evaluator' AND NOT (v.target = $3 AND v.region = $3)
     ON CONFLICT (env, target, region) DO NOTHING`,
    [env, `pinned before ${env}/${DEFAULT_LANE_PART}/${DEFAULT_LANE_PART} moved, by ${actor}`, DEFAULT_LANE_PART],
  );
}

/** Whether this lane served the snapshot as its stable before (a promotion or revert on it). */
export async function servedAsStable(client: PoolClient, lane: Lane, snapshotId: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `SELECT 1 FROM pkg_promotions
      WHERE env = $1 AND target = $2 AND region = $3 AND snapshot_uuid = $4 AND action IN ('promote', 'revert')`,
    [lane.env, lane.target, lane.region, snapshotId],
  );
  return (rowCount ?? 0) > 0;
}
