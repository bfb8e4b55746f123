import type { Pool } from 'pg';
import type { ServingLane } from './lanes';
import type { Lane } from '../../policy/lane';

/**
 * Fleet registry (design §5): each evaluator upserts what it actually serves for its lane into
 * pkg_device_versions, so pkg_deployment_coverage can tell whether the whole lane has loaded a
 * step. Rows older than pkg_evaluator_stale_after() stop counting in that view at once; rows of
 * instances gone for long are deleted so the table does not collect every instance ever started.
 */
const FORGET_AFTER = '1 hour';
const FORGET_EVERY_BEATS = 20;

export interface FleetEntry {
  instanceId: string;
  lane: Lane;
  state: ServingLane | undefined;
  loadedVersions: string[];
}

export async function heartbeat(pool: Pool, entry: FleetEntry): Promise<void> {
  const desired = entry.state?.desired;
  await pool.query(
    `INSERT INTO pkg_device_versions AS d
       (instance_id, device_type, env, target, region, snapshot_id, candidate_snapshot_id, canary_percent,
        loaded_versions, last_seen)
     VALUES ($1, 'evaluator', $2, $3, $4, $5, $6, $7, $8, now())
     ON CONFLICT (instance_id) DO UPDATE SET
       device_type = 'evaluator', env = EXCLUDED.env, target = EXCLUDED.target, region = EXCLUDED.region,
       snapshot_id = EXCLUDED.snapshot_id, candidate_snapshot_id = EXCLUDED.candidate_snapshot_id,
       canary_percent = EXCLUDED.canary_percent, loaded_versions = EXCLUDED.loaded_versions, last_seen = now()`,
    [
      entry.instanceId,
      entry.lane.env,
      entry.lane.target,
      entry.lane.region,
      desired?.snapshotId ?? null,
      desired?.candidateSnapshotId ?? null,
      desired?.canaryPercent ?? 0,
      entry.loadedVersions,
    ],
  );
}

export async function forgetInstance(pool: Pool, instanceId: string): Promise<void> {
  await pool.query('DELETE FROM pkg_device_versions WHERE instance_id = $1', [instanceId]);
}

async function forgetLongGone(pool: Pool): Promise<void> {
  await pool.query(
    `DELETE FROM pkg_device_versions WHERE device_type = 'evaluator' AND last_seen < now() - $1::interval`,
    [FORGET_AFTER],
  );
}

export interface FleetReporter {
  /** Beat now (after a swap, so coverage moves without waiting for the period). */
  beat(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** `onBeat` hears every outcome (null = written), so readiness can report Postgres going and coming back. */
export function createFleetReporter(
  pool: Pool,
  periodMs: number,
  entry: () => FleetEntry,
  onBeat: (error: unknown) => void,
): FleetReporter {
  let timer: NodeJS.Timeout | undefined;
  let beats = 0;
  const beat = async () => {
    try {
      await heartbeat(pool, entry());
      if (++beats % FORGET_EVERY_BEATS === 1) await forgetLongGone(pool);
      onBeat(null);
    } catch (error) {
      onBeat(error);
    }
  };
  return {
    beat,
    start() {
      timer = setInterval(() => void beat(), periodMs);
      timer.unref();
      void beat();
    },
    async stop() {
      clearInterval(timer);
      await forgetInstance(pool, entry().instanceId).catch(onBeat);
    },
  };
}
