import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Config } from '../../policy/config';
import { ConfigError } from '../../policy/config';
import { grantsFromClaims, oidcSubject } from '../../policy/identity/claims';
import type { VerifyOther } from './authenticate';

/**
 * OIDC JWTs (README "Identity and access"): signature against the issuer's JWKS (fetched and
 * cached by jose, refetched when a new key id appears), issuer, audience and expiry checked by
 * jwtVerify; the claims become grants by PKG_OIDC_ROLES. Any failure is just "not verified": the
 * caller gets the API's one 401 line, never the reason.
 */
const OIDC_VARIABLES = ['PKG_OIDC_ISSUER', 'PKG_OIDC_JWKS_URL', 'PKG_OIDC_AUDIENCE', 'PKG_OIDC_ROLES'] as const;
// Asymmetric algorithms only: an HMAC "JWT" would be signed with something a client could know.
const ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

export function createOidcVerifier(config: Config): VerifyOther | undefined {
  const unset = OIDC_VARIABLES.filter((name) => config[name] === undefined);
  if (unset.length === OIDC_VARIABLES.length) return undefined;
  if (unset.length > 0) throw new ConfigError(`bad configuration: OIDC needs ${unset.join(', ')} as well`);
  const issuer = config.PKG_OIDC_ISSUER!;
  const audience = config.PKG_OIDC_AUDIENCE!;
  const rules = config.PKG_OIDC_ROLES!;
  const keys = createRemoteJWKSet(new URL(config.PKG_OIDC_JWKS_URL!));
  return async (credential) => {
    const verified = await jwtVerify(credential, keys, { issuer, audience, algorithms: ALGORITHMS }).catch(() => null);
    if (!verified?.payload.sub) return null;
    return { subject: oidcSubject(issuer, verified.payload.sub), grants: grantsFromClaims(verified.payload, rules) };
  };
}
