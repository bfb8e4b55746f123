import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { PkgError } from '../policy/errors';
import type { CompiledSnapshot } from '../policy/compiled-snapshot';
import { createNativeEngine } from '../policy/native-engine';
import { createWasmEngine } from '../policy/wasm-engine';
import { loadSnapshot } from '../activities/snapshot-store';
import type { LoadedSnapshot } from './evaluator-registry';

/**
 * Loads one snapshot from Postgres and builds the engine its manifest names. The wasm artifact is
 * checked against its recorded sha256 whichever engine serves: bytes changed in the database mean
 * the snapshot cannot be trusted at all, so it is refused and the lane keeps what it served.
 */
export async function buildSnapshot(pool: Pool, snapshotId: string): Promise<LoadedSnapshot> {
  const stored = await loadSnapshot(pool, { id: snapshotId });
  const actual = createHash('sha256').update(stored.wasm.bytes).digest('hex');
  if (actual !== stored.wasm.sha256) {
    throw new PkgError(
      'ChecksumMismatch',
      `snapshot ${stored.compiled.version}: wasm artifact sha256 is ${actual}, recorded ${stored.wasm.sha256}; refusing to load it`,
    );
  }
  const engine =
    stored.compiled.engine === 'wasm'
      ? await createWasmEngine(stored.compiled, stored.wasm.bytes, stored.wasm.sha256)
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
