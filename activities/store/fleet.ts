import type { Pool } from 'pg';
import type { Lane } from '../../policy/lane';

/** The fleet registry (pkg_device_versions): what each evaluator instance says it serves. */
const FORGET_AFTER = '1 hour';

export interface DeviceVersion {
  instanceId: string;
  lane: Lane;
  snapshotId: string | null;
  candidateSnapshotId: string | null;
  canaryPercent: number;
  loadedVersions: string[];
  /** The instance's own heartbeat period: it stops counting after three missed beats. */
  heartbeatMs: number;
}

/** A lane and how many live evaluators serve it. */
export interface LiveLane {
  lane: Lane;
  evaluators: number;
}

export async function upsertDeviceVersion(pool: Pool, row: DeviceVersion): Promise<void> {
  await pool.query(
    `INSERT INTO pkg_device_versions AS d
       (device_id, device_type, env, target, region, snapshot_uuid, candidate_snapshot_id, canary_percent,
        loaded_versions, heartbeat_ms, last_seen)
     VALUES ($1, 'evaluator', $2, $3, $4, $5, $6, $7, $8, $9, now())
     ON CONFLICT (device_id) DO UPDATE SET
       device_type = 'evaluator', env = EXCLUDED.env, target = EXCLUDED.target, region = EXCLUDED.region,
       snapshot_uuid = EXCLUDED.snapshot_uuid, candidate_snapshot_id = EXCLUDED.candidate_snapshot_id,
       canary_percent = EXCLUDED.canary_percent, loaded_versions = EXCLUDED.loaded_versions,
       heartbeat_ms = EXCLUDED.heartbeat_ms, last_seen = now()`,
    [
      row.instanceId,
      row.lane.env,
      row.lane.target,
      row.lane.region,
      row.snapshotId,
      row.candidateSnapshotId,
      row.canaryPercent,
      row.loadedVersions,
      row.heartbeatMs,
    ],
  );
}

export async function forgetInstance(pool: Pool, instanceId: string): Promise<void> {
  await pool.query('DELETE FROM pkg_device_versions WHERE device_id = $1', [instanceId]);
}

export async function forgetLongGone(pool: Pool): Promise<void> {
  await pool.query(
    `DELETE FROM pkg_device_versions WHERE device_type = 'evaluator' AND last_seen < now() - $1::interval`,
    [FORGET_AFTER],
  );
}

/** Every live evaluator instance and its lane, for Prometheus' discovery of scrape targets. */
export async function liveInstances(pool: Pool): Promise<{ instanceId: string; lane: Lane }[]> {
  const { rows } = await pool.query<{ instance_id: string; env: Lane['env']; target: string; region: string }>(
    'SELECT instance_id, env, target, region FROM pkg_live_evaluators ORDER BY instance_id',
  );
  return rows.map(({ instance_id, env, target, region }) => ({
    instanceId: instance_id,
    lane: { env, target, region },
  }));
}

/** Every lane some live evaluator serves (pkg_live_evaluators), busiest first. */
export async function liveLanes(pool: Pool): Promise<LiveLane[]> {
  const { rows } = await pool.query<{ env: Lane['env']; target: string; region: string; evaluators: string }>(
    `SELECT env, target, region, count(*) AS evaluators FROM pkg_live_evaluators
      GROUP BY env, target, region ORDER BY count(*) DESC, env, target, region`,
  );
  return rows.map(({ env, target, region, evaluators }) => ({
    lane: { env, target, region },
    evaluators: Number(evaluators),
  }));
}
