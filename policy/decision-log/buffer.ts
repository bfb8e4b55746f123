/**
 * The bounded buffer between decisions and their batched writes. A decision never waits for room:
 * when the buffer is full the entry is dropped and counted, and a batch that could not be written
 * is counted as dropped too, so memory stays bounded through a Postgres outage and no loss is
 * silent.
 */
export const DROP_REASONS = ['buffer_full', 'write_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface BufferStats {
  buffered: number;
  capacity: number;
  dropped: Record<DropReason, number>;
}

export interface DecisionLogBuffer<T> {
  /** Adds the entry `make` builds; when the buffer is full, counts the drop without building it and returns false. */
  offer(make: () => T): boolean;
  /** Removes and returns up to `max` of the oldest entries. */
  take(max: number): T[];
  /** Counts entries lost after they left the buffer. */
  countDropped(reason: DropReason, count: number): void;
  readonly length: number;
  stats(): BufferStats;
}

export function createDecisionLogBuffer<T>(
  capacity: number,
  onDrop: (reason: DropReason, count: number) => void = () => undefined,
): DecisionLogBuffer<T> {
  let entries: T[] = [];
  const dropped: Record<DropReason, number> = { buffer_full: 0, write_failed: 0 };
  const countDropped = (reason: DropReason, count: number) => {
    if (count <= 0) return;
    dropped[reason] += count;
    onDrop(reason, count);
  };
  return {
    offer(make) {
      if (entries.length >= capacity) {
        countDropped('buffer_full', 1);
        return false;
      }
      entries.push(make());
      return true;
    },
    take(max) {
      if (entries.length <= max) {
        const all = entries;
        entries = [];
        return all;
      }
      return entries.splice(0, max);
    },
    countDropped,
    get length() {
      return entries.length;
    },
    stats: () => ({ buffered: entries.length, capacity, dropped: { ...dropped } }),
  };
}
