import type { Pool } from 'pg';
import type { ServingLane } from './lanes';
import type { Lane } from '../../policy/lane';
import { forgetInstance, forgetLongGone, upsertDeviceVersion } from '../../activities/store/fleet';

/**
 * Fleet registry (ARCHITECTURE.md §5): each evaluator upserts what it actually serves for its lane into
 * pkg_device_versions, so pkg_deployment_coverage can tell whether the whole lane has loaded a
 * step. A row three of its own heartbeats old (pkg_evaluator_stale_after) stops counting at once; rows of
 * instances gone for long are deleted so the table does not collect every instance ever started.
 */
const FORGET_EVERY_BEATS = 20;

export interface FleetEntry {
  instanceId: string;
  lane: Lane;
  state: ServingLane | undefined;
  loadedVersions: string[];
}

/** Beats what the lane's desired state says this instance serves. */
export function heartbeat(pool: Pool, entry: FleetEntry, heartbeatMs: number): Promise<void> {
  const desired = entry.state?.desired;
  return upsertDeviceVersion(pool, {
    instanceId: entry.instanceId,
    lane: entry.lane,
    snapshotId: desired?.snapshotId ?? null,
    candidateSnapshotId: desired?.candidateSnapshotId ?? null,
    canaryPercent: desired?.canaryPercent ?? 0,
    loadedVersions: entry.loadedVersions,
    heartbeatMs,
  });
}

export interface FleetReporter {
  /** Beat now (after a swap, so coverage moves without waiting for the period). */
  beat(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * `onBeat` hears every outcome (null = written), so readiness can report Postgres going and coming back.
 * Beats run one at a time, each reading the entry as it starts: a late write of an older state must
 * not land after a newer one, nor after `stop` removed the instance from the fleet. Beats asked for
 * while one waits its turn share it.
 */
export function createFleetReporter(
  pool: Pool,
  periodMs: number,
  entry: () => FleetEntry,
  onBeat: (error: unknown) => void,
): FleetReporter {
  let timer: NodeJS.Timeout | undefined;
  let beats = 0;
  let stopped = false;
  let last: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | null = null;
  const beatOnce = async () => {
    waiting = null;
    if (stopped) return;
    try {
      await heartbeat(pool, entry(), periodMs);
      if (++beats % FORGET_EVERY_BEATS === 1) await forgetLongGone(pool);
      onBeat(null);
    } catch (error) {
      onBeat(error);
    }
  };
  const beat = (): Promise<void> => {
    if (!waiting) last = waiting = last.then(beatOnce);
    return waiting;
  };
  return {
    beat,
    start() {
      timer = setInterval(() => void beat(), periodMs);
      timer.unref();
      void beat();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await last;
      await forgetInstance(pool, entry().instanceId).catch(onBeat);
    },
  };
}
