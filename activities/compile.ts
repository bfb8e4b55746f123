import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { loadBundle, type Bundle, type BundleFiles } from '../policy/bundle/bundle';
import { sha256Hex } from '../policy/bundle/checksum';
import { compileSnapshot, regoSourcesOf } from '../policy/bundle/compile';
import { unpackBundle } from '../policy/bundle/pack';
import type { CompiledSnapshot } from '../policy/engine/compiled-snapshot';
import { loadConfig } from '../policy/config';
import { PkgError } from '../policy/errors';
import type { RolloutOverrides } from '../policy/rollout/config';
import { verifyBundleSignature, type SigningPolicy } from '../policy/bundle/signing';
import { packRegoArtifact } from '../policy/rego/artifacts';
import { regoData } from '../policy/rego/data';
import { buildWasm } from './opa-build';
import { signingPolicyFromConfig } from './signing-policy';
import { findSnapshotChecksum, storeSnapshot, type SnapshotArtifacts, type StoredSnapshot } from './snapshot-store';
import type { Env } from '../policy/lane';

/**
 * The compile step of the pipeline: an uploaded bundle (by digest) → a stored snapshot with its
 * wasm artifact. Everything that can be wrong with a bundle is found before the one write
 * transaction; a retried or repeated compile of the same content returns the same snapshot.
 */
export interface CompileDeps {
  pool: Pool;
  opaPath: string;
  /** Defaults to PKG_SIGNING_PUBLIC_KEY / PKG_SIGNED_ENVS from the environment. */
  signing?: SigningPolicy;
}

export interface CompileRequest {
  digest: string;
  actor: string;
}

export interface CompileResult {
  snapshotId: string;
  version: string;
  env: Env;
  checksum: string;
  created: boolean;
  rollout: RolloutOverrides | null;
  fixtureCount: number;
}

export function createCompileActivities(deps: CompileDeps) {
  return {
    async compileBundle(request: CompileRequest): Promise<CompileResult> {
      try {
        const files = await readUploadedBundle(deps.pool, request.digest);
        const signing = deps.signing ?? signingPolicyFromConfig(loadConfig());
        return await compileBundleFiles({ ...deps, signing }, files, request.digest, request.actor);
      } catch (error) {
        throw error instanceof PkgError
          ? ApplicationFailure.create({
              type: error.type,
              message: error.message,
              nonRetryable: true,
              details: [error.problems],
            })
          : error;
      }
    },
  };
}

/** Load, verify, build, store: shared by the activity, the CLI and tests. */
export async function compileBundleFiles(
  deps: Required<CompileDeps>,
  files: BundleFiles,
  digest: string | null,
  actor: string,
): Promise<CompileResult> {
  const bundle = loadBundle(files);
  verifyBundleSignature(files, bundle.manifest.env, deps.signing);
  const compiled = compileSnapshot(bundle);
  const stored =
    (await reuseStored(deps.pool, bundle)) ??
    (await storeSnapshot(deps.pool, {
      bundle,
      compiled,
      artifacts: await buildArtifacts(deps.opaPath, bundle, compiled),
      bundleDigest: digest,
      actor,
    }));
  return {
    ...stored,
    env: bundle.manifest.env,
    rollout: bundle.manifest.rollout ?? null,
    fixtureCount: bundle.fixtures.length,
  };
}

/** A version already stored needs no opa build: the same content is that snapshot, other content a conflict. */
async function reuseStored(pool: Pool, bundle: Bundle): Promise<StoredSnapshot | null> {
  const { version } = bundle.manifest;
  const existing = await findSnapshotChecksum(pool, version);
  if (!existing) return null;
  if (existing.checksum !== bundle.checksum) {
    throw new PkgError(
      'VersionConflict',
      `${version} is already compiled with different content (checksum ${existing.checksum}, this bundle ${bundle.checksum}); bump the version`,
    );
  }
  return { snapshotId: existing.snapshotId, version, checksum: existing.checksum, created: false };
}

export async function buildArtifacts(
  opaPath: string,
  bundle: Bundle,
  compiled: CompiledSnapshot,
): Promise<SnapshotArtifacts> {
  return buildRegoArtifacts(opaPath, regoSourcesOf(bundle, compiled), compiled);
}

/** Compiles Rego to wasm and keeps it beside the data document the module reads. */
export async function buildRegoArtifacts(
  opaPath: string,
  rego: ReadonlyMap<string, string>,
  compiled: CompiledSnapshot,
): Promise<SnapshotArtifacts> {
  const wasm = await buildWasm(opaPath, rego, compiled.entrypoint);
  return { wasm, rego: packRegoArtifact(rego, regoData(compiled)) };
}

async function readUploadedBundle(pool: Pool, digest: string): Promise<BundleFiles> {
  const { rows } = await pool.query<{ bytes: Buffer }>('SELECT bytes FROM pkg_bundles WHERE digest = $1', [digest]);
  const row = rows[0];
  if (!row) throw new PkgError('NotFound', `no uploaded bundle with digest ${digest}`);
  const actual = sha256Hex(row.bytes);
  if (actual !== digest)
    throw new PkgError('ChecksumMismatch', `uploaded bundle ${digest}: stored bytes hash to ${actual}`);
  return unpackBundle(row.bytes);
}
