import { escapeIdentifier } from 'pg';
import type { Queryable } from './transaction';

/**
 * `pkg_decision_logs` (migrations/006): day partitions, batched inserts, and retention by dropping
 * whole partitions. Partitions are named by `pkg_decision_log_partition(day)`,
 * `pkg_decision_logs_YYYYMMDD`, which is how retention knows each one's day.
 */
const COLUMNS = `decision_id, "timestamp", env, target, region, snapshot_version, canary, mode, input, result, error, eval_ns`;

/**
 * One statement and one parameter per batch: the rows (decisionLogRowJson) travel as one JSON array
 * that Postgres parses once into records, rather than a parameter per value or an array per column.
 */
export async function insertDecisionLogs(db: Queryable, rowsJson: readonly string[]): Promise<void> {
  if (rowsJson.length === 0) return;
  await db.query(
    `INSERT INTO pkg_decision_logs (${COLUMNS})
     SELECT decision_id, to_timestamp(at / 1000), env, target, region, snapshot_version, canary, mode, input, result, error, eval_ns
       FROM jsonb_to_recordset($1::jsonb) AS r(decision_id uuid, at double precision, env pkg_env, target text,
            region text, snapshot_version text, canary boolean, mode text, input jsonb, result jsonb, error text, eval_ns bigint)
     ON CONFLICT DO NOTHING`,
    [`[${rowsJson.join(',')}]`],
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
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'pkg_decision_logs'::regclass
      WHERE c.relkind = 'r'
        AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'pkg_decision_logs'::regclass)
        AND c.relname ~ '^pkg_decision_logs_[0-9]{8}$'
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
    await db.query(`ALTER TABLE pkg_decision_logs DETACH PARTITION ${name} ${how}`);
  }
  await db.query(`DROP TABLE IF EXISTS ${name}`);
}
