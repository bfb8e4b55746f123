import type { Pool } from 'pg';
import { verifyArtifact } from '../../policy/rego/artifacts';
import type { CompiledSnapshot } from '../../policy/engine/compiled-snapshot';
import { createNativeEngine } from '../../policy/engine/native';
import { createWasmEngine } from '../../policy/engine/wasm';
import { artifactsOf, readSnapshot } from '../../activities/store/snapshot-read';
import type { LoadedSnapshot } from './registry';

/**
 * Loads one snapshot from Postgres and builds the engine its manifest names. Every artifact it has
 * is checked against its recorded sha256 whichever engine serves: bytes changed in the database mean
 * the snapshot cannot be trusted at all, so it is refused and the lane keeps what it served. A
 * native snapshot written the seed's way (rule rows, no artifacts) is served from its rows.
 */
export async function buildSnapshot(pool: Pool, snapshotId: string): Promise<LoadedSnapshot> {
  const stored = await readSnapshot(pool, { id: snapshotId });
  if (stored.wasm) verifyArtifact(stored.version, 'wasm', stored.wasm);
  if (stored.rego) verifyArtifact(stored.version, 'rego', stored.rego);
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
