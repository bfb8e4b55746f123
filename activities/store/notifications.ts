import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';
import type { RolloutNotification, Sink } from '../../policy/notify/notification';

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

/**
 * Registers this notifier's sinks, so every event recorded from now on gets a delivery for each
 * (store/audit.ts). Refreshed at most once a minute; a sink unseen for an hour gets no more.
 */
async function registerSinks(client: PoolClient, sinks: Sink[]): Promise<void> {
  await client.query(
    `INSERT INTO pkg_notification_sinks (id, kind) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (id) DO UPDATE SET last_seen_at = now()
      WHERE pkg_notification_sinks.last_seen_at < now() - interval '1 minute'`,
    [sinks.map((s) => s.id), sinks.map((s) => s.kind)],
  );
}

/** Deliveries to this notifier's sinks due now, oldest first; another sink's wait for its notifier. */
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
      WHERE d.delivered_at IS NULL AND d.sink = ANY($1::text[]) AND d.next_attempt_at <= now() AND d.attempts < $2
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
 * holding it means an empty pass): register the sinks, then deliver what is due, all of the batch at
 * once so one slow sink costs one timeout, not one per row. A crash before commit sends the batch
 * again: at least once, and receivers dedupe by the delivery's key. Returns the results.
 */
export function runNotifierBatch(pool: Pool, batch: NotifierBatch): Promise<(DeliveryResult & { sink: string })[]> {
  return inTransaction(pool, async (client) => {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [NOTIFIER_LOCK_ID]);
    if (!lock.rows[0]?.ok) return [];
    await registerSinks(client, batch.sinks);
    const due = await dueDeliveries(client, batch.sinks, batch.batchSize, batch.maxAttempts);
    const results = await Promise.all(due.map(async (d) => ({ ...(await batch.deliver(d)), sink: d.sink })));
    if (results.length > 0) await recordResults(client, results);
    return results;
  });
}
