import type { Pool } from 'pg';
import { findLiveToken } from '../../activities/store/api-tokens';
import { PkgError } from '../../policy/errors';
import type { Identity } from '../../policy/identity/access';
import { looksLikeToken, sameTokenHash, tokenHash, tokenSubject } from '../../policy/identity/tokens';

/**
 * Who is calling: the bearer credential of the Authorization header, verified. Every failure is the
 * same one line, so a caller learns nothing about which tokens exist; the credential itself is never
 * logged or echoed.
 */
export type Authenticate = (authorization: string | undefined) => Promise<Identity>;

/** A credential the API cannot read as a token of its own; OIDC (oidc.ts) may claim it. */
export type VerifyOther = (credential: string) => Promise<Identity | null>;

export const UNAUTHENTICATED = 'missing, invalid, expired or revoked credentials: send Authorization: Bearer <token>';

export function createAuthenticate(pool: Pool, verifyOther: VerifyOther = () => Promise.resolve(null)): Authenticate {
  return async (authorization) => {
    const credential = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const identity = credential ? await identify(pool, credential, verifyOther) : null;
    if (!identity) throw new PkgError('Unauthenticated', UNAUTHENTICATED);
    return identity;
  };
}

async function identify(pool: Pool, credential: string, verifyOther: VerifyOther): Promise<Identity | null> {
  if (!looksLikeToken(credential)) return verifyOther(credential);
  const presented = tokenHash(credential);
  const stored = await findLiveToken(pool, presented);
  // The index found the row by hash; comparing again in constant time costs nothing and keeps the
  // check independent of how the database compares.
  if (!stored || !sameTokenHash(stored.hash, presented)) return null;
  return { subject: tokenSubject(stored.name), grants: [{ role: stored.role, envs: stored.envs }] };
}
