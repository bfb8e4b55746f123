import type { Pool } from 'pg';
import type { Lane } from '../../policy/lane';

/**
 * What a lane should serve (ARCHITECTURE.md §5): the pkg_deployments row is the desired state, Redis
 * messages only say "look again". A lane without a row serves its env's active snapshot, which is
 * what the seed's plain `activate:<version>` message switches.
 */
export interface DesiredLaneState {
  lane: Lane;
  /** Serving snapshot id; null when the lane has a row but nothing serves yet. */
  snapshotId: string | null;
  candidateSnapshotId: string | null;
  canaryPercent: number;
  salt: string;
  rolloutId: string | null;
  /** 'deployment' when a pkg_deployments row exists, 'env-active' when it falls back. */
  source: 'deployment' | 'env-active' | 'none';
}

interface DeploymentRow {
  snapshot_id: string | null;
  candidate_snapshot_id: string | null;
  canary_percent: string;
  salt: string;
  rollout_id: string | null;
}

export async function readDesiredLaneState(pool: Pool, lane: Lane): Promise<DesiredLaneState> {
  const { rows } = await pool.query<DeploymentRow>(
    `SELECT stable_snapshot_id AS snapshot_id, candidate_snapshot_id, canary_percent::text, salt, rollout_id
       FROM pkg_deployments WHERE env = $1 AND target = $2 AND region = $3 AND is_active`,
    [lane.env, lane.target, lane.region],
  );
  const row = rows[0];
  if (row) {
    return {
      lane,
      snapshotId: row.snapshot_id,
      candidateSnapshotId: row.candidate_snapshot_id,
      canaryPercent: Number(row.canary_percent),
      salt: row.salt,
      rolloutId: row.rollout_id,
      source: 'deployment',
    };
  }
  const active = await pool.query<{ id: string | null }>('SELECT pkg_active_snapshot_uuid($1) AS id', [lane.env]);
  const snapshotId = active.rows[0]?.id ?? null;
  return {
    lane,
    snapshotId,
    candidateSnapshotId: null,
    canaryPercent: 0,
    salt: '',
    rolloutId: null,
    source: snapshotId ? 'env-active' : 'none',
  };
}

/** Same desired state: nothing to load or swap. */
export function sameDesiredState(a: DesiredLaneState, b: DesiredLaneState): boolean {
  return (
    a.snapshotId === b.snapshotId &&
    a.candidateSnapshotId === b.candidateSnapshotId &&
    a.canaryPercent === b.canaryPercent &&
    a.salt === b.salt
  );
}
