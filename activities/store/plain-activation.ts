import type { Pool } from 'pg';
import { insertOutboxMessage, insertRolloutEvent } from './audit';
import { activateOnLane } from './lane-activation';
import { inTransaction } from './transaction';
import { DEFAULT_LANE_PART, laneName, type Env, type Lane } from '../../policy/lane';
import { PLAIN_ACTIVATION_REFUSALS as REFUSED, type PlainActivation } from '../../policy/rollout/plain-activation';

/**
 * Honours or refuses the seed's plain `activate:<version>` (policy/rollout/plain-activation.ts) in
 * one transaction under the env's activation lock: the env's default lane gets the version as its
 * stable, pkg_promote_snapshot makes it the env's active snapshot, and the lane's activate message
 * and audit row are written with it. Every listener of the channel may call this for the same
 * message: the second finds the version active and writes nothing.
 */
interface Target {
  id: string;
  env: Env;
  checksum: string;
  validated: boolean;
  active_version: string | null;
  candidate_version: string | null;
}

export async function honourPlainActivation(pool: Pool, version: string, actor: string): Promise<PlainActivation> {
  return inTransaction(pool, async (client) => {
    const env = await client.query<{ env: Env }>('SELECT env FROM pkg_snapshots WHERE version = $1', [version]);
    if (!env.rows[0]) return { outcome: 'refused', version, reason: REFUSED.unknown(version) };
    const lane: Lane = { env: env.rows[0].env, target: DEFAULT_LANE_PART, region: DEFAULT_LANE_PART };
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('pkg_plain_activate:' || $1))`, [lane.env]);
    const { rows } = await client.query<Target>(
      `SELECT s.id, s.env, s.checksum,
              EXISTS (SELECT 1 FROM pkg_validation_runs r WHERE r.snapshot_uuid = s.id AND r.success) AS validated,
              (SELECT a.version FROM pkg_snapshots a WHERE a.env = s.env AND a.is_active) AS active_version,
              (SELECT c.version FROM pkg_deployments d JOIN pkg_snapshots c ON c.id = d.candidate_snapshot_id
                WHERE d.env = s.env AND d.target = $2 AND d.region = $2 AND d.is_active) AS candidate_version
         FROM pkg_snapshots s WHERE s.version = $1`,
      [version, DEFAULT_LANE_PART],
    );
    const target = rows[0]!;
    if (target.active_version === version) return { outcome: 'already-active', version, env: lane.env };
    if (!target.validated) return { outcome: 'refused', version, reason: REFUSED.notValidated(version) };
    if (target.candidate_version !== null) {
      return {
        outcome: 'refused',
        version,
        reason: REFUSED.rolloutRunning(version, laneName(lane), target.candidate_version),
      };
    }
    const key = `plain-activate:${version}:after:${target.active_version ?? 'none'}`;
    const reason = `plain activate:${version} on pkg_updates`;
    await activateOnLane(client, { lane, snapshotId: target.id, action: 'promote', actor, reason, key });
    await client.query(
      `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id, rollout_id, activated_by) VALUES ($1, $2, $2, $3, $4, $5)
       ON CONFLICT (env, target, region) DO UPDATE
         SET stable_snapshot_id = EXCLUDED.stable_snapshot_id, candidate_snapshot_id = NULL, canary_percent = 0,
             rollout_id = EXCLUDED.rollout_id, is_active = true, activated_by = EXCLUDED.activated_by, activated_at = now()`,
      [lane.env, DEFAULT_LANE_PART, target.id, key, actor],
    );
    await insertOutboxMessage(client, key, {
      type: 'activate',
      ...lane,
      version,
      snapshot_id: target.id,
      checksum: target.checksum,
      percent: 0,
    });
    await insertRolloutEvent(client, {
      rolloutId: key,
      eventKey: key,
      lane,
      snapshotId: target.id,
      event: 'activated',
      actor,
      reason,
    });
    return { outcome: 'activated', version, env: lane.env, previous: target.active_version };
  });
}
