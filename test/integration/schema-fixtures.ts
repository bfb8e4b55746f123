import { createHash, randomUUID } from 'node:crypto';
import { DatabaseError, Pool, type PoolClient } from 'pg';
import type { Env } from '../../policy/lane';

/**
 * Rows for the schema tests. Every test runs inside BEGIN … ROLLBACK on its own client, so an
 * env-wide fact such as "the active snapshot of prod" never leaks into anyone else's tests.
 */
export type Db = PoolClient;

export async function inRolledBackTransaction(pool: Pool, work: (db: Db) => Promise<void>): Promise<void> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    await work(db);
  } finally {
    await db.query('ROLLBACK');
    db.release();
  }
}

export interface Refusal {
  code: string | undefined;
  constraint: string | undefined;
  message: string;
}

/** Runs a statement expected to fail, behind a savepoint so the test's transaction goes on. */
export async function refusal(db: Db, sql: string, params: unknown[] = []): Promise<Refusal> {
  await db.query('SAVEPOINT expected_refusal');
  try {
    await db.query(sql, params);
  } catch (error) {
    await db.query('ROLLBACK TO SAVEPOINT expected_refusal');
    if (!(error instanceof DatabaseError)) throw error;
    return { code: error.code, constraint: error.constraint, message: error.message };
  }
  throw new Error(`expected the database to refuse: ${sql}`);
}

export const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
export const suffix = () => randomUUID().slice(0, 8);

export interface SnapshotRow {
  id: string;
  version: string;
}

export async function insertSnapshot(
  db: Db,
  env: Env,
  options: { active?: boolean; checksum?: string } = {},
): Promise<SnapshotRow> {
  const version = `schema-test@1.0.0-${suffix()}`;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO pkg_snapshots (version, env, engine, entrypoint, schema_version, checksum, manifest, is_active, created_by)
     VALUES ($1, $2, 'native', 'pkg/result', '1', $3, '{}', $4, 'schema-test') RETURNING id`,
    [version, env, options.checksum ?? sha256(version), options.active ?? false],
  );
  return { id: rows[0]!.id, version };
}

export async function insertWasmArtifact(
  db: Db,
  snapshotId: string,
  bytes = Buffer.from(`wasm ${suffix()}`),
): Promise<string> {
  const digest = sha256(bytes);
  await db.query(
    `INSERT INTO pkg_snapshot_artifacts (snapshot_uuid, artifact_type, artifact_bytes, sha256) VALUES ($1, 'wasm_pack', $2, $3)`,
    [snapshotId, bytes, digest],
  );
  return digest;
}

/** Leaves `env` without an active snapshot inside the test's transaction. */
export async function clearActive(db: Db, env: string): Promise<void> {
  await db.query('UPDATE pkg_snapshots SET is_active = false WHERE env = $1 AND is_active', [env]);
}

export async function insertFact(
  db: Db,
  fact: { namespace: string; subject: string; predicate: string; validFrom: string; validTo: string | null },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO pkg_facts (namespace, subject, predicate, object, valid_from, valid_to)
     VALUES ($1, $2, $3, jsonb_build_object('p', $3::text), now() + $4::interval, now() + $5::interval) RETURNING id`,
    [fact.namespace, fact.subject, fact.predicate, fact.validFrom, fact.validTo],
  );
  return rows[0]!.id;
}
