import type { Pool } from 'pg';
import { readDecision } from '../activities/decisions';
import { verifyDecision, type DecisionCheck } from '../policy/rollout/decision-record';

/** `pkgctl history` and `pkgctl decision show|verify`: read-only views of the audit trail. */
export interface HistoryEntry {
  at: string;
  kind: 'decision' | 'revert';
  outcome: string;
  version: string | null;
  actor: string | null;
  summary: string;
  id: string;
}

export async function envHistory(pool: Pool, env: string, limit: number): Promise<HistoryEntry[]> {
  const { rows } = await pool.query<HistoryEntry & { at: Date }>(
    `SELECT * FROM (
       SELECT r.created_at AS at, 'decision' AS kind, r.outcome, s.version, NULL AS actor, r.narrative AS summary, r.id
         FROM pkg_decision_records r LEFT JOIN pkg_snapshots s ON s.id = r.snapshot_id
        WHERE r.env = $1
       UNION ALL
       SELECT p.created_at, 'revert', 'reverted', s.version, p.actor, coalesce(p.reason, ''), p.idempotency_key
         FROM pkg_promotions p JOIN pkg_snapshots s ON s.id = p.snapshot_id
        WHERE p.env = $1 AND p.action = 'revert'
     ) h ORDER BY at DESC LIMIT $2`,
    [env, limit],
  );
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

export interface DecisionVerification extends DecisionCheck {
  id: string;
  signed: boolean;
}

/** Hash and signature of the record, plus its link: the previous record exists in the same env. */
export async function verifyStoredDecision(
  pool: Pool,
  id: string,
  publicKeyPem?: string,
): Promise<DecisionVerification> {
  const stored = await readDecision(pool, id);
  const check = verifyDecision(stored, publicKeyPem);
  if (stored.previous_id !== null) {
    const previous = await pool.query<{ env: string }>('SELECT env FROM pkg_decision_records WHERE id = $1', [
      stored.previous_id,
    ]);
    if (previous.rows[0]?.env !== stored.env)
      check.problems.push(`previous record ${stored.previous_id} is missing from env ${stored.env}`);
  }
  const recorded = JSON.parse(stored.canonical) as { previous_id: string | null };
  if (recorded.previous_id !== stored.previous_id)
    check.problems.push('stored previous_id differs from the one inside the record');
  return {
    id: stored.id,
    signed: stored.signature !== null,
    ok: check.problems.length === 0,
    problems: check.problems,
  };
}
