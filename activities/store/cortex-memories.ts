import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PkgError } from '../../policy/errors';
import type { Env } from '../../policy/lane';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER, copyTuple, type MemoryRecord } from '../../policy/cortex/memory';
import { vectorLiteral, type MemoryTier } from '../../policy/cortex/embedding';
import { inTransaction, type Queryable } from './transaction';

/**
 * The Unified Cortex memory (pkg_cortex_memories, its views and unified_cortex_semantic_search;
 * README "Semantic memory").
 */
export interface LocatedMemory {
  memory: MemoryRecord;
  /** file:line or a flag, for errors. */
  where: string;
}

export interface ImportResult {
  rows: number;
  /** Whether the HNSW index was dropped and built again after the load (a bulk import). */
  rebuiltIndex: boolean;
  copyMs: number;
  indexMs: number;
}

/**
 * Inserting into an HNSW index of 1024-dimension vectors costs about 20 ms a row here, building it
 * about 1 ms a row; so a batch of at least this many rows that is also a tenth of the table drops the
 * index and builds it again after the load. Readers wait for the lock meanwhile (hydration skips).
 */
const REBUILD_MIN_ROWS = 1000;
const REBUILD_SHARE = 0.1;
const COPY_CHUNK_ROWS = 64;
const INDEX_NAME = 'pkg_cortex_memories_embedding';
// The definition of migration "cortex_memory", kept equal so a rebuilt index is the same index.
const CREATE_INDEX = `CREATE INDEX ${INDEX_NAME} ON pkg_cortex_memories
  USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)`;

/**
 * One batch in one transaction: COPY into a staging table, then into pkg_cortex_memories (a known
 * id is replaced, so importing a file again changes nothing). A bad record, an unknown snapshot
 * or an id given twice aborts the COPY and nothing of the batch is written.
 */
export async function importMemories(
  pool: Pool,
  memories: AsyncIterable<LocatedMemory> | Iterable<LocatedMemory>,
): Promise<ImportResult> {
  return inTransaction(pool, async (client) => {
    await client.query(
      `CREATE TEMP TABLE cortex_import (LIKE pkg_cortex_memories INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
       ON COMMIT DROP`,
    );
    const started = performance.now();
    const copy = client.query(
      copyFrom(
        `COPY cortex_import (id, memory_tier, memory_label, content_sha256, embedding, snapshot_id)
         FROM STDIN (FORMAT binary)`,
      ),
    );
    await pipeline(Readable.from(copyChunks(pool, memories)), copy);
    const rows = copy.rowCount;
    const { rows: sized } = await client.query<{ n: string }>('SELECT count(*) AS n FROM pkg_cortex_memories');
    const rebuild = rows >= REBUILD_MIN_ROWS && rows >= Number(sized[0]!.n) * REBUILD_SHARE;
    if (rebuild) await client.query(`DROP INDEX ${INDEX_NAME}`);
    await client.query(
      `INSERT INTO pkg_cortex_memories (id, memory_tier, memory_label, content_sha256, embedding, snapshot_id)
       SELECT id, memory_tier, memory_label, content_sha256, embedding, snapshot_id FROM cortex_import
       ON CONFLICT (id) DO UPDATE SET memory_tier = EXCLUDED.memory_tier, memory_label = EXCLUDED.memory_label,
         content_sha256 = EXCLUDED.content_sha256, embedding = EXCLUDED.embedding,
         snapshot_id = EXCLUDED.snapshot_id, created_at = now()`,
    );
    const copied = performance.now();
    if (rebuild) {
      // An in-memory build is several times faster than one that spills.
      await client.query("SET LOCAL maintenance_work_mem = '1GB'");
      await client.query(CREATE_INDEX);
    }
    return { rows, rebuiltIndex: rebuild, copyMs: copied - started, indexMs: performance.now() - copied };
  });
}

/**
 * COPY's binary stream in chunks of rows; an id twice is an error. Snapshot versions are resolved
 * once each, on another connection: the COPY's own is busy until the stream ends.
 */
async function* copyChunks(
  db: Queryable,
  memories: AsyncIterable<LocatedMemory> | Iterable<LocatedMemory>,
): AsyncGenerator<Buffer> {
  const snapshots = new Map<string, string>();
  const seen = new Map<string, string>();
  let chunk: Buffer[] = [COPY_BINARY_HEADER];
  for await (const { memory, where } of memories) {
    const first = seen.get(memory.id);
    if (first !== undefined)
      throw new PkgError('InputInvalid', `${where}: id "${memory.id}" already given at ${first}`);
    seen.set(memory.id, where);
    let snapshotId: string | null = null;
    if (memory.snapshot !== null) {
      snapshotId = snapshots.get(memory.snapshot) ?? (await memorySnapshot(db, memory.snapshot, where)).id;
      snapshots.set(memory.snapshot, snapshotId);
    }
    chunk.push(copyTuple(memory, snapshotId));
    if (chunk.length >= COPY_CHUNK_ROWS) {
      yield Buffer.concat(chunk);
      chunk = [];
    }
  }
  yield Buffer.concat([...chunk, COPY_BINARY_TRAILER]);
}

/** The snapshot a memory names (its id, and its env for who may write the memory); NotFound, located, when there is none. */
export async function memorySnapshot(db: Queryable, version: string, where: string): Promise<{ id: string; env: Env }> {
  const { rows } = await db.query<{ id: string; env: Env }>('SELECT id, env FROM pkg_snapshots WHERE version = $1', [
    version,
  ]);
  if (!rows[0]) throw new PkgError('NotFound', `${where}: snapshot ${version} does not exist`);
  return rows[0];
}

export interface MemoryStats {
  total: number;
  byTier: { tier: MemoryTier; snapshot: string | null; count: number }[];
  indexBytes: number;
  oldest: Date | null;
  newest: Date | null;
}

export async function memoryStats(db: Queryable): Promise<MemoryStats> {
  const { rows } = await db.query<{ tier: MemoryTier; snapshot: string | null; count: string }>(
    `SELECT m.memory_tier AS tier, s.version AS snapshot, count(*) AS count
       FROM v_unified_cortex_memory m LEFT JOIN pkg_snapshots s ON s.id = m.snapshot_id
      GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST`,
  );
  const { rows: totals } = await db.query<{ total: string; oldest: Date | null; newest: Date | null; bytes: string }>(
    `SELECT count(*) AS total, min(created_at) AS oldest, max(created_at) AS newest,
            coalesce(pg_relation_size(to_regclass('${INDEX_NAME}')), 0) AS bytes
       FROM pkg_cortex_memories`,
  );
  const total = totals[0]!;
  return {
    total: Number(total.total),
    byTier: rows.map((row) => ({ ...row, count: Number(row.count) })),
    indexBytes: Number(total.bytes),
    oldest: total.oldest,
    newest: total.newest,
  };
}

export interface PruneRequest {
  /** Memories created longer ago than this go; with a tier and/or snapshot, only theirs. */
  olderThanMs: number;
  tier?: MemoryTier;
  snapshot?: string;
  dryRun: boolean;
}

/** Deletes (or with dryRun counts) old memories; a snapshot is named by version. */
export async function pruneMemories(db: Queryable, request: PruneRequest): Promise<number> {
  const where = `created_at < now() - $1::bigint * interval '1 millisecond'
    AND ($2::text IS NULL OR memory_tier = $2)
    AND ($3::text IS NULL OR snapshot_id = (SELECT id FROM pkg_snapshots WHERE version = $3))`;
  const params = [request.olderThanMs, request.tier ?? null, request.snapshot ?? null];
  if (request.snapshot) await memorySnapshot(db, request.snapshot, '--snapshot');
  const sql = request.dryRun
    ? `SELECT count(*) AS n FROM pkg_cortex_memories WHERE ${where}`
    : `WITH gone AS (DELETE FROM pkg_cortex_memories WHERE ${where} RETURNING 1) SELECT count(*) AS n FROM gone`;
  const { rows } = await db.query<{ n: string }>(sql, params);
  return Number(rows[0]!.n);
}

export interface SemanticSearch {
  embedding: readonly number[];
  /** The snapshot whose world is searched; null searches every memory. */
  snapshotId: string | null;
  minSimilarity: number;
  limit: number;
  tier?: MemoryTier;
}

export interface SemanticMatch {
  id: string;
  tier: MemoryTier;
  label: string;
  snapshot_id: string | null;
  similarity: number;
}

/** The seed's unified_cortex_semantic_search: nearest first, at least minSimilarity similar. */
export async function searchMemories(db: Queryable, search: SemanticSearch): Promise<SemanticMatch[]> {
  const { rows } = await db.query<SemanticMatch>(
    `SELECT id, memory_tier AS tier, memory_label AS label, memory_snapshot_id AS snapshot_id, similarity
       FROM unified_cortex_semantic_search($1::vector, $2::uuid, $3, $4, $5)`,
    [vectorLiteral(search.embedding), search.snapshotId, search.minSimilarity, search.limit, search.tier ?? null],
  );
  return rows;
}
