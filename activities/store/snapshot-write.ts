import type { Pool, PoolClient } from 'pg';
import type { Bundle } from '../../policy/bundle/bundle';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { PkgError } from '../../policy/errors';
import type { OpaArtifacts } from '../../policy/rego/artifacts';
import type { VerifiedSignature } from '../../policy/bundle/signing';
import { insertSnapshotRows } from './snapshot-rows';
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
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO pkg_snapshots (version, env, engine, entrypoint, schema_version, notes, checksum, bundle_digest, manifest,
                                  created_by, file_checksums, signature, signature_key_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (version) DO NOTHING RETURNING id`,
      snapshotValues(request),
    );
    const snapshotId = inserted.rows[0]?.id;
    if (snapshotId) {
      const { compiled, artifacts, bundle } = request;
      await insertSnapshotRows(client, snapshotId, { compiled, artifacts, fixtures: bundle.fixtures });
      await sealSnapshot(client, snapshotId);
      return { snapshotId, version, checksum, created: true };
    }
    // Inserted nothing: another compile stored this version first.
    const existing = await storedVersion(client, version, checksum);
    if (!existing) throw new Error(`snapshot ${version} vanished while storing it`);
    return existing;
  });
}

function snapshotValues({ bundle, compiled, bundleDigest, actor, signature }: StoreSnapshotRequest): unknown[] {
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
    JSON.stringify(bundle.fileChecksums),
    signature?.signature ?? null,
    signature?.keyId ?? null,
  ];
}

/**
 * Records the rule rows' hash and the seal over checksum, rules and artifacts, in the transaction
 * that wrote them: from here on no part of the snapshot can change without the evaluators seeing it.
 */
async function sealSnapshot(client: PoolClient, snapshotId: string): Promise<void> {
  await client.query(
    `UPDATE pkg_snapshots SET content_sha256 = pkg_snapshot_content_sha256(id), seal = pkg_snapshot_seal(id) WHERE id = $1`,
    [snapshotId],
  );
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
