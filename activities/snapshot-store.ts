import type { Pool, PoolClient } from 'pg';
import type { Bundle } from '../policy/bundle/bundle';
import type { CompiledSnapshot } from '../policy/engine/compiled-snapshot';
import { PkgError } from '../policy/errors';
import type { RunnableFixture } from '../policy/bundle/fixtures';
import type { OpaArtifacts, StoredArtifact } from '../policy/rego/artifacts';
import { insertSnapshotRows } from './snapshot-rows';
import { readSnapshot } from './snapshot-read';
import type { Env } from '../policy/lane';

/**
 * Snapshots in Postgres. A snapshot is written in one transaction (snapshot, subtask types, rules,
 * conditions, emissions, fixtures, artifacts) or not at all. The version is the idempotency key:
 * the same version with the same checksum is the same snapshot (a retried compile returns it),
 * the same version with another checksum is refused.
 */
export type SnapshotArtifacts = OpaArtifacts;

export interface StoreSnapshotRequest {
  bundle: Bundle;
  compiled: CompiledSnapshot;
  artifacts: SnapshotArtifacts;
  bundleDigest: string | null;
  actor: string;
}

export interface StoredSnapshot {
  snapshotId: string;
  version: string;
  checksum: string;
  created: boolean;
}

export interface LoadedSnapshot {
  snapshotId: string;
  version: string;
  checksum: string;
  env: Env;
  compiled: CompiledSnapshot;
  wasm: StoredArtifact;
  rego: StoredArtifact;
  fixtures: RunnableFixture[];
  manifest: Record<string, unknown>;
}

export async function storeSnapshot(pool: Pool, request: StoreSnapshotRequest): Promise<StoredSnapshot> {
  const { version } = request.compiled;
  const checksum = request.bundle.checksum;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO pkg_snapshots (version, env, engine, entrypoint, schema_version, notes, checksum, bundle_digest, manifest, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (version) DO NOTHING RETURNING id`,
      snapshotValues(request),
    );
    const snapshotId = inserted.rows[0]?.id;
    if (!snapshotId) {
      await client.query('ROLLBACK');
      return { ...(await existingSnapshot(client, version, checksum)), version, checksum, created: false };
    }
    await insertSnapshotRows(client, snapshotId, request);
    await client.query('COMMIT');
    return { snapshotId, version, checksum, created: true };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function snapshotValues({ bundle, compiled, bundleDigest, actor }: StoreSnapshotRequest): unknown[] {
  const { manifest } = bundle;
  return [
    compiled.version,
    manifest.env,
    compiled.engine,
    compiled.entrypoint,
    manifest.schema_version,
    manifest.notes ?? null,
    bundle.checksum,
    bundleDigest,
    JSON.stringify(manifest),
    actor,
  ];
}

/** Same version already stored: the same snapshot if the content matches, a conflict if not. */
async function existingSnapshot(
  client: PoolClient,
  version: string,
  checksum: string,
): Promise<{ snapshotId: string }> {
  const found = await client.query<{ id: string; checksum: string }>(
    'SELECT id, checksum FROM pkg_snapshots WHERE version = $1',
    [version],
  );
  const row = found.rows[0];
  if (!row) throw new Error(`snapshot ${version} vanished while storing it`);
  if (row.checksum !== checksum) {
    throw new PkgError(
      'VersionConflict',
      `${version} is already compiled with different content (checksum ${row.checksum}, this bundle ${checksum}); bump the version`,
    );
  }
  return { snapshotId: row.id };
}

/** The stored checksum of a version, or null: lets a compile skip the opa build for a known version. */
export async function findSnapshotChecksum(
  pool: Pool,
  version: string,
): Promise<{ snapshotId: string; checksum: string } | null> {
  const found = await pool.query<{ id: string; checksum: string }>(
    'SELECT id, checksum FROM pkg_snapshots WHERE version = $1',
    [version],
  );
  const row = found.rows[0];
  return row ? { snapshotId: row.id, checksum: row.checksum } : null;
}

export async function loadSnapshot(pool: Pool, which: { id: string } | { version: string }): Promise<LoadedSnapshot> {
  return readSnapshot(pool, which);
}
