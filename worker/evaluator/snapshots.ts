import type { Pool } from 'pg';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { createNativeEngine } from '../../policy/engine/native';
import { createWasmEngine } from '../../policy/engine/wasm';
import type { SigningPolicy } from '../../policy/bundle/signing';
import { verifySnapshotIntegrity } from '../../policy/integrity/seal';
import { artifactsOf, readSnapshot } from '../../activities/store/snapshot-read';
import type { LoadedSnapshot } from './registry';

/**
 * Loads one snapshot from Postgres and builds the engine its manifest names, only after everything
 * either engine could be built from has been verified up to the snapshot checksum (and its
 * signature, where the env requires one): a snapshot changed in the database is refused and the
 * lane keeps what it served. A snapshot written the seed's way (rule rows, no artifacts) is refused
 * as unsealed until someone seals it (pkg_seal_snapshot); then it is checked like any other, and its
 * native engine needs no artifacts.
 */
export async function buildSnapshot(pool: Pool, snapshotId: string, signing: SigningPolicy): Promise<LoadedSnapshot> {
  const stored = await readSnapshot(pool, { id: snapshotId });
  verifySnapshotIntegrity(stored.sealed, signing);
  const engine =
    stored.compiled.engine === 'wasm'
      ? await createWasmEngine(stored.compiled, artifactsOf(stored))
      : createNativeEngine(stored.compiled);
  return {
    snapshotId: stored.snapshotId,
    version: stored.compiled.version,
    checksum: stored.checksum,
    engine,
    usesFacts: usesFacts(stored.compiled),
  };
}

export function usesFacts(compiled: CompiledSnapshot): boolean {
  return compiled.rules.some((rule) => rule.enabled && rule.conditions.some((condition) => condition.type === 'FACT'));
}
