import { SnapshotRefused, type RefusalReason } from '../../policy/integrity/seal';
import type { EvaluatorProm } from './prom';
import type { LoadedSnapshot, SnapshotBuilder } from './registry';

/**
 * Snapshots this evaluator refused to load, for /readyz and Prometheus: which version, why, and
 * since when. A version that later loads (its rows or artifacts put back) leaves the list.
 */
export interface RefusedSnapshot {
  reason: RefusalReason;
  detail: string;
  since: string;
}

export interface RefusalLog {
  /** Wraps a builder so every refusal is counted and listed. */
  watch(build: SnapshotBuilder): SnapshotBuilder;
  refused(): Record<string, RefusedSnapshot>;
}

export function createRefusalLog(prom: EvaluatorProm, now: () => Date = () => new Date()): RefusalLog {
  const refused = new Map<string, RefusedSnapshot>();
  const record = (error: unknown) => {
    if (!(error instanceof SnapshotRefused)) return;
    prom.snapshotRefusals.labels(error.version, error.reason).inc();
    const previous = refused.get(error.version);
    const since = previous?.reason === error.reason ? previous.since : now().toISOString();
    refused.set(error.version, { reason: error.reason, detail: error.message, since });
  };
  const loaded = (snapshot: LoadedSnapshot) => {
    refused.delete(snapshot.version);
    return snapshot;
  };
  return {
    watch: (build) => (snapshotId) =>
      build(snapshotId).then(loaded, (error: unknown) => {
        record(error);
        throw error;
      }),
    refused: () => Object.fromEntries(refused),
  };
}
