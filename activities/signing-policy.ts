import { readFileSync } from 'node:fs';
import type { Config } from '../policy/config';
import type { SigningPolicy } from '../policy/bundle/signing';
import type { Env } from '../policy/lane';

/**
 * The signing policy from config: trusted keys are PKG_TRUSTED_KEYS (a comma list) plus
 * PKG_SIGNING_PUBLIC_KEY, each PEM text or a path to a PEM file (PEM has no commas).
 */
export function signingPolicyFromConfig(
  config: Pick<Config, 'PKG_SIGNING_PUBLIC_KEY' | 'PKG_TRUSTED_KEYS' | 'PKG_SIGNED_ENVS'>,
): SigningPolicy {
  const given = [...(config.PKG_TRUSTED_KEYS?.split(',') ?? []), config.PKG_SIGNING_PUBLIC_KEY]
    .map((key) => key?.trim())
    .filter((key): key is string => Boolean(key));
  const trustedKeys = given.map((key) => (key.includes('-----BEGIN') ? key : readFileSync(key, 'utf8')));
  return { trustedKeys, signedEnvs: signedEnvsOf(config.PKG_SIGNED_ENVS, trustedKeys.length > 0) };
}

/** "prod" by default when a key is configured, none otherwise. */
function signedEnvsOf(listed: string | undefined, hasKeys: boolean): Env[] {
  if (listed === undefined) return hasKeys ? ['prod'] : [];
  return listed === 'none' ? [] : (listed.split(',') as Env[]);
}
