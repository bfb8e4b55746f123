import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { publishOutboxBatch } from '../activities/store/outbox';

/**
 * Publishes pkg_outbox rows to Redis in seq order, then marks them published in the same
 * transaction that locked them. A crash between publish and commit re-publishes the batch next
 * time (at-least-once on the wire, exactly once as far as the table is concerned); consumers
 * ignore a seq they have already applied. One relay at a time holds an advisory lock, so several
 * pipeline workers never interleave and reorder messages.
 */
export interface OutboxRelayDeps {
  pool: Pool;
  redis: Redis;
  batchSize?: number;
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

export interface OutboxRelay {
  /** Publishes what is pending now; returns how many rows were published. */
  publishPending(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createOutboxRelay(deps: OutboxRelayDeps): OutboxRelay {
  const batchSize = deps.batchSize ?? 100;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const publishBatch = () =>
    publishOutboxBatch(deps.pool, batchSize, async (channel, message) => {
      await deps.redis.publish(channel, message);
    });

  const publishPending = async () => {
    let total = 0;
    for (let n = await publishBatch(); n > 0; n = n === batchSize ? await publishBatch() : 0) total += n;
    return total;
  };

  const tick = () => {
    running = publishPending()
      .then(
        () => undefined,
        (error: unknown) => deps.onError?.(error),
      )
      .finally(() => {
        running = null;
        if (timer !== null) timer = setTimeout(tick, deps.intervalMs ?? 100);
      });
  };

  return {
    publishPending,
    start() {
      if (timer === null) timer = setTimeout(tick, 0);
    },
    async stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
