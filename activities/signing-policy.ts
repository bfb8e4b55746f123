import { readFileSync } from 'node:fs';
import type { Config } from '../policy/config';
import type { SigningPolicy } from '../policy/bundle/signing';
import type { Env } from '../policy/lane';

/** The signing policy from config: the key may be given inline (PEM) or as a path to a PEM file. */
export function signingPolicyFromConfig(
  config: Pick<Config, 'PKG_SIGNING_PUBLIC_KEY' | 'PKG_SIGNED_ENVS'>,
): SigningPolicy {
  const key = config.PKG_SIGNING_PUBLIC_KEY;
  const publicKeyPem = key === undefined ? null : key.includes('-----BEGIN') ? key : readFileSync(key, 'utf8');
  const listed = config.PKG_SIGNED_ENVS;
  const signedEnvs: Env[] =
    listed === undefined ? (publicKeyPem ? ['prod'] : []) : listed === 'none' ? [] : (listed.split(',') as Env[]);
  return { publicKeyPem, signedEnvs };
}
