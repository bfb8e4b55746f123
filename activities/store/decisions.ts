import type { Pool, PoolClient } from 'pg';
import type { DecisionEvent, Outcome } from '../../policy/rollout/decision-record';
import { PkgError } from '../../policy/errors';
import type { ChainRecord } from '../../policy/rollout/decision-chain';
import type { ReceiptedPlan } from '../../policy/rollout/merge-receipt';
import { readRolloutPlan } from './rollout-plans';
import { inTransaction } from './transaction';

/** Decision records (pkg_decision_records): a tamper-evident chain per env. */
interface EventRow {
  event: string;
  step: number | null;
  percent: string | null;
  actor: string;
  reason: string | null;
  is_rollback: boolean;
  created_at: Date;
}

async function rolloutEvents(client: PoolClient, rolloutId: string): Promise<DecisionEvent[]> {
  const { rows } = await client.query<EventRow>(
    'SELECT event, step, to_percent AS percent, actor, reason, is_rollback, created_at FROM pkg_rollout_events WHERE rollout_id = $1 ORDER BY id',
    [rolloutId],
  );
  return rows.map((r) => ({
    event: r.event,
    step: r.step,
    percent: r.percent === null ? null : Number(r.percent),
    actor: r.actor,
    reason: r.reason,
    is_rollback: r.is_rollback,
    at: r.created_at.toISOString(),
  }));
}

async function chainHead(client: PoolClient, env: string): Promise<string | null> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('pkg_decision:' || $1))`, [env]);
  const { rows } = await client.query<{ id: string }>(
    `SELECT r.id FROM pkg_decision_records r
      WHERE r.env = $1 AND NOT EXISTS (SELECT 1 FROM pkg_decision_records n WHERE n.env = r.env AND n.previous_id = r.id)`,
    [env],
  );
  return rows[0]?.id ?? null;
}

/** What the record's author composes once the chain's head and the rollout's events are known. */
export interface DecisionChainLink {
  previousId: string | null;
  events: DecisionEvent[];
  /** The plan the rollout merged, with its receipt; null when it stored none. */
  plan: ReceiptedPlan | null;
}

export interface NewDecisionRow {
  id: string;
  snapshotId: string | null;
  outcome: Outcome;
  canonical: string;
  signature: string | null;
  narrative: string;
  /** Who started what the record decides, and whether the API verified it (outside the hashed content). */
  actor: string | null;
  actorVerified: boolean | null;
}

/**
 * Appends a rollout's decision record to its env's chain: once per rollout (rollout_id is unique;
 * a retry returns the first id), linked to the chain's head under an advisory lock so the chain
 * stays linear.
 */
export async function appendDecision(
  pool: Pool,
  env: string,
  rolloutId: string,
  compose: (link: DecisionChainLink) => NewDecisionRow,
): Promise<string> {
  return inTransaction(pool, (client) => appendDecisionIn(client, env, rolloutId, compose));
}

/** appendDecision inside the caller's transaction, so the record commits with what it records. */
export async function appendDecisionIn(
  client: PoolClient,
  env: string,
  rolloutId: string,
  compose: (link: DecisionChainLink) => NewDecisionRow,
): Promise<string> {
  const existing = await client.query<{ id: string }>('SELECT id FROM pkg_decision_records WHERE rollout_id = $1', [
    rolloutId,
  ]);
  if (existing.rows[0]) return existing.rows[0].id;
  const previousId = await chainHead(client, env);
  const events = await rolloutEvents(client, rolloutId);
  const row = compose({ previousId, events, plan: await readRolloutPlan(client, rolloutId) });
  await client.query(
    `INSERT INTO pkg_decision_records (id, env, rollout_id, snapshot_id, outcome, previous_id, canonical, signature, narrative,
                                       actor, actor_verified)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      row.id,
      env,
      rolloutId,
      row.snapshotId,
      row.outcome,
      previousId,
      row.canonical,
      row.signature,
      row.narrative,
      row.actor,
      row.actorVerified,
    ],
  );
  return row.id;
}

export interface StoredDecisionRow {
  id: string;
  env: string;
  rollout_id: string;
  outcome: Outcome;
  previous_id: string | null;
  canonical: string;
  signature: string | null;
  narrative: string;
  created_at: Date;
}

export async function readDecision(pool: Pool, id: string): Promise<StoredDecisionRow> {
  const { rows } = await pool.query<StoredDecisionRow>(
    'SELECT * FROM pkg_decision_records WHERE id = $1 OR rollout_id = $1',
    [id],
  );
  if (!rows[0]) throw new PkgError('NotFound', `no decision record ${id}`);
  return rows[0];
}

/** Every record of an env, oldest first: what `pkgctl decision verify --env` walks. */
export async function readDecisionChain(pool: Pool, env: string): Promise<ChainRecord[]> {
  const { rows } = await pool.query<ChainRecord>(
    'SELECT id, env, previous_id, canonical, signature FROM pkg_decision_records WHERE env = $1 ORDER BY created_at, id',
    [env],
  );
  return rows;
}

/** The env of a record, or null when there is no such record. */
export async function decisionEnv(pool: Pool, id: string): Promise<string | null> {
  const { rows } = await pool.query<{ env: string }>('SELECT env FROM pkg_decision_records WHERE id = $1', [id]);
  return rows[0]?.env ?? null;
}

/** `pkgctl history`: decision records (reverts included) and reverts from before they had one, newest first. */
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
         FROM pkg_promotions p JOIN pkg_snapshots s ON s.id = p.snapshot_uuid
        WHERE p.env = $1 AND p.action = 'revert'
          AND NOT EXISTS (SELECT 1 FROM pkg_decision_records d WHERE d.rollout_id = p.idempotency_key)
     ) h ORDER BY at DESC LIMIT $2`,
    [env, limit],
  );
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}
