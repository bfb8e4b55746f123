import type { Pool } from 'pg';
import type { SigningPolicy } from '../../policy/bundle/signing';
import { PkgError } from '../../policy/errors';
import { verifySnapshotIntegrity } from '../../policy/integrity/seal';
import {
  artifactsOfPortable,
  portableOf,
  portableText,
  sealedOfPortable,
  type PortableSnapshot,
} from '../../policy/integrity/portable';
import { readSnapshot } from './snapshot-read';
import { insertSnapshotRow } from './snapshot-write';
import { insertSnapshotRows } from './snapshot-rows';
import { inTransaction } from './transaction';

/**
 * Snapshots moved between installations (pkgctl bundle export|import). An export is verified
 * like a load before it is written out; an import is written, hashed by this database and
 * verified the same way inside its transaction, so a file that does not chain up to its seal and
 * checksum (or lacks a signature this env requires) leaves nothing behind.
 */
export async function exportSnapshot(pool: Pool, version: string, signing: SigningPolicy): Promise<PortableSnapshot> {
  const record = await readSnapshot(pool, { version });
  verifySnapshotIntegrity(record.sealed, signing);
  return portableOf(record);
}

export interface ImportedSnapshot {
  snapshotId: string;
  version: string;
  checksum: string;
  seal: string;
  created: boolean;
}

export async function importSnapshot(
  pool: Pool,
  snapshot: PortableSnapshot,
  signing: SigningPolicy,
  actor: string,
): Promise<ImportedSnapshot> {
  const { snapshot_id: snapshotId, version, checksum, seal } = snapshot;
  const imported = { snapshotId, version, checksum, seal };
  if (await alreadyHere(pool, snapshot)) return { ...imported, created: false };
  await inTransaction(pool, async (client) => {
    const inserted = await insertSnapshotRow(client, {
      id: snapshotId,
      version,
      env: snapshot.env,
      engine: snapshot.compiled.engine,
      entrypoint: snapshot.compiled.entrypoint,
      manifest: snapshot.manifest,
      checksum,
      fileChecksums: snapshot.file_checksums,
      signature: snapshot.signature && { keyId: snapshot.signature.key_id, signature: snapshot.signature.signature },
      bundleDigest: null,
      actor,
      sealed: { contentSha256: snapshot.content_sha256, seal },
    });
    if (!inserted) throw conflict(snapshot, 'another import stored this version first');
    await insertSnapshotRows(client, snapshotId, {
      compiled: snapshot.compiled,
      fixtures: snapshot.fixtures,
      artifacts: artifactsOfPortable(snapshot),
    });
    const { rows } = await client.query<{ sha: string }>('SELECT pkg_snapshot_content_sha256($1) AS sha', [snapshotId]);
    verifySnapshotIntegrity(sealedOfPortable(snapshot, rows[0]!.sha), signing);
  });
  return { ...imported, created: true };
}

/**
 * Importing what is already here is a no-op only when this database would export exactly the
 * same document; anything else under its version or id is a conflict, never an overwrite.
 */
async function alreadyHere(pool: Pool, snapshot: PortableSnapshot): Promise<boolean> {
  const { rows } = await pool.query<{ id: string; version: string }>(
    'SELECT id, version FROM pkg_snapshots WHERE version = $1 OR id = $2',
    [snapshot.version, snapshot.snapshot_id],
  );
  const found = rows[0];
  if (!found) return false;
  if (rows.length === 1 && found.id === snapshot.snapshot_id && found.version === snapshot.version) {
    const stored = portableOf(await readSnapshot(pool, { id: found.id }));
    if (portableText(stored) === portableText(snapshot)) return true;
  }
  throw conflict(snapshot, `this database holds ${found.version} (${found.id}) with other content`);
}

function conflict(snapshot: PortableSnapshot, why: string): PkgError {
  return new PkgError('VersionConflict', `${snapshot.version} (${snapshot.snapshot_id}): ${why}; nothing overwritten`);
}
