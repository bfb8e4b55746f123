import { DatabaseError, type Pool } from 'pg';
import { PkgError, type ErrorType } from '../../policy/errors';
import type { Env } from '../../policy/lane';
import { inTransaction, type Queryable } from './transaction';

/**
 * Seals (ARCHITECTURE.md §10): pkg_seal_snapshot() writes every seal this database computes, the
 * compile's and a person's for rows written the seed's way, and records each in pkg_snapshot_seals.
 */
export interface SnapshotSeal {
  snapshotId: string;
  /** The seed's integer id. */
  snapshotNumber: number;
  version: string;
  contentSha256: string;
  seal: string;
  /** False: sealed without artifacts (a native snapshot written as rows). */
  artifacts: boolean;
  actor: string;
  sealedAt: Date;
}

interface SealRow {
  snapshot_id: number;
  snapshot_uuid: string;
  version: string;
  content_sha256: string;
  seal: string;
  artifacts: boolean;
  actor: string;
  created_at: Date;
}

/** pkg_seal_snapshot()'s refusals by SQLSTATE (migration snapshot seals). */
const REFUSALS: Record<string, ErrorType> = {
  P0002: 'NotFound',
  '55000': 'ActionRefused',
  XX001: 'ChecksumMismatch',
  '22023': 'InputInvalid',
};

/** Seals a snapshot as its rows and artifacts stand, in the caller's transaction. */
export async function sealSnapshot(db: Queryable, snapshotId: string, actor: string): Promise<SnapshotSeal> {
  try {
    const { rows } = await db.query<SealRow>('SELECT * FROM pkg_seal_snapshot($1::uuid, $2)', [snapshotId, actor]);
    return sealOfRow(rows[0]!);
  } catch (error) {
    const type = error instanceof DatabaseError ? REFUSALS[error.code ?? ''] : undefined;
    if (!type) throw error;
    throw new PkgError(type, (error as DatabaseError).message.replace(/^pkg_seal_snapshot: /, ''));
  }
}

/**
 * `pkgctl snapshot seal`: the snapshot named by version or by the seed's integer id, in `env` (the
 * env the caller's role is checked in), sealed by `actor`.
 */
export async function sealStoredSnapshot(
  pool: Pool,
  request: { snapshot: string; env: Env; actor: string },
): Promise<SnapshotSeal & { env: Env }> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string; env: Env }>(
      'SELECT id, env FROM pkg_snapshots WHERE version = $1 OR snapshot_id::text = $1',
      [request.snapshot],
    );
    const found = rows[0];
    if (!found || found.env !== request.env) {
      const elsewhere = found ? ` (it is in ${found.env})` : '';
      throw new PkgError('NotFound', `no snapshot ${request.snapshot} in env ${request.env}${elsewhere}`);
    }
    return { ...(await sealSnapshot(client, found.id, request.actor)), env: found.env };
  });
}

function sealOfRow(row: SealRow): SnapshotSeal {
  return {
    snapshotId: row.snapshot_uuid,
    snapshotNumber: row.snapshot_id,
    version: row.version,
    contentSha256: row.content_sha256,
    seal: row.seal,
    artifacts: row.artifacts,
    actor: row.actor,
    sealedAt: row.created_at,
  };
}
