import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { inTransaction } from './transaction';

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

// Arbitrary but fixed: the advisory lock id that makes the relay a singleton.
const RELAY_LOCK_ID = 0x706b6731;

interface OutboxRow {
  seq: string;
  channel: string;
  payload: Record<string, unknown>;
}

export function createOutboxRelay(deps: OutboxRelayDeps): OutboxRelay {
  const batchSize = deps.batchSize ?? 100;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const publishBatch = () =>
    inTransaction(deps.pool, async (client) => {
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK_ID]);
      if (!lock.rows[0]?.ok) return 0;
      const { rows } = await client.query<OutboxRow>(
        'SELECT seq, channel, payload FROM pkg_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE',
        [batchSize],
      );
      for (const row of rows) {
        await deps.redis.publish(row.channel, JSON.stringify({ ...row.payload, seq: Number(row.seq) }));
      }
      if (rows.length > 0) {
        await client.query('UPDATE pkg_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])', [
          rows.map((r) => r.seq),
        ]);
      }
      return rows.length;
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
