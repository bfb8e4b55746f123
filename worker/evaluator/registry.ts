import { LRUCache } from 'lru-cache';
import type { Engine } from '../../policy/engine/evaluation';

/**
 * Verified, ready-to-decide snapshots by id. Loading is shared (two lanes or a message and a
 * reconcile asking for the same snapshot load it once) and a failed load is not remembered, so a
 * repaired artifact is picked up on the next reconcile. Kept versions make a rollback to a
 * recently served version a pointer swap, without touching Postgres.
 */
export interface LoadedSnapshot {
  snapshotId: string;
  version: string;
  checksum: string;
  engine: Engine;
  /** Whether any rule has a FACT condition; if none, no fact lookup is needed. */
  usesFacts: boolean;
}

export type SnapshotBuilder = (snapshotId: string) => Promise<LoadedSnapshot>;

export interface SnapshotRegistry {
  load(snapshotId: string): Promise<LoadedSnapshot>;
  /** Versions held right now, most recently used first. */
  loadedVersions(): string[];
}

export function createSnapshotRegistry(build: SnapshotBuilder, maxVersions: number): SnapshotRegistry {
  const loaded = new LRUCache<string, LoadedSnapshot>({ max: maxVersions });
  const inFlight = new Map<string, Promise<LoadedSnapshot>>();
  return {
    load(snapshotId) {
      const hit = loaded.get(snapshotId);
      if (hit) return Promise.resolve(hit);
      let pending = inFlight.get(snapshotId);
      if (!pending) {
        pending = build(snapshotId)
          .then((snapshot) => {
            loaded.set(snapshotId, snapshot);
            return snapshot;
          })
          .finally(() => inFlight.delete(snapshotId));
        inFlight.set(snapshotId, pending);
      }
      return pending;
    },
    loadedVersions: () => [...loaded.values()].map((snapshot) => snapshot.version),
  };
}
