import type { Pool } from 'pg';
import { loadBundle, type Bundle, type BundleFiles } from '../policy/bundle/bundle';
import { compileSnapshot, regoSourcesOf } from '../policy/bundle/compile';
import type { CompiledSnapshot } from '../policy/engine/compiled-snapshot';
import { loadConfig } from '../policy/config';
import type { RolloutOverrides } from '../policy/rollout/config';
import { verifyBundleSignature, type SigningPolicy } from '../policy/bundle/signing';
import { packRegoArtifact, type OpaArtifacts } from '../policy/rego/artifacts';
import { regoData } from '../policy/rego/data';
import { buildWasm } from './opa-build';
import { signingPolicyFromConfig } from './signing-policy';
import { storeSnapshot, storedVersion } from './store/snapshot-write';
import { readUploadedBundle } from './store/bundles';
import { refusingBadInput } from './failure';
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
      return refusingBadInput(async () => {
        const files = await readUploadedBundle(deps.pool, request.digest);
        const signing = deps.signing ?? signingPolicyFromConfig(loadConfig());
        return compileBundleFiles({ ...deps, signing }, files, request.digest, request.actor);
      });
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
  const verified = verifyBundleSignature(files, bundle.manifest.env, deps.signing);
  const compiled = compileSnapshot(bundle);
  const stored =
    (await storedVersion(deps.pool, bundle.manifest.version, bundle.checksum)) ??
    (await storeSnapshot(deps.pool, {
      bundle,
      compiled,
      artifacts: await buildArtifacts(deps.opaPath, bundle, compiled),
      bundleDigest: digest,
      actor,
      signature: verified.signed ? { keyId: verified.keyId, signature: verified.signature } : null,
    }));
  return {
    ...stored,
    env: bundle.manifest.env,
    rollout: bundle.manifest.rollout ?? null,
    fixtureCount: bundle.fixtures.length,
  };
}

export async function buildArtifacts(
  opaPath: string,
  bundle: Bundle,
  compiled: CompiledSnapshot,
): Promise<OpaArtifacts> {
  return buildRegoArtifacts(opaPath, regoSourcesOf(bundle, compiled), compiled);
}

/** Compiles Rego to wasm and keeps it beside the data document the module reads. */
export async function buildRegoArtifacts(
  opaPath: string,
  rego: ReadonlyMap<string, string>,
  compiled: CompiledSnapshot,
): Promise<OpaArtifacts> {
  const wasm = await buildWasm(opaPath, rego, compiled.entrypoint);
  return { wasm, rego: packRegoArtifact(rego, regoData(compiled)) };
}
