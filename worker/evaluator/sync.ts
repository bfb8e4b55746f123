import type { LaneTable } from './lanes';
import type { UpdateHint, UpdateListener } from './updates';
import { oneLine } from './service';
import { laneName, type Lane } from '../../policy/lane';

/**
 * Keeps every known lane at its desired state: on each Redis hint, on each (re)connect and on a
 * period, so a missed message is never a lost update. A failed sync leaves the lane serving what
 * it served and is retried with backoff (250 ms doubling up to the period).
 */
export interface SyncStatus {
  redis: 'up' | 'down';
  lastSyncAt: string | null;
  /** The last refusal or failure per lane (e.g. a checksum mismatch); cleared when the lane syncs. */
  laneErrors: Record<string, string>;
}

export interface LaneSync extends UpdateListener {
  syncAll(): Promise<void>;
  status(): SyncStatus;
  start(): void;
  stop(): void;
}

const FIRST_RETRY_MS = 250;

export function createLaneSync(lanes: LaneTable, reconcileMs: number, log: (line: string) => void): LaneSync {
  const status: SyncStatus = { redis: 'down', lastSyncAt: null, laneErrors: {} };
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let stopped = false;

  const syncLane = async (lane: Lane): Promise<boolean> => {
    try {
      await lanes.sync(lane);
      delete status.laneErrors[laneName(lane)];
      return true;
    } catch (error) {
      const reason = oneLine(error);
      if (status.laneErrors[laneName(lane)] !== reason)
        log(`lane ${laneName(lane)}: keeping last good state: ${reason}`);
      status.laneErrors[laneName(lane)] = reason;
      return false;
    }
  };

  const syncAll = async () => {
    const results = await Promise.all(lanes.lanes().map(syncLane));
    status.lastSyncAt = new Date().toISOString();
    failures = results.every(Boolean) ? 0 : failures + 1;
  };

  const schedule = () => {
    if (stopped) return;
    const delay = failures === 0 ? reconcileMs : Math.min(reconcileMs, FIRST_RETRY_MS * 2 ** (failures - 1));
    timer = setTimeout(() => void syncAll().finally(schedule), delay);
    timer.unref();
  };

  return {
    syncAll,
    status: () => status,
    start: () => schedule(),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    onHint(hint: UpdateHint) {
      if (hint.kind === 'all') void syncAll();
      else if (lanes.lanes().some((lane) => laneName(lane) === laneName(hint.lane))) void syncLane(hint.lane);
    },
    onConnected() {
      status.redis = 'up';
      void syncAll();
    },
    onDisconnected() {
      status.redis = 'down';
    },
  };
}
