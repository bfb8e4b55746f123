import type { Pool } from 'pg';

/**
 * Operator actions and rollout starts ('promote') the API verified (pkg_verified_actions): written by
 * the API, read by the workflow's activity.
 */
export interface VerifiedAction {
  workflowId: string;
  action: string;
  subject: string;
}

export async function insertVerifiedAction(pool: Pool, action: VerifiedAction): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    'INSERT INTO pkg_verified_actions (workflow_id, action, subject) VALUES ($1, $2, $3) RETURNING id',
    [action.workflowId, action.action, action.subject],
  );
  return rows[0]!.id;
}

/**
 * The verified subject of a rollout start, claimed by the run it started: null for an unknown id,
 * another workflow, or a start another run claimed first. The same run claiming again (a retried
 * activity, a reset) gets its subject again.
 */
export async function claimVerifiedStart(
  pool: Pool,
  id: string,
  workflowId: string,
  runId: string,
): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await pool.query<{ subject: string }>(
    `UPDATE pkg_verified_actions SET claimed_by = $3
      WHERE id = $1 AND workflow_id = $2 AND action = 'promote' AND (claimed_by IS NULL OR claimed_by = $3)
      RETURNING subject`,
    [id, workflowId, runId],
  );
  return rows[0]?.subject ?? null;
}

/** The verified subject of this action on this workflow, or null (unknown id, other workflow or action). */
export async function findVerifiedSubject(
  pool: Pool,
  id: string,
  workflowId: string,
  action: string,
): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await pool.query<{ subject: string }>(
    'SELECT subject FROM pkg_verified_actions WHERE id = $1 AND workflow_id = $2 AND action = $3',
    [id, workflowId, action],
  );
  return rows[0]?.subject ?? null;
}
