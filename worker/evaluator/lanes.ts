import { sameDesiredState, type DesiredLaneState } from '../../activities/store/lane-state';
import type { CanarySplit } from '../../policy/canary/routing';
import type { LoadedSnapshot, SnapshotRegistry } from './registry';
import type { Lane } from '../../policy/lane';

/**
 * The lanes this evaluator serves and what each serves right now. A lane's state is one immutable
 * object; a sync reads the desired state, loads and verifies every snapshot it names off to the
 * side, and only then replaces the object, so a request sees either the old or the new state,
 * never a mix, and a snapshot that fails to load leaves the old state serving.
 */
export interface ServingLane {
  desired: DesiredLaneState;
  serving: LoadedSnapshot | null;
  candidate: LoadedSnapshot | null;
  split: CanarySplit;
}

export interface LaneTableDeps {
  readDesired(lane: Lane): Promise<DesiredLaneState>;
  registry: SnapshotRegistry;
  /** Lanes beyond this many (other than the pinned default) are forgotten, oldest first. */
  maxLanes: number;
  pinned: Lane;
  onSwap?(lane: Lane, previous: ServingLane | undefined, next: ServingLane): void;
}

export interface LaneTable {
  current(lane: Lane): ServingLane | undefined;
  /** The applied state, syncing first if this lane was never asked for. */
  ensure(lane: Lane): Promise<ServingLane>;
  /** Re-reads the desired state and swaps if it changed; concurrent calls coalesce. */
  sync(lane: Lane): Promise<ServingLane>;
  lanes(): Lane[];
}

export const laneKey = (lane: Lane) => `${lane.env}\u0000${lane.target}\u0000${lane.region}`;

interface SyncSlot {
  tail: Promise<ServingLane>;
  queued: Promise<ServingLane> | null;
}

export function createLaneTable(deps: LaneTableDeps): LaneTable {
  const applied = new Map<string, ServingLane>();
  const known = new Map<string, Lane>([[laneKey(deps.pinned), deps.pinned]]);
  const slots = new Map<string, SyncSlot>();

  const syncOnce = async (lane: Lane): Promise<ServingLane> => {
    const desired = await deps.readDesired(lane);
    const previous = applied.get(laneKey(lane));
    if (previous && sameDesiredState(previous.desired, desired)) return previous;
    const [serving, candidate] = await Promise.all([
      desired.snapshotId ? deps.registry.load(desired.snapshotId) : null,
      desired.candidateSnapshotId ? deps.registry.load(desired.candidateSnapshotId) : null,
    ]);
    const split = { hasCandidate: candidate !== null, canaryPercent: desired.canaryPercent, salt: desired.salt };
    const next: ServingLane = { desired, serving, candidate, split };
    applied.set(laneKey(lane), next);
    deps.onSwap?.(lane, previous, next);
    return next;
  };

  const remember = (lane: Lane) => {
    const key = laneKey(lane);
    if (known.has(key)) return;
    known.set(key, lane);
    for (const [oldKey] of known) {
      if (known.size <= deps.maxLanes) break;
      if (oldKey === laneKey(deps.pinned)) continue;
      known.delete(oldKey);
      applied.delete(oldKey);
    }
  };

  const sync = (lane: Lane): Promise<ServingLane> => {
    const key = laneKey(lane);
    const slot = slots.get(key);
    if (slot?.queued) return slot.queued;
    // A sync that already started may have read the old desired state: queue one more behind it.
    const run = (slot?.tail ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        entry.queued = null;
        return syncOnce(lane);
      });
    const entry: SyncSlot = { tail: run, queued: run };
    slots.set(key, entry);
    void run.finally(() => slots.get(key) === entry && slots.delete(key)).catch(() => undefined);
    return run;
  };

  return {
    current: (lane) => applied.get(laneKey(lane)),
    async ensure(lane) {
      const hit = applied.get(laneKey(lane));
      if (hit) return hit;
      remember(lane);
      return sync(lane);
    },
    sync,
    lanes: () => [...known.values()],
  };
}
