import type { FactCleanupOptions } from '../../policy/facts/input';
import type { Queryable } from './transaction';

/**
 * Expired-fact cleanup (ARCHITECTURE.md §8): archive then delete, in bounded batches of one statement each,
 * walking each namespace in valid_to order behind a cursor. The cursor and counts are the progress
 * a heartbeat carries, so a retried activity resumes where the last one got to.
 */
/** Where a run is and what it did so far; JSON, because it travels as heartbeat details. */
export interface FactCleanupProgress {
  /** Facts with valid_to at or before this instant (ISO, µs) are cleaned; fixed at the run's start. */
  cutoff: string;
  /** The archived_at stamp (ISO, µs) of the last batch counted, or of the run's start. */
  countedUntil: string;
  /** The namespace being walked, and the latest valid_to archived in it. */
  namespace: string | null;
  fromValidTo: string | null;
  batches: number;
  counts: Record<string, NamespaceCount>;
}

export interface NamespaceCount {
  /** Expired rows found (dry run) or removed from pkg_facts (real run). */
  expired: number;
  archived: number;
}

export interface FactCleanupResult {
  dryRun: boolean;
  cutoff: string;
  graceMs: number;
  batchSize: number;
  batches: number;
  namespaces: ({ namespace: string } & NamespaceCount)[];
  totalExpired: number;
  totalArchived: number;
}

export interface CleanupHooks {
  resumeFrom?: FactCleanupProgress;
  onBatch?: (progress: FactCleanupProgress) => void | Promise<void>;
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs one cleanup to the end (library entry point for the CLI; the activity adds heartbeats). */
export async function runFactCleanup(
  db: Queryable,
  options: FactCleanupOptions,
  hooks: CleanupHooks = {},
): Promise<FactCleanupResult> {
  if (options.dryRun) return countExpired(db, options);
  const progress = hooks.resumeFrom
    ? await catchUp(db, options, hooks.resumeFrom)
    : await startProgress(db, options.grace);
  await hooks.onBatch?.(progress);
  for (const namespace of await namespacesToClean(db, options.namespace, progress.namespace)) {
    if (namespace !== progress.namespace) Object.assign(progress, { namespace, fromValidTo: null });
    await cleanNamespace(db, options, progress, hooks);
  }
  return summarise(options, progress, false);
}

async function cleanNamespace(
  db: Queryable,
  options: FactCleanupOptions,
  progress: FactCleanupProgress,
  hooks: CleanupHooks,
) {
  const pause = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    hooks.signal?.throwIfAborted();
    const batch = await archiveBatch(db, progress, options.batchSize);
    if (batch.deleted === 0) return;
    const count = (progress.counts[progress.namespace as string] ??= { expired: 0, archived: 0 });
    count.expired += batch.deleted;
    count.archived += batch.archived;
    Object.assign(progress, {
      fromValidTo: batch.lastValidTo,
      countedUntil: batch.archivedAt,
      batches: progress.batches + 1,
    });
    await hooks.onBatch?.(progress);
    // A short batch means no unlocked candidate is left; another query would only confirm it.
    if (batch.deleted < options.batchSize) return;
    if (options.batchPauseMs > 0) await pause(options.batchPauseMs);
  }
}

interface BatchRow {
  deleted: string;
  archived: string;
  last_valid_to: string | null;
  archived_at: string;
}

/**
 * One short transaction: lock up to a batch of expired rows (skipping rows a writer holds), delete
 * them and insert their archive copies in the same statement, so no row leaves without its copy.
 * The cursor is inclusive and orders by valid_to alone, so the index yields rows in order without
 * a sort even when many facts share one valid_to; rows before the cursor are already gone.
 */
const ARCHIVE_BATCH_SQL = `
  WITH doomed AS (
    SELECT f.id FROM pkg_facts f
     WHERE f.namespace = $1 AND f.valid_to IS NOT NULL AND f.valid_to <= $2::timestamptz
       AND f.valid_to >= coalesce($3::timestamptz, '-infinity')
     ORDER BY f.valid_to LIMIT $4 FOR UPDATE SKIP LOCKED
  ), moved AS (
    -- = ANY(ARRAY(...)) probes the primary key; a join with the CTE gets planned as a hash join
    -- over a scan of the whole table, once per batch.
    DELETE FROM pkg_facts f WHERE f.id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING f.*
  ), kept AS (
    INSERT INTO pkg_facts_archive (id, namespace, subject, predicate, object, valid_from, valid_to, created_at,
                                   snapshot_id, created_by, pkg_rule_id, pkg_provenance, validation_status)
    SELECT m.id, m.namespace, m.subject, m.predicate, m.object, m.valid_from, m.valid_to, m.created_at,
           m.snapshot_id, m.created_by, m.pkg_rule_id, m.pkg_provenance, m.validation_status FROM moved m
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM moved) AS deleted, (SELECT count(*) FROM kept) AS archived,
         (SELECT ${isoMicros('max(valid_to)')} FROM moved) AS last_valid_to, ${isoMicros('now()')} AS archived_at`;

async function archiveBatch(db: Queryable, progress: FactCleanupProgress, batchSize: number) {
  const { rows } = await db.query<BatchRow>(ARCHIVE_BATCH_SQL, [
    progress.namespace,
    progress.cutoff,
    progress.fromValidTo,
    batchSize,
  ]);
  const row = rows[0] as BatchRow;
  return {
    deleted: Number(row.deleted),
    archived: Number(row.archived),
    lastValidTo: row.last_valid_to,
    archivedAt: row.archived_at,
  };
}

/** Timestamps cross the heartbeat as text with microseconds, so the cursor is exact. */
function isoMicros(column: string): string {
  return `to_char((${column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** The cutoff comes from the database clock, the same clock that stamps and compares valid_to. */
async function startProgress(db: Queryable, graceMs: number): Promise<FactCleanupProgress> {
  const { rows } = await db.query<{ cutoff: string; started_at: string }>(
    `SELECT ${isoMicros("now() - $1::bigint * interval '1 millisecond'")} AS cutoff, ${isoMicros('now()')} AS started_at`,
    [graceMs],
  );
  const row = rows[0] as { cutoff: string; started_at: string };
  return {
    cutoff: row.cutoff,
    countedUntil: row.started_at,
    namespace: null,
    fromValidTo: null,
    batches: 0,
    counts: {},
  };
}

/**
 * Heartbeats are throttled, so a dead attempt may have committed batches after the progress the
 * retry received. Their rows sit in the archive stamped after the last counted batch (each batch
 * is its own transaction, stamped with its start): count them and move the cursor past them, so
 * the run's counts stay exact. (A second cleanup running at that very moment would be counted
 * too; the schedule's overlap SKIP keeps scheduled runs apart.)
 */
async function catchUp(
  db: Queryable,
  options: FactCleanupOptions,
  received: FactCleanupProgress,
): Promise<FactCleanupProgress> {
  const progress: FactCleanupProgress = structuredClone(received);
  const { rows } = await db.query<{ namespace: string; archived: string; last_valid_to: string; archived_at: string }>(
    `SELECT namespace, count(*) AS archived, ${isoMicros('max(valid_to)')} AS last_valid_to, ${isoMicros('max(archived_at)')} AS archived_at
       FROM pkg_facts_archive
      WHERE archived_at > $3::timestamptz AND valid_to <= $2::timestamptz AND ($1::text IS NULL OR namespace = $1)
      GROUP BY namespace ORDER BY namespace`,
    [options.namespace, progress.cutoff, progress.countedUntil],
  );
  for (const row of rows) {
    const count = (progress.counts[row.namespace] ??= { expired: 0, archived: 0 });
    count.expired += Number(row.archived);
    count.archived += Number(row.archived);
    const countedUntil = row.archived_at > progress.countedUntil ? row.archived_at : progress.countedUntil;
    Object.assign(progress, { namespace: row.namespace, fromValidTo: row.last_valid_to, countedUntil });
  }
  return progress;
}

/** One namespace, or every namespace holding expiring facts from the resume point on (loose index scan). */
async function namespacesToClean(db: Queryable, only: string | null, from: string | null): Promise<string[]> {
  if (only !== null) return [only];
  const { rows } = await db.query<{ name: string }>(
    `WITH RECURSIVE ns (name) AS (
       SELECT min(namespace) FROM pkg_facts WHERE valid_to IS NOT NULL AND namespace >= $1
       UNION ALL
       SELECT (SELECT min(namespace) FROM pkg_facts WHERE valid_to IS NOT NULL AND namespace > ns.name)
         FROM ns WHERE ns.name IS NOT NULL
     )
     SELECT name FROM ns WHERE name IS NOT NULL`,
    [from ?? ''],
  );
  return rows.map((row) => row.name);
}

/** Dry run: the seed's cleanup_expired_facts counts per namespace and changes nothing. */
async function countExpired(db: Queryable, options: FactCleanupOptions): Promise<FactCleanupResult> {
  const progress = await startProgress(db, options.grace);
  const { rows } = await db.query<{ namespace: string; expired: string }>(
    `SELECT namespace, expired FROM cleanup_expired_facts($1, true, $2::bigint * interval '1 millisecond')`,
    [options.namespace, options.grace],
  );
  for (const row of rows) progress.counts[row.namespace] = { expired: Number(row.expired), archived: 0 };
  return summarise(options, progress, true);
}

function summarise(options: FactCleanupOptions, progress: FactCleanupProgress, dryRun: boolean): FactCleanupResult {
  const namespaces = Object.entries(progress.counts)
    .map(([namespace, count]) => ({ namespace, ...count }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace));
  return {
    dryRun,
    cutoff: progress.cutoff,
    graceMs: options.grace,
    batchSize: options.batchSize,
    batches: progress.batches,
    namespaces,
    totalExpired: namespaces.reduce((sum, n) => sum + n.expired, 0),
    totalArchived: namespaces.reduce((sum, n) => sum + n.archived, 0),
  };
}
