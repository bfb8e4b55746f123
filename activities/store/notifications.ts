import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';
import { deliveryKey, type RolloutNotification, type Sink } from '../../policy/notify/notification';

// Arbitrary but fixed, and not the relay's: the advisory lock that makes the notifier a singleton.
const NOTIFIER_LOCK_ID = 0x706b6732;

/** One sink's copy of one notification, due now. */
export interface Delivery {
  id: string;
  sink: string;
  dedupeKey: string;
  attempts: number;
  notification: RolloutNotification;
}

export interface DeliveryResult {
  id: string;
  /** null when the sink took it (2xx). */
  error: string | null;
  /** When to try again after an error. */
  retryInMs: number;
}

export interface NotifierPass {
  fannedOut: number;
  results: (DeliveryResult & { sink: string })[];
}

/**
 * Turns each pending notification (pkg_notifications) into one delivery per configured sink and
 * marks it fanned out. Every pipeline worker must configure the same sinks:
 * whichever holds the lock fans out for all.
 */
async function fanOut(client: PoolClient, sinks: Sink[], batchSize: number): Promise<number> {
  const { rows } = await client.query<{ seq: string; payload: RolloutNotification }>(
    'SELECT seq, payload FROM pkg_notifications WHERE fanned_out_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE',
    [batchSize],
  );
  if (rows.length === 0) return 0;
  const copies = rows.flatMap((row) =>
    sinks.map((sink) => ({ seq: row.seq, sink: sink.id, key: deliveryKey(row.payload, sink) })),
  );
  await client.query(
    `INSERT INTO pkg_notification_deliveries (notification_seq, sink, dedupe_key)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) ON CONFLICT (dedupe_key) DO NOTHING`,
    [copies.map((c) => c.seq), copies.map((c) => c.sink), copies.map((c) => c.key)],
  );
  await client.query('UPDATE pkg_notifications SET fanned_out_at = now() WHERE seq = ANY($1::bigint[])', [
    rows.map((r) => r.seq),
  ]);
  return rows.length;
}

/** Deliveries due now to sinks still configured (a removed sink's deliveries wait), oldest first. */
async function dueDeliveries(
  client: PoolClient,
  sinks: Sink[],
  batchSize: number,
  maxAttempts: number,
): Promise<Delivery[]> {
  const { rows } = await client.query<{
    id: string;
    sink: string;
    dedupe_key: string;
    attempts: number;
    payload: RolloutNotification;
  }>(
    `SELECT d.id, d.sink, d.dedupe_key, d.attempts, n.payload
       FROM pkg_notification_deliveries d JOIN pkg_notifications n ON n.seq = d.notification_seq
      WHERE d.delivered_at IS NULL AND d.next_attempt_at <= now() AND d.sink = ANY($1::text[]) AND d.attempts < $2
      ORDER BY d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED`,
    [sinks.map((s) => s.id), maxAttempts, batchSize],
  );
  return rows.map((r) => ({
    id: r.id,
    sink: r.sink,
    dedupeKey: r.dedupe_key,
    attempts: r.attempts,
    notification: r.payload,
  }));
}

async function recordResults(client: PoolClient, results: DeliveryResult[]): Promise<void> {
  await client.query(
    `UPDATE pkg_notification_deliveries d
        SET attempts = d.attempts + 1,
            delivered_at = CASE WHEN r.error IS NULL THEN now() END,
            last_error = r.error,
            next_attempt_at = now() + make_interval(secs => r.retry_ms / 1000.0)
       FROM unnest($1::bigint[], $2::text[], $3::int[]) AS r(id, error, retry_ms)
      WHERE d.id = r.id`,
    [results.map((r) => r.id), results.map((r) => r.error), results.map((r) => r.retryInMs)],
  );
}

export interface NotifierBatch {
  sinks: Sink[];
  batchSize: number;
  maxAttempts: number;
  /** Sends one delivery; never throws (its result says how it went). */
  deliver: (delivery: Delivery) => Promise<DeliveryResult>;
}

/**
 * One notifier pass in one transaction holding the notifier's advisory lock (another notifier
 * holding it means an empty pass): fan out, then deliver what is due, all of the batch at once so
 * one slow sink costs one timeout, not one per row. A crash before commit sends the batch again:
 * at least once, and receivers de-duplicate by the delivery's key.
 */
export function runNotifierBatch(pool: Pool, batch: NotifierBatch): Promise<NotifierPass> {
  return inTransaction(pool, async (client) => {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [NOTIFIER_LOCK_ID]);
    if (!lock.rows[0]?.ok) return { fannedOut: 0, results: [] };
    const fannedOut = await fanOut(client, batch.sinks, batch.batchSize);
    const due = await dueDeliveries(client, batch.sinks, batch.batchSize, batch.maxAttempts);
    const results = await Promise.all(due.map(async (d) => ({ ...(await batch.deliver(d)), sink: d.sink })));
    if (results.length > 0) await recordResults(client, results);
    return { fannedOut, results };
  });
}
