import { escapeIdentifier } from 'pg';
import { chunkBody, type DecisionLogChunk } from '../../policy/decision-log/entry';
import type { Queryable } from './transaction';

/**
 * Decision logs (migrations/008): chunks in `pkg_decision_log_chunks`, one lane and one UTC day
 * each, in day partitions named by `pkg_decision_log_partition(day)`,
 * `pkg_decision_log_chunks_YYYYMMDD`, which is how retention knows each one's day. The view
 * `pkg_decision_logs` shows them a decision per row.
 */

/**
 * One statement per batch, a row of parameters per chunk: a batch is written whole or not at all.
 * Each body goes as a parameter of its own, as UTF-8 bytes (binary text): a text[] array would be
 * sent as one literal with every quote of the JSON escaped, which cost more than rendering the lines.
 */
export async function insertDecisionLogChunks(
  db: Queryable,
  chunks: readonly DecisionLogChunk<Uint8Array>[],
): Promise<void> {
  if (chunks.length === 0) return;
  const values: unknown[] = [];
  const rows = chunks.map((chunk) => {
    const at = values.length;
    values.push(chunk.lane.env, chunk.lane.target, chunk.lane.region, chunk.firstAt, chunk.lastAt);
    values.push(chunk.lines.length, chunkBody(chunk.lines));
    return `(gen_random_uuid(), $${at + 1}::pkg_env, $${at + 2}, $${at + 3}, to_timestamp($${at + 4}::double precision / 1000),
             to_timestamp($${at + 5}::double precision / 1000), $${at + 6}::int, $${at + 7})`;
  });
  await db.query(
    `INSERT INTO pkg_decision_log_chunks (chunk_id, env, target, region, first_at, last_at, decisions, body)
     VALUES ${rows.join(', ')}`,
    values,
  );
}

// Two writers creating the same partition at once: the loser's CREATE ... IF NOT EXISTS can still
// fail on the catalog's unique index; by then the partition exists.
const CREATED_CONCURRENTLY = new Set(['23505', '42P07']);

/** Creates the day partitions (YYYY-MM-DD, UTC) that are missing. */
export async function ensureDecisionLogPartitions(db: Queryable, days: readonly string[]): Promise<void> {
  for (const day of days) {
    const create = () => db.query('SELECT pkg_decision_log_partition($1::date)', [day]);
    await create().catch((error: { code?: string }) => {
      if (!CREATED_CONCURRENTLY.has(error.code ?? '')) throw error;
      return create();
    });
  }
}

export interface ExpiredPartition {
  name: string;
  attached: boolean;
  detachPending: boolean;
}

/**
 * Partitions whose whole day ended at least `retentionDays` days ago on the database clock, so no
 * writer still sends them rows. A table left detached by an interrupted run is listed too, so the
 * next run finishes it.
 */
export async function listExpiredDecisionLogPartitions(
  db: Queryable,
  retentionDays: number,
): Promise<ExpiredPartition[]> {
  const { rows } = await db.query<{ name: string; attached: boolean; detach_pending: boolean }>(
    `SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached, coalesce(i.inhdetachpending, false) AS detach_pending
       FROM pg_class c
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'pkg_decision_log_chunks'::regclass
      WHERE c.relkind = 'r'
        AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'pkg_decision_log_chunks'::regclass)
        AND c.relname ~ '^pkg_decision_log_chunks_[0-9]{8}$'
        AND (i.inhrelid IS NOT NULL OR NOT c.relispartition)
        AND ((to_date(right(c.relname, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC')
            <= now() - make_interval(days => $1)
      ORDER BY c.relname`,
    [retentionDays],
  );
  return rows.map((row) => ({ name: row.name, attached: row.attached, detachPending: row.detach_pending }));
}

/**
 * DETACH CONCURRENTLY, then DROP: writers of other days are never blocked behind the lock a plain
 * detach takes on the parent. Each step is safe to repeat, so a retry finishes what a dead run began.
 */
export async function dropDecisionLogPartition(db: Queryable, partition: ExpiredPartition): Promise<void> {
  const name = escapeIdentifier(partition.name);
  if (partition.attached) {
    const how = partition.detachPending ? 'FINALIZE' : 'CONCURRENTLY';
    await db.query(`ALTER TABLE pkg_decision_log_chunks DETACH PARTITION ${name} ${how}`);
  }
  await db.query(`DROP TABLE IF EXISTS ${name}`);
}
