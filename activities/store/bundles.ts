import type { Pool } from 'pg';
import type { BundleFiles } from '../../policy/bundle/bundle';
import { sha256Hex } from '../../policy/bundle/checksum';
import { unpackBundle } from '../../policy/bundle/pack';
import { PkgError } from '../../policy/errors';

/** Uploaded bundles, content-addressed by the sha256 of their packed bytes (pkg_bundles). */

/** Same bytes, same digest, one row: uploading twice is a no-op. */
export async function insertBundle(pool: Pool, digest: string, packed: Buffer, actor: string): Promise<void> {
  await pool.query(
    `INSERT INTO pkg_bundles (digest, bytes, size, uploaded_by) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING`,
    [digest, packed, packed.byteLength, actor],
  );
}

/** The files of an uploaded bundle, refused when its stored bytes no longer hash to its digest. */
export async function readUploadedBundle(pool: Pool, digest: string): Promise<BundleFiles> {
  const { rows } = await pool.query<{ bytes: Buffer }>('SELECT bytes FROM pkg_bundles WHERE digest = $1', [digest]);
  const row = rows[0];
  if (!row) throw new PkgError('NotFound', `no uploaded bundle with digest ${digest}`);
  const actual = sha256Hex(row.bytes);
  if (actual !== digest)
    throw new PkgError('ChecksumMismatch', `uploaded bundle ${digest}: stored bytes hash to ${actual}`);
  return unpackBundle(row.bytes);
}
