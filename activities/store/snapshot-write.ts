import type { Pool, PoolClient } from 'pg';
import type { Bundle } from '../../policy/bundle/bundle';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { PkgError } from '../../policy/errors';
import type { OpaArtifacts } from '../../policy/rego/artifacts';
import type { VerifiedSignature } from '../../policy/bundle/signing';
import type { Manifest } from '../../policy/bundle/schema';
import type { EngineKind } from '../../policy/engine/evaluation';
import type { Env } from '../../policy/lane';
import { insertSnapshotRows } from './snapshot-rows';
import { sealSnapshot } from './snapshot-seals';
import { inTransaction, type Queryable } from './transaction';

/**
 * Snapshots in Postgres. A snapshot is written in one transaction (snapshot, subtask types, rules,
 * conditions, emissions, fixtures, artifacts) or not at all. The version is the idempotency key:
 * the same version with the same checksum is the same snapshot (a retried compile returns it),
 * the same version with another checksum is refused.
 */
export interface StoreSnapshotRequest {
  bundle: Bundle;
  compiled: CompiledSnapshot;
  artifacts: OpaArtifacts;
  bundleDigest: string | null;
  actor: string;
  /** The bundle signature that verified at compile, kept so evaluators can check it again. */
  signature?: VerifiedSignature | null;
}

export interface StoredSnapshot {
  snapshotId: string;
  version: string;
  checksum: string;
  created: boolean;
}

export async function storeSnapshot(pool: Pool, request: StoreSnapshotRequest): Promise<StoredSnapshot> {
  const { version } = request.compiled;
  const checksum = request.bundle.checksum;
  return inTransaction(pool, async (client) => {
    const snapshotId = await insertSnapshotRow(client, snapshotRowOf(request));
    if (snapshotId) {
      const { compiled, artifacts, bundle } = request;
      await insertSnapshotRows(client, snapshotId, { compiled, artifacts, fixtures: bundle.fixtures });
      // The seal over checksum, content and artifacts, in the transaction that wrote them: from
      // here on no part of the snapshot can change without the evaluators seeing it.
      await sealSnapshot(client, snapshotId, request.actor);
      return { snapshotId, version, checksum, created: true };
    }
    // Inserted nothing: another compile stored this version first.
    const existing = await storedVersion(client, version, checksum);
    if (!existing) throw new Error(`snapshot ${version} vanished while storing it`);
    return existing;
  });
}

/** A pkg_snapshots row. An imported snapshot brings its id, content hash and seal; a compile makes them. */
export interface SnapshotRow {
  id: string | null;
  version: string;
  env: Env;
  engine: EngineKind;
  entrypoint: string;
  /** Stored whole; its schema_version and notes also fill their columns. */
  manifest: Pick<Manifest, 'schema_version' | 'notes'>;
  checksum: string;
  fileChecksums: Record<string, string>;
  signature: VerifiedSignature | null;
  bundleDigest: string | null;
  actor: string;
  sealed: { contentSha256: string; seal: string } | null;
}

/** The new row's id, or null when the version is already stored. */
export async function insertSnapshotRow(client: PoolClient, row: SnapshotRow): Promise<string | null> {
  const { manifest, signature, sealed } = row;
  const inserted = await client.query<{ id: string }>(
    `INSERT INTO pkg_snapshots (id, version, env, engine, entrypoint, schema_version, notes, checksum, bundle_digest, manifest,
                                created_by, file_checksums, signature, signature_key_id, content_sha256, seal)
     VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (version) DO NOTHING RETURNING id`,
    [
      row.id,
      row.version,
      row.env,
      row.engine,
      row.entrypoint,
      manifest.schema_version,
      manifest.notes ?? null,
      row.checksum,
      row.bundleDigest,
      JSON.stringify(manifest),
      row.actor,
      JSON.stringify(row.fileChecksums),
      signature?.signature ?? null,
      signature?.keyId ?? null,
      sealed?.contentSha256 ?? null,
      sealed?.seal ?? null,
    ],
  );
  return inserted.rows[0]?.id ?? null;
}

function snapshotRowOf({ bundle, compiled, bundleDigest, actor, signature }: StoreSnapshotRequest): SnapshotRow {
  return {
    id: null,
    version: compiled.version,
    env: bundle.manifest.env,
    engine: compiled.engine,
    entrypoint: compiled.entrypoint,
    manifest: bundle.manifest,
    checksum: bundle.checksum,
    fileChecksums: bundle.fileChecksums,
    signature: signature ?? null,
    bundleDigest,
    actor,
    sealed: null,
  };
}

/**
 * The snapshot already stored under a version, or null: the same snapshot if its checksum is this
 * content's, VersionConflict if not. Lets a compile skip the opa build for a known version.
 */
export async function storedVersion(db: Queryable, version: string, checksum: string): Promise<StoredSnapshot | null> {
  const found = await db.query<{ id: string; checksum: string }>(
    'SELECT id, checksum FROM pkg_snapshots WHERE version = $1',
    [version],
  );
  const row = found.rows[0];
  if (!row) return null;
  if (row.checksum !== checksum) {
    throw new PkgError(
      'VersionConflict',
      `${version} is already compiled with different content (checksum ${row.checksum}, this bundle ${checksum}); bump the version`,
    );
  }
  return { snapshotId: row.id, version, checksum, created: false };
}
