import { readFileSync } from 'node:fs';
import type { Pool, PoolClient } from 'pg';
import {
  canonicalDecision,
  decisionId,
  narrateDecision,
  signDecision,
  type DecisionEvent,
  type DecisionRecord,
  type Outcome,
} from '../policy/rollout/decision-record';
import type { StepVerdict } from '../policy/rollout/gates';
import { PkgError } from '../policy/errors';
import type { BaselineRef, SnapshotRef } from './lane';
import { inTransaction } from './transaction';
import type { Lane } from '../policy/lane';

/**
 * Writes the decision record of a finished rollout: once per rollout (rollout_id is unique), linked
 * to the env's previous record under an advisory lock so the chain stays linear.
 */
export interface DecisionInput {
  rolloutId: string;
  lane: Lane;
  outcome: Outcome;
  reason: string;
  snapshot: SnapshotRef | null;
  baseline: BaselineRef | null;
  validation: { passed: number; failed: number } | null;
  verdicts: StepVerdict[];
}

export interface DecisionDeps {
  pool: Pool;
  /** PEM of an Ed25519 private key; records are unsigned without it. */
  signingKeyPath?: string;
  now?: () => Date;
}

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
    'SELECT event, step, percent, actor, reason, is_rollback, created_at FROM pkg_rollout_events WHERE rollout_id = $1 ORDER BY id',
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

async function writeDecisionRecord(deps: DecisionDeps, input: DecisionInput): Promise<string> {
  const signingKey = deps.signingKeyPath ? readFileSync(deps.signingKeyPath, 'utf8') : null;
  return inTransaction(deps.pool, async (client) => {
    const existing = await client.query<{ id: string }>('SELECT id FROM pkg_decision_records WHERE rollout_id = $1', [
      input.rolloutId,
    ]);
    if (existing.rows[0]) return existing.rows[0].id;
    const previousId = await chainHead(client, input.lane.env);
    const events = await rolloutEvents(client, input.rolloutId);
    const record: DecisionRecord = {
      schema: 1,
      env: input.lane.env,
      lane: input.lane,
      rollout_id: input.rolloutId,
      outcome: input.outcome,
      reason: input.reason,
      snapshot: input.snapshot && {
        id: input.snapshot.snapshotId,
        version: input.snapshot.version,
        checksum: input.snapshot.checksum,
      },
      previous_snapshot: input.baseline && { id: input.baseline.snapshotId, version: input.baseline.version },
      validation: input.validation,
      verdicts: input.verdicts,
      events,
      actors: [...new Set(events.map((e) => e.actor))].sort(),
      previous_id: previousId,
      decided_at: (deps.now?.() ?? new Date()).toISOString(),
    };
    const canonical = canonicalDecision(record);
    const id = decisionId(canonical);
    await client.query(
      `INSERT INTO pkg_decision_records (id, env, rollout_id, snapshot_id, outcome, previous_id, canonical, signature, narrative)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        record.env,
        input.rolloutId,
        input.snapshot?.snapshotId ?? null,
        input.outcome,
        previousId,
        canonical,
        signingKey ? signDecision(canonical, signingKey) : null,
        narrateDecision(record),
      ],
    );
    return id;
  });
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

export function createDecisionActivities(deps: DecisionDeps) {
  return {
    writeDecisionRecord: (input: DecisionInput) => writeDecisionRecord(deps, input),
  };
}
