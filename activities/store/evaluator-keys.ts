import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { PkgError } from '../../policy/errors';
import type { NewKey } from '../../policy/access/evaluator-key';
import type { LanePattern } from '../../policy/access/key-scope';
import { EVALUATOR_KEYS_CHANNEL } from '../../policy/constants';

/**
 * pkg_evaluator_keys (migration evaluator_keys) and the Redis channel that announces a change to
 * them. Rows hold a key's SHA-256 digest, never the key.
 */
export interface EvaluatorKeyLimits {
  ratePerS: number;
  burst: number;
}

export interface EvaluatorKeyRequest extends EvaluatorKeyLimits {
  name: string;
  scope: LanePattern[];
  expiresAt: Date | null;
  actor: string;
}

/** A key as listed: everything but its digest. */
export interface EvaluatorKeyInfo extends EvaluatorKeyLimits {
  id: string;
  name: string;
  scope: string[];
  expiresAt: Date | null;
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | null;
}

/** What an evaluator caches: the live keys with their digests. */
export interface LiveEvaluatorKey extends EvaluatorKeyLimits {
  id: string;
  name: string;
  sha256: Buffer;
  scope: string[];
  expiresAt: Date | null;
}

const UNIQUE_VIOLATION = '23505';

export async function insertEvaluatorKey(
  pool: Pool,
  key: NewKey,
  request: EvaluatorKeyRequest,
): Promise<EvaluatorKeyInfo> {
  try {
    const { rows } = await pool.query<KeyRow>(
      `INSERT INTO pkg_evaluator_keys (id, name, key_sha256, scope, rate_per_s, burst, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${INFO_COLUMNS}`,
      [
        key.id,
        request.name,
        key.sha256,
        request.scope.map((pattern) => pattern.join('/')),
        request.ratePerS,
        request.burst,
        request.expiresAt,
        request.actor,
      ],
    );
    return infoOf(rows[0]!);
  } catch (error) {
    if ((error as { code?: string }).code === UNIQUE_VIOLATION)
      throw new PkgError('InputInvalid', `evaluator key ${request.name}: a live key already has this name`);
    throw error;
  }
}

export async function listEvaluatorKeys(pool: Pool, includeRevoked: boolean): Promise<EvaluatorKeyInfo[]> {
  const { rows } = await pool.query<KeyRow>(
    `SELECT ${INFO_COLUMNS} FROM pkg_evaluator_keys WHERE $1 OR revoked_at IS NULL ORDER BY name, created_at`,
    [includeRevoked],
  );
  return rows.map(infoOf);
}

/** Revokes the live key with this name or id; revoking twice is refused as NotFound, not repeated. */
export async function revokeEvaluatorKey(pool: Pool, nameOrId: string, actor: string): Promise<EvaluatorKeyInfo> {
  const { rows } = await pool.query<KeyRow>(
    `UPDATE pkg_evaluator_keys SET revoked_at = now(), revoked_by = $2
      WHERE (name = $1 OR id = $1) AND revoked_at IS NULL RETURNING ${INFO_COLUMNS}`,
    [nameOrId, actor],
  );
  if (rows.length === 0) throw new PkgError('NotFound', `no live evaluator key named ${nameOrId}`);
  return infoOf(rows[0]!);
}

/** Keys neither revoked nor expired now: the whole set an evaluator may accept. */
export async function loadLiveEvaluatorKeys(pool: Pool): Promise<LiveEvaluatorKey[]> {
  const { rows } = await pool.query<KeyRow & { key_sha256: Buffer }>(
    `SELECT ${INFO_COLUMNS}, key_sha256 FROM pkg_evaluator_keys
      WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    sha256: r.key_sha256,
    scope: r.scope,
    ratePerS: r.rate_per_s,
    burst: r.burst,
    expiresAt: r.expires_at,
  }));
}

export type EvaluatorKeyChange = 'created' | 'revoked';

/** Tells every evaluator to reread the keys now; `revoked` also drops the key before the reread. */
export async function announceEvaluatorKeyChange(redis: Redis, change: EvaluatorKeyChange, id: string): Promise<void> {
  await redis.publish(EVALUATOR_KEYS_CHANNEL, JSON.stringify({ change, id }));
}

const INFO_COLUMNS = 'id, name, scope, rate_per_s, burst, expires_at, created_at, created_by, revoked_at';

interface KeyRow {
  id: string;
  name: string;
  scope: string[];
  rate_per_s: number;
  burst: number;
  expires_at: Date | null;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
}

function infoOf(r: KeyRow): EvaluatorKeyInfo {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope,
    ratePerS: r.rate_per_s,
    burst: r.burst,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    createdBy: r.created_by,
    revokedAt: r.revoked_at,
  };
}
