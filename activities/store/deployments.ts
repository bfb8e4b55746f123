import type { Pool, PoolClient } from 'pg';
import type { Coverage } from '../../policy/rollout/gates';
import { insertOutboxMessage, insertRolloutEvent, type LaneUpdate } from './audit';
import { inTransaction } from './transaction';
import { activateOnLane } from './lane-activation';
import type { Lane } from '../../policy/lane';

/**
 * Lane rows (pkg_deployments) and their changes (ARCHITECTURE.md §5/§6). Each writes pkg_deployments, an outbox message and an audit
 * row in one transaction, keyed by rollout and transition, so a retry writes nothing twice.
 */
export interface SnapshotRef {
  snapshotId: string;
  version: string;
  checksum: string;
}

export interface BaselineRef {
  snapshotId: string;
  version: string;
}

export interface LaneStepInput {
  rolloutId: string;
  lane: Lane;
  candidate: SnapshotRef;
  step: number;
  percent: number;
  actor: string;
  actorVerified?: boolean;
}

export interface LaneChangeInput {
  rolloutId: string;
  lane: Lane;
  candidate: SnapshotRef;
  actor: string;
  /** Whether the API verified the actor; absent for the pipeline's own changes (the gate's rollback). */
  actorVerified?: boolean;
  reason: string;
  details?: Record<string, unknown>;
}

/** The hot-swap message announcing a lane change that concerns this candidate. */
const laneUpdate = (type: LaneUpdate['type'], lane: Lane, candidate: SnapshotRef, percent: number): LaneUpdate => ({
  type,
  ...lane,
  version: candidate.version,
  snapshot_id: candidate.snapshotId,
  checksum: candidate.checksum,
  percent,
});

const laneParams = (lane: Lane) => [lane.env, lane.target, lane.region];

async function baselineOf(client: PoolClient, snapshotId: string | null): Promise<BaselineRef | null> {
  if (snapshotId === null) return null;
  const { rows } = await client.query<{ version: string }>('SELECT version FROM pkg_snapshots WHERE id = $1', [
    snapshotId,
  ]);
  return rows[0] ? { snapshotId, version: rows[0].version } : null;
}

/** A lane without a row serves its env's active snapshot, so that becomes the row's baseline. */
export async function setLaneStep(pool: Pool, input: LaneStepInput): Promise<BaselineRef | null> {
  const { rolloutId, lane, candidate, step, percent, actor, actorVerified } = input;
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ snapshot_id: string | null }>(
      `INSERT INTO pkg_deployments (env, target, region, stable_snapshot_id, candidate_snapshot_id, canary_percent, salt, rollout_id, activated_by)
       VALUES ($1, $2, $3, pkg_active_snapshot_uuid($1), $4, $5, $6, $6, $7)
       ON CONFLICT (env, target, region) DO UPDATE
         SET candidate_snapshot_id = EXCLUDED.candidate_snapshot_id, canary_percent = EXCLUDED.canary_percent,
             salt = EXCLUDED.salt, rollout_id = EXCLUDED.rollout_id, is_active = true,
             activated_by = EXCLUDED.activated_by, activated_at = now()
       RETURNING stable_snapshot_id AS snapshot_id`,
      [...laneParams(lane), candidate.snapshotId, percent, rolloutId, actor],
    );
    const key = `${rolloutId}:step:${step}`;
    await insertOutboxMessage(client, key, laneUpdate('canary', lane, candidate, percent));
    await insertRolloutEvent(client, {
      rolloutId,
      eventKey: key,
      lane,
      snapshotId: candidate.snapshotId,
      event: 'step',
      step,
      percent,
      actor,
      actorVerified,
    });
    return baselineOf(client, rows[0]?.snapshot_id ?? null);
  });
}

/** The candidate becomes the lane's stable; only the default lane's promotion moves the env's active snapshot. */
export async function promoteCandidate(pool: Pool, input: LaneChangeInput): Promise<void> {
  const { rolloutId, lane, candidate, actor, actorVerified, reason } = input;
  const key = `${rolloutId}:promote`;
  await inTransaction(pool, async (client) => {
    const activation = { lane, snapshotId: candidate.snapshotId, action: 'promote' as const, actor, actorVerified };
    await activateOnLane(client, { ...activation, reason, key });
    await client.query(
      `UPDATE pkg_deployments SET stable_snapshot_id = $4, candidate_snapshot_id = NULL, canary_percent = 0, rollout_id = $5,
              is_active = true, activated_by = $6, activated_at = now()
        WHERE env = $1 AND target = $2 AND region = $3`,
      [...laneParams(lane), candidate.snapshotId, rolloutId, actor],
    );
    await insertOutboxMessage(client, key, laneUpdate('activate', lane, candidate, 0));
    await insertRolloutEvent(client, {
      rolloutId,
      eventKey: key,
      lane,
      snapshotId: candidate.snapshotId,
      event: 'promoted',
      percent: 100,
      actor,
      actorVerified,
      reason,
      details: input.details,
    });
  });
}

/** Withdraws this rollout's canary; another rollout's state on the lane is left alone. */
export async function rollbackLane(pool: Pool, input: LaneChangeInput): Promise<void> {
  await inTransaction(pool, (client) => withdraw(client, input));
}

export interface LeftoverInput {
  lane: Lane;
  /** The rollout (or abort) healing the lane: a candidate of any other rollout is a leftover. */
  healer: string;
  actor: string;
  actorVerified?: boolean;
  reason: string;
}

export interface Leftover {
  rolloutId: string | null;
  candidate: SnapshotRef;
}

/**
 * Withdraws a candidate a dead rollout left on the lane (terminated, timed out, failed: no workflow
 * is left to do it), audited under the dead rollout's id with the same keys its own rollback would
 * have used, so it is never recorded twice. Returns what was withdrawn, or null when nothing was left.
 * Runs in the caller's transaction, which writes the dead rollout's decision with it (activities/abort.ts).
 */
export async function withdrawLeftover(client: PoolClient, input: LeftoverInput): Promise<Leftover | null> {
  const { rows } = await client.query<{ rollout_id: string | null; id: string; version: string; checksum: string }>(
    `SELECT d.rollout_id, s.id, s.version, s.checksum
       FROM pkg_deployments d JOIN pkg_snapshots s ON s.id = d.candidate_snapshot_id
      WHERE d.env = $1 AND d.target = $2 AND d.region = $3 AND d.rollout_id IS DISTINCT FROM $4
      FOR UPDATE OF d`,
    [...laneParams(input.lane), input.healer],
  );
  const row = rows[0];
  if (!row) return null;
  const candidate = { snapshotId: row.id, version: row.version, checksum: row.checksum };
  const rolloutId = row.rollout_id ?? `${input.healer}:leftover`;
  await withdraw(client, { ...input, rolloutId, candidate, details: { healedBy: input.healer } }, row.rollout_id);
  return { rolloutId: row.rollout_id, candidate };
}

/** One withdrawal: lane row, the rollback in pkg_promotions, the hot-swap message and the audit row. */
async function withdraw(
  client: PoolClient,
  input: LaneChangeInput,
  owner: string | null = input.rolloutId,
): Promise<void> {
  const { rolloutId, lane, candidate, actor, actorVerified, reason } = input;
  const key = `${rolloutId}:rollback`;
  const { rows } = await client.query<{ snapshot_id: string | null }>(
    `UPDATE pkg_deployments SET candidate_snapshot_id = NULL, canary_percent = 0, activated_by = $5, activated_at = now()
      WHERE env = $1 AND target = $2 AND region = $3 AND rollout_id IS NOT DISTINCT FROM $4
      RETURNING stable_snapshot_id AS snapshot_id`,
    [...laneParams(lane), owner, actor],
  );
  await client.query(
    `INSERT INTO pkg_promotions (snapshot_uuid, previous_snapshot_id, env, target, region, action, actor, reason, idempotency_key,
                                 actor_verified)
     VALUES ($1, $2, $3, $4, $5, 'rollback', $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING`,
    [
      candidate.snapshotId,
      rows[0]?.snapshot_id ?? null,
      ...laneParams(lane),
      actor,
      reason,
      key,
      actorVerified ?? null,
    ],
  );
  if (rows.length > 0) {
    await insertOutboxMessage(client, key, laneUpdate('rollback', lane, candidate, 0));
  }
  await insertRolloutEvent(client, {
    rolloutId,
    eventKey: key,
    lane,
    snapshotId: candidate.snapshotId,
    event: 'rolled_back',
    percent: 0,
    isRollback: true,
    actor,
    actorVerified,
    reason,
    details: input.details,
  });
}

export async function readCoverage(pool: Pool, lane: Lane): Promise<Coverage> {
  const { rows } = await pool.query<{ evaluators: string; serving_intended: string }>(
    'SELECT evaluators, serving_intended FROM pkg_deployment_coverage WHERE env = $1 AND target = $2 AND region = $3',
    laneParams(lane),
  );
  return { evaluators: Number(rows[0]?.evaluators ?? 0), serving: Number(rows[0]?.serving_intended ?? 0) };
}
