import type { Pool } from 'pg';
import { inTransaction } from './transaction';

// Arbitrary but fixed: the advisory lock id that makes the relay a singleton.
const RELAY_LOCK_ID = 0x706b6731;

interface OutboxRow {
  seq: string;
  channel: string;
  payload: Record<string, unknown>;
}

/**
 * Publishes up to a batch of unpublished pkg_outbox rows in seq order, then marks them published
 * in the same transaction that locked them; returns how many. Another relay holding the lock
 * means 0: one relay at a time, so messages are never interleaved out of order.
 */
export function publishOutboxBatch(
  pool: Pool,
  batchSize: number,
  publish: (channel: string, message: string) => Promise<void>,
): Promise<number> {
  return inTransaction(pool, async (client) => {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK_ID]);
    if (!lock.rows[0]?.ok) return 0;
    const { rows } = await client.query<OutboxRow>(
      'SELECT seq, channel, payload FROM pkg_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE',
      [batchSize],
    );
    for (const row of rows) await publish(row.channel, JSON.stringify({ ...row.payload, seq: Number(row.seq) }));
    if (rows.length > 0) {
      await client.query('UPDATE pkg_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])', [
        rows.map((r) => r.seq),
      ]);
    }
    return rows.length;
  });
}
