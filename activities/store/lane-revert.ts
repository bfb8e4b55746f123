import type { Pool } from 'pg';
import { insertOutboxMessage, insertRolloutEvent } from './audit';
import { inTransaction } from './transaction';
import { activateOnLane, servedAsStable } from './lane-activation';
import type { BaselineRef, SnapshotRef } from './deployments';
import { PkgError } from '../../policy/errors';
import { laneName, type Lane } from '../../policy/lane';

/**
 * `pkgctl revert`'s writes: which snapshot a lane may go back to, and the re-activation itself,
 * audited like a promotion (action 'revert') with the activate message in the same transaction.
 * The caller checks that no rollout runs on the lane and runs the fixtures first (activities/revert.ts).
 */
export async function revertTarget(pool: Pool, lane: Lane, version: string, force: boolean): Promise<SnapshotRef> {
  return inTransaction(pool, async (client) => {
    const found = await client.query<{ id: string; env: string; checksum: string }>(
      'SELECT id, env, checksum FROM pkg_snapshots WHERE version = $1',
      [version],
    );
    const snapshot = found.rows[0];
    if (!snapshot) throw new PkgError('NotFound', `snapshot ${version} does not exist`);
    if (snapshot.env !== lane.env) {
      throw new PkgError('InputInvalid', `snapshot ${version} belongs to env ${snapshot.env}, not ${lane.env}`);
    }
    if (!force && !(await servedAsStable(client, lane, snapshot.id))) {
      const stables = await client.query<{ version: string }>(
        `SELECT DISTINCT s.version FROM pkg_promotions p JOIN pkg_snapshots s ON s.id = p.snapshot_uuid
          WHERE p.env = $1 AND p.target = $2 AND p.region = $3 AND p.action IN ('promote', 'revert') ORDER BY 1`,
        [lane.env, lane.target, lane.region],
      );
      const known = stables.rows.map((r) => r.version).join(', ') || 'none yet';
      throw new PkgError(
        'ActionRefused',
        `${version} was never the stable snapshot of lane ${laneName(lane)} (its stables: ${known}); ` +
          'a revert goes back to one of those, or pass --force with a --reason to override',
      );
    }
    return { snapshotId: snapshot.id, version, checksum: snapshot.checksum };
  });
}

export interface RevertWrite {
  revertId: string;
  lane: Lane;
  snapshot: SnapshotRef;
  actor: string;
  actorVerified: boolean;
  reason: string;
  forced: boolean;
}

/** The lane serves `snapshot` again; returns what it served before. */
export async function revertLane(pool: Pool, input: RevertWrite): Promise<BaselineRef | null> {
  const { revertId, lane, snapshot, actor, actorVerified, reason } = input;
  return inTransaction(pool, async (client) => {
    const before = await client.query<{ id: string; version: string }>(
      `SELECT s.id, s.version FROM pkg_snapshots s
        WHERE s.id = coalesce((SELECT stable_snapshot_id FROM pkg_deployments
                                WHERE env = $1 AND target = $2 AND region = $3 AND is_active),
                              pkg_active_snapshot_uuid($1))`,
      [lane.env, lane.target, lane.region],
    );
    await activateOnLane(client, {
      lane,
      snapshotId: snapshot.snapshotId,
      action: 'revert',
      actor,
      actorVerified,
      reason,
      key: revertId,
    });
    await client.query(
      `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id, rollout_id, activated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (env, target, region) DO UPDATE
         SET stable_snapshot_id = EXCLUDED.stable_snapshot_id, candidate_snapshot_id = NULL, canary_percent = 0,
             rollout_id = EXCLUDED.rollout_id, is_active = true, activated_by = EXCLUDED.activated_by, activated_at = now()`,
      [lane.env, lane.target, lane.region, snapshot.snapshotId, revertId, actor],
    );
    await insertOutboxMessage(client, revertId, {
      type: 'activate',
      ...lane,
      version: snapshot.version,
      snapshot_id: snapshot.snapshotId,
      checksum: snapshot.checksum,
      percent: 0,
    });
    await insertRolloutEvent(client, {
      rolloutId: revertId,
      eventKey: revertId,
      lane,
      snapshotId: snapshot.snapshotId,
      event: 'reverted',
      actor,
      actorVerified,
      reason,
      details: { forced: input.forced },
    });
    const previous = before.rows[0];
    return previous ? { snapshotId: previous.id, version: previous.version } : null;
  });
}
