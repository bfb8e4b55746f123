import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { publishOutboxBatch } from '../activities/store/outbox';
import { createPollingLoop, type PollingLoop } from './polling-loop';

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

export interface OutboxRelay extends PollingLoop {
  /** Publishes what is pending now; returns how many rows were published. */
  publishPending(): Promise<number>;
}

export function createOutboxRelay(deps: OutboxRelayDeps): OutboxRelay {
  const batchSize = deps.batchSize ?? 100;
  const publishBatch = () =>
    publishOutboxBatch(deps.pool, batchSize, async (channel, message) => {
      await deps.redis.publish(channel, message);
    });

  const publishPending = async () => {
    let total = 0;
    for (let n = await publishBatch(); n > 0; n = n === batchSize ? await publishBatch() : 0) total += n;
    return total;
  };

  return { publishPending, ...createPollingLoop(publishPending, deps.intervalMs ?? 100, deps.onError) };
}
