import { DatabaseError, type Pool } from 'pg';
import { EVALUATOR_DEVICE_TYPE, type DeviceHeartbeat } from '../../policy/devices/heartbeat';
import { PkgError } from '../../policy/errors';
import type { Env, Lane } from '../../policy/lane';

/**
 * The fleet registry (pkg_device_versions): what each evaluator instance says it serves, and the
 * seed's edge devices (doors, robots, routers) with the version they run.
 */
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

/** An edge device's row as recorded: its target and env are what the database derived. */
export interface RecordedDevice {
  deviceId: string;
  deviceType: string;
  env: Env;
  target: string;
  region: string;
  snapshotNumber: number | null;
  version: string | null;
}

/**
 * Records an edge device's heartbeat the seed's way (device_id, device_type, region, snapshot_id or
 * version); the row's env defaults to `env` (the receiving evaluator's) unless its snapshot says
 * otherwise. An evaluator's own row is never overwritten by a device using its id.
 */
export async function recordDeviceHeartbeat(pool: Pool, env: Env, h: DeviceHeartbeat): Promise<RecordedDevice> {
  let rows: DeviceRow[];
  try {
    ({ rows } = await pool.query<DeviceRow>(
      `INSERT INTO pkg_device_versions AS d (device_id, device_type, env, region, snapshot_id, version, heartbeat_ms, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (device_id) DO UPDATE SET
         device_type = EXCLUDED.device_type, env = EXCLUDED.env, region = EXCLUDED.region,
         snapshot_id = EXCLUDED.snapshot_id, snapshot_uuid = EXCLUDED.snapshot_uuid, version = EXCLUDED.version,
         heartbeat_ms = EXCLUDED.heartbeat_ms, last_seen = now()
       WHERE d.device_type <> $8
       RETURNING device_id, device_type, env, target, region, snapshot_id, version`,
      [h.deviceId, h.deviceType, env, h.region, h.snapshotNumber, h.version, h.heartbeatMs, EVALUATOR_DEVICE_TYPE],
    ));
  } catch (error) {
    if (error instanceof DatabaseError && error.code === '23503') {
      throw new PkgError('NotFound', `heartbeat of ${h.deviceId}: snapshot_id ${h.snapshotNumber} does not exist`);
    }
    throw error;
  }
  const row = rows[0];
  if (!row) throw new PkgError('InputInvalid', `device_id ${h.deviceId} is an evaluator instance; pick another id`);
  return {
    deviceId: row.device_id,
    deviceType: row.device_type,
    env: row.env,
    target: row.target,
    region: row.region,
    snapshotNumber: row.snapshot_id,
    version: row.version,
  };
}

interface DeviceRow {
  device_id: string;
  device_type: string;
  env: Env;
  target: string;
  region: string;
  snapshot_id: number | null;
  version: string | null;
}
