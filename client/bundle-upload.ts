import type { Pool } from 'pg';
import { readBundleDir } from '../activities/bundle-dir';
import { insertBundle } from '../activities/store/bundles';
import { loadBundle, type Bundle, type BundleFiles } from '../policy/bundle/bundle';
import { bundleDigest, packBundle } from '../policy/bundle/pack';
import { PkgError } from '../policy/errors';
import { rolloutConfigFor, type RolloutConfig, type RolloutOverrides } from '../policy/rollout/config';
import type { Env } from '../policy/lane';

/**
 * The client half of "upload + start": read and check the bundle locally (so CI hears about a bad
 * bundle or a loosened gate before anything is stored), then store its packed bytes
 * content-addressed. The workflow carries only the digest. The API checks an uploaded bundle again
 * the same way (prepareFiles), since it cannot trust the client's check.
 */
export interface PreparedBundle {
  bundle: Bundle;
  packed: Buffer;
  digest: string;
  rollout: RolloutConfig;
}

export async function prepareBundle(dir: string, env: Env, overrides: RolloutOverrides): Promise<PreparedBundle> {
  return prepareFiles(await readBundleDir(dir), env, overrides, dir);
}

/** `where` names the bundle in messages: its directory, or "bundle" for an upload. */
export function prepareFiles(files: BundleFiles, env: Env, overrides: RolloutOverrides, where: string): PreparedBundle {
  const bundle = loadBundle(files);
  if (bundle.manifest.env !== env) {
    throw new PkgError('InputInvalid', `${where}/manifest.yaml: env is ${bundle.manifest.env}, but --env is ${env}`);
  }
  const rollout = rolloutConfigFor(env, bundle.manifest.rollout ?? {}, overrides);
  const packed = packBundle(files);
  return { bundle, packed, digest: bundleDigest(packed), rollout };
}

export async function uploadBundle(pool: Pool, prepared: PreparedBundle, actor: string): Promise<void> {
  await insertBundle(pool, prepared.digest, prepared.packed, actor);
}
