import type { Pool } from 'pg';
import { deliveryBody, retryDelayMs, type Sink } from '../policy/notify/notification';
import { deliveryHeaders } from '../policy/notify/signature';
import { runNotifierBatch, type Delivery, type DeliveryResult } from '../activities/store/notifications';
import type { NotifierMetrics } from './notifier-metrics';
import { createPollingLoop, type PollingLoop } from './polling-loop';

/**
 * Tells configured sinks about every audited rollout event (README "Webhooks and notifications").
 * Beside the outbox relay but independent of it: its own tables and lock, so a down sink
 * delays only its own deliveries, never a hot swap and never the workflow (which only wrote a row).
 * At least once: a failed delivery is retried with backoff; receivers dedupe by the
 * `Idempotency-Key` header (also `dedupe_key` in a generic webhook's body).
 */
export interface NotifierDeps {
  pool: Pool;
  sinks: Sink[];
  metrics: NotifierMetrics;
  /** PKG_WEBHOOK_SECRET: signs every delivery as webhooks are signed. */
  secret?: string;
  intervalMs?: number;
  batchSize?: number;
  timeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** After this many failed attempts a delivery is left (last_error says why) and no longer tried. */
  maxAttempts?: number;
  onError?: (error: unknown) => void;
  now?: () => number;
}

export interface Notifier extends PollingLoop {
  /** Registers the sinks and delivers what is due now; returns how many deliveries were attempted. */
  deliverPending(): Promise<number>;
}

const DEFAULTS = {
  intervalMs: 500,
  batchSize: 100,
  timeoutMs: 5000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  maxAttempts: 50,
};

function deliverer(deps: NotifierDeps & typeof DEFAULTS): (delivery: Delivery) => Promise<DeliveryResult> {
  const sinks = new Map(deps.sinks.map((sink) => [sink.id, sink]));
  const now = deps.now ?? Date.now;
  return async ({ id, sink: sinkId, dedupeKey, attempts, notification }) => {
    const sink = sinks.get(sinkId)!;
    const body = deliveryBody(notification, sink, dedupeKey);
    const headers = deliveryHeaders(body, dedupeKey, Math.floor(now() / 1000), deps.secret);
    let error: string | null;
    try {
      const response = await fetch(sink.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
      await response.body?.cancel();
      error = response.ok ? null : `answered ${response.status}`;
    } catch (failure) {
      error = (failure as Error).message;
    }
    (error === null ? deps.metrics.delivered : deps.metrics.failures).inc({ sink: sinkId });
    return { id, error, retryInMs: retryDelayMs(attempts + 1, deps.retryBaseMs, deps.retryMaxMs) };
  };
}

export function createNotifier(options: NotifierDeps): Notifier {
  const deps = { ...DEFAULTS, ...options };
  const batch = {
    sinks: deps.sinks,
    batchSize: deps.batchSize,
    maxAttempts: deps.maxAttempts,
    deliver: deliverer(deps),
  };
  const deliverPending = async () => {
    let total = 0;
    for (;;) {
      const results = await runNotifierBatch(deps.pool, batch);
      total += results.length;
      if (results.length < deps.batchSize) return total;
    }
  };

  return { deliverPending, ...createPollingLoop(deliverPending, deps.intervalMs, deps.onError) };
}
