import type { Pool } from 'pg';
import type { Env } from '../../policy/lane';
import type { Role } from '../../policy/identity/access';
import { PkgError } from '../../policy/errors';

/** API tokens (pkg_api_tokens): created with their hash, found by it, revoked, never deleted. */
export interface StoredToken {
  name: string;
  role: Role;
  envs: Env[];
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

const COLUMNS = `name, role, envs::text[] AS envs, created_by AS "createdBy", created_at AS "createdAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt"`;

export interface TokenRow {
  name: string;
  hash: Buffer;
  role: Role;
  envs: readonly Env[];
  createdBy: string;
  expiresInMs: number;
}

export async function insertToken(pool: Pool, token: TokenRow): Promise<StoredToken> {
  try {
    const { rows } = await pool.query<StoredToken>(
      `INSERT INTO pkg_api_tokens (name, token_sha256, role, envs, created_by, expires_at)
       VALUES ($1, $2, $3, $4::pkg_env[], $5, now() + $6 * interval '1 millisecond')
       RETURNING ${COLUMNS}`,
      [token.name, token.hash, token.role, token.envs, token.createdBy, token.expiresInMs],
    );
    return rows[0]!;
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    throw new PkgError('InputInvalid', `a token named ${token.name} already exists: revoke it or pick another name`);
  }
}

/** A live token by its hash (expired and revoked ones are not found), with the stored hash to compare. */
export async function findLiveToken(pool: Pool, hash: Buffer): Promise<(StoredToken & { hash: Buffer }) | null> {
  const { rows } = await pool.query<StoredToken & { hash: Buffer }>(
    `SELECT ${COLUMNS}, token_sha256 AS hash FROM pkg_api_tokens
     WHERE token_sha256 = $1 AND revoked_at IS NULL AND expires_at > now()`,
    [hash],
  );
  return rows[0] ?? null;
}

export async function listTokens(pool: Pool): Promise<StoredToken[]> {
  const { rows } = await pool.query<StoredToken>(`SELECT ${COLUMNS} FROM pkg_api_tokens ORDER BY created_at, name`);
  return rows;
}

export async function findToken(pool: Pool, name: string): Promise<StoredToken> {
  const { rows } = await pool.query<StoredToken>(`SELECT ${COLUMNS} FROM pkg_api_tokens WHERE name = $1`, [name]);
  if (!rows[0]) throw new PkgError('NotFound', `no token named ${name}`);
  return rows[0];
}

/** Revoking twice is not an error: the first revocation's time and actor stay. */
export async function revokeToken(pool: Pool, name: string, actor: string): Promise<StoredToken> {
  await findToken(pool, name);
  const { rows } = await pool.query<StoredToken>(
    `UPDATE pkg_api_tokens SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
     WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, actor],
  );
  return rows[0]!;
}
