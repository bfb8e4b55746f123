import type { Pool } from 'pg';

/**
 * Fixture runs (pkg_validation_runs), one row per run key: a retried or replayed run finds the
 * first run's report instead of writing a second row.
 */
export async function findValidationReport<T>(pool: Pool, runKey: string): Promise<T | null> {
  const { rows } = await pool.query<{ report: T }>('SELECT report FROM pkg_validation_runs WHERE run_key = $1', [
    runKey,
  ]);
  return rows[0]?.report ?? null;
}

export interface ValidationRun {
  snapshotId: string;
  runKey: string;
  engine: string;
  passed: number;
  failed: number;
  report: unknown;
  /** Who the run was for (README "Identity and access"): the rollout's or revert's actor. */
  actor?: string;
  /** Whether the API verified that actor; absent when nobody acted (null in the row). */
  actorVerified?: boolean;
}

export async function insertValidationRun(pool: Pool, run: ValidationRun): Promise<void> {
  await pool.query(
    `INSERT INTO pkg_validation_runs (snapshot_uuid, run_key, engine, report, success, finished_at, actor, actor_verified)
     VALUES ($1, $2, $3, $4::jsonb || jsonb_build_object('passed', $5::integer, 'failed', $6::integer), $6 = 0, now(), $7, $8)
     ON CONFLICT (run_key) DO NOTHING`,
    [
      run.snapshotId,
      run.runKey,
      run.engine,
      JSON.stringify(run.report),
      run.passed,
      run.failed,
      run.actor ?? null,
      run.actorVerified ?? null,
    ],
  );
}
