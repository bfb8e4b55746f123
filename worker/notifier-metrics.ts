import { Counter, type Registry } from 'prom-client';

/**
 * The notifier's Prometheus series. Registered into the registries the pipeline worker passes
 * (pipeline.ts), so whatever serves that worker's `/metrics` shows them. `sink` is the sink's id
 * (`webhook:<hash>`, `slack:<hash>`): bounded by configuration, and no secret URL in a label.
 */
export interface NotifierMetrics {
  delivered: Counter<'sink'>;
  failures: Counter<'sink'>;
}

export function createNotifierMetrics(registers: Registry[]): NotifierMetrics {
  return {
    delivered: new Counter({
      name: 'pkg_notifications_delivered_total',
      help: 'Notifications a sink accepted (2xx), by sink.',
      labelNames: ['sink'],
      registers,
    }),
    failures: new Counter({
      name: 'pkg_notification_failures_total',
      help: 'Notification delivery attempts that failed (non-2xx, timeout, unreachable) and will be retried, by sink.',
      labelNames: ['sink'],
      registers,
    }),
  };
}
