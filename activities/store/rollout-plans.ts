import type { Pool } from 'pg';
import type { ReceiptedPlan } from '../../policy/rollout/merge-receipt';
import type { Queryable } from './transaction';

/** Rollout plans with their merge receipts (pkg_rollout_plans), one per rollout id. */
export async function insertRolloutPlan(
  pool: Pool,
  row: { rolloutId: string; env: string } & ReceiptedPlan,
): Promise<void> {
  await pool.query(
    `INSERT INTO pkg_rollout_plans (rollout_id, env, plan, merge_receipt) VALUES ($1, $2, $3, $4)
     ON CONFLICT (rollout_id) DO NOTHING`,
    [row.rolloutId, row.env, JSON.stringify(row.plan), JSON.stringify(row.merge_receipt)],
  );
}

export async function readRolloutPlan(db: Queryable, rolloutId: string): Promise<ReceiptedPlan | null> {
  const { rows } = await db.query<ReceiptedPlan>(
    'SELECT plan, merge_receipt FROM pkg_rollout_plans WHERE rollout_id = $1',
    [rolloutId],
  );
  return rows[0] ?? null;
}
