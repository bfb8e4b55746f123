/**
 * The bound on decisions between a request and their batched write. A decision never waits for
 * room: when as many as `capacity` are still unwritten the entry is dropped and counted, and a
 * batch that could not be written is counted as dropped too, so memory stays bounded through a
 * Postgres outage and no loss is silent. It counts rather than holds: the entries themselves wait
 * in the log writer's thread.
 */
export const DROP_REASONS = ['buffer_full', 'write_failed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface BufferStats {
  buffered: number;
  capacity: number;
  dropped: Record<DropReason, number>;
}

export interface DecisionLogBuffer {
  /** Takes one more entry in; when the buffer is full, counts the drop and returns false. */
  admit(): boolean;
  /** `count` entries left the buffer: written, or lost (then say why). */
  release(count: number, lost?: DropReason): void;
  readonly length: number;
  stats(): BufferStats;
}

export function createDecisionLogBuffer(
  capacity: number,
  onDrop: (reason: DropReason, count: number) => void = () => undefined,
): DecisionLogBuffer {
  let length = 0;
  const dropped: Record<DropReason, number> = { buffer_full: 0, write_failed: 0 };
  const countDropped = (reason: DropReason, count: number) => {
    if (count <= 0) return;
    dropped[reason] += count;
    onDrop(reason, count);
  };
  return {
    admit() {
      if (length >= capacity) {
        countDropped('buffer_full', 1);
        return false;
      }
      length += 1;
      return true;
    },
    release(count, lost) {
      const released = Math.min(count, length);
      length -= released;
      if (lost) countDropped(lost, released);
    },
    get length() {
      return length;
    },
    stats: () => ({ buffered: length, capacity, dropped: { ...dropped } }),
  };
}
