import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { insertOutboxMessage, insertRolloutEvent } from './audit';
import { inTransaction } from './transaction';
import { PkgError } from '../../policy/errors';
import type { Lane } from '../../policy/lane';

/**
 * `pkgctl revert`: re-activate an earlier snapshot on a lane, audited like a promotion (action
 * 'revert'), with the activate message in the same transaction. The caller checks that no rollout
 * runs on the lane first.
 */
export interface RevertResult {
  version: string;
  snapshotId: string;
  previousSnapshotId: string | null;
  revertId: string;
}

export async function revertLane(
  pool: Pool,
  lane: Lane,
  version: string,
  actor: string,
  reason: string,
): Promise<RevertResult> {
  const revertId = `revert:${randomUUID()}`;
  return inTransaction(pool, async (client) => {
    const found = await client.query<{ id: string; env: string; checksum: string }>(
      'SELECT id, env, checksum FROM pkg_snapshots WHERE version = $1',
      [version],
    );
    const snapshot = found.rows[0];
    if (!snapshot) throw new PkgError('NotFound', `snapshot ${version} does not exist`);
    if (snapshot.env !== lane.env)
      throw new PkgError('InputInvalid', `snapshot ${version} belongs to env ${snapshot.env}, not ${lane.env}`);
    const promoted = await client.query<{ id: string }>('SELECT pkg_promote_snapshot($1, $2, $3, $4) AS id', [
      snapshot.id,
      lane.env,
      actor,
      reason,
    ]);
    const row = await client.query<{ previous_snapshot_id: string | null }>(
      `UPDATE pkg_promotions SET action = 'revert', idempotency_key = $2 WHERE id = $1 RETURNING previous_snapshot_id`,
      [promoted.rows[0]!.id, revertId],
    );
    await client.query(
      `INSERT INTO pkg_deployments (env, target, region, snapshot_id, rollout_id, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (env, target, region) DO UPDATE
         SET snapshot_id = EXCLUDED.snapshot_id, candidate_snapshot_id = NULL, canary_percent = 0,
             rollout_id = EXCLUDED.rollout_id, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [lane.env, lane.target, lane.region, snapshot.id, revertId, actor],
    );
    await insertOutboxMessage(client, revertId, {
      type: 'activate',
      ...lane,
      version,
      snapshot_id: snapshot.id,
      checksum: snapshot.checksum,
      percent: 0,
    });
    await insertRolloutEvent(client, {
      rolloutId: revertId,
      eventKey: revertId,
      lane,
      snapshotId: snapshot.id,
      event: 'reverted',
      actor,
      reason,
    });
    return {
      version,
      snapshotId: snapshot.id,
      previousSnapshotId: row.rows[0]?.previous_snapshot_id ?? null,
      revertId,
    };
  });
}
