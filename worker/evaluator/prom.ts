import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { laneName, type Lane } from '../../policy/lane';
import { DROP_REASONS } from '../../policy/decision-log/buffer';
import { REFUSAL_REASONS } from './access';

/**
 * Prometheus view of the evaluator (`GET /metrics`). Labels are bounded: lanes by the lane table,
 * versions by the loaded-snapshot LRU. The gates read Redis, not these; these are for dashboards.
 * Several processes behind one port (processes.ts) answer a scrape with the sum over all of them.
 */
export interface EvaluatorProm {
  registry: Registry;
  /** The text a scrape gets: this process's registry, or every worker's aggregated. */
  metrics(): Promise<string>;
  contentType: string;
  requests: Counter<'lane' | 'version' | 'outcome'>;
  latency: Histogram<'lane' | 'version'>;
  shadow: Counter<'lane' | 'candidate' | 'result'>;
  swaps: Counter<'lane' | 'result'>;
  serving: Gauge<'lane' | 'role' | 'version'>;
  connected: Gauge<'dependency'>;
  decisionLogDropped: Counter<'reason'>;
  decisionLogWritten: Counter;
  accessRefused: Counter<'reason'>;
  rateLimitUnchecked: Counter;
  snapshotRefusals: Counter<'version' | 'reason'>;
  /** The per-request series of one lane's version, looked up once rather than per request. */
  meter(lane: Lane, version: string): Meter;
}

export interface Meter {
  ok: Counter.Internal;
  error: Counter.Internal;
  latency: Histogram.Internal<'lane' | 'version'>;
}

// prom-client hashes label values on every labels() call. Bounded like the lanes and versions the
// meters are for; cleared rather than tracked when it overflows.
const MAX_METERS = 1024;

/** `gather` replaces the local registry's text, for a worker whose scrape must cover its siblings. */
export function createEvaluatorProm(gather?: (registry: Registry) => () => Promise<string>): EvaluatorProm {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pkg_evaluator_process_' });
  const registers = [registry];
  const requests = new Counter({
    name: 'pkg_evaluator_requests_total',
    help: 'Evaluations by lane, snapshot version and outcome (ok, error, rejected, unavailable).',
    labelNames: ['lane', 'version', 'outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'pkg_evaluator_evaluation_seconds',
    help: 'Time to decide one request (fact lookup and engine), by lane and snapshot version.',
    labelNames: ['lane', 'version'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
    registers,
  });
  const decisionLogDropped = new Counter({
    name: 'pkg_decision_log_dropped_total',
    help: 'Sampled decisions not logged: the buffer was full (buffer_full) or their batch failed to write (write_failed).',
    labelNames: ['reason'],
    registers,
  });
  // Both reasons at 0 from the start, so a dashboard's rate() sees the first drop.
  DROP_REASONS.forEach((reason) => decisionLogDropped.labels(reason).inc(0));
  const accessRefused = new Counter({
    name: 'pkg_evaluator_access_refused_total',
    help: 'Evaluations refused before the lane was looked at: no valid key (unauthorized), a lane outside the key (forbidden), over its rate (rate_limited).',
    labelNames: ['reason'],
    registers,
  });
  REFUSAL_REASONS.forEach((reason) => accessRefused.labels(reason).inc(0));
  const meters = new Map<string, Meter>();
  return {
    registry,
    metrics: gather ? gather(registry) : () => registry.metrics(),
    contentType: registry.contentType,
    requests,
    latency,
    shadow: new Counter({
      name: 'pkg_evaluator_shadow_comparisons_total',
      help: 'Requests also decided on the other version of a canary lane, by whether the decisions matched.',
      labelNames: ['lane', 'candidate', 'result'],
      registers,
    }),
    swaps: new Counter({
      name: 'pkg_evaluator_swaps_total',
      help: 'Lane state changes applied (swapped) or refused (failed) by this evaluator.',
      labelNames: ['lane', 'result'],
      registers,
    }),
    // Summed over processes a gauge of 1 would read 2: each process that serves a version says so once.
    serving: new Gauge({
      name: 'pkg_evaluator_serving_info',
      help: 'The snapshot a lane serves (role=serving) and its canary candidate (role=candidate); value 1.',
      labelNames: ['lane', 'role', 'version'],
      aggregator: 'max',
      registers,
    }),
    connected: new Gauge({
      name: 'pkg_evaluator_dependency_up',
      help: 'Whether Redis and Postgres answered the last time they were used (1) or not (0), in every process.',
      labelNames: ['dependency'],
      aggregator: 'min',
      registers,
    }),
    decisionLogDropped,
    decisionLogWritten: new Counter({
      name: 'pkg_decision_log_written_total',
      help: 'Decisions written to the decision log (pkg_decision_log_chunks).',
      registers,
    }),
    accessRefused,
    rateLimitUnchecked: new Counter({
      name: 'pkg_evaluator_rate_limit_unchecked_total',
      help: 'Keyed evaluations let through without a rate limit check because Redis did not answer (limits fail open).',
      registers,
    }),
    // Versions are bounded by the snapshots lanes ask for; a refused one is retried on every sync.
    snapshotRefusals: new Counter({
      name: 'pkg_evaluator_snapshot_refusals_total',
      help: 'Snapshot loads refused by verification, by version and reason (policy/integrity/seal.ts REFUSAL_REASONS).',
      labelNames: ['version', 'reason'],
      registers,
    }),
    meter(lane, version) {
      const id = `${laneName(lane)}\u0000${version}`;
      let meter = meters.get(id);
      if (!meter) {
        if (meters.size >= MAX_METERS) meters.clear();
        const name = laneName(lane);
        meter = {
          ok: requests.labels(name, version, 'ok'),
          error: requests.labels(name, version, 'error'),
          latency: latency.labels(name, version),
        };
        meters.set(id, meter);
      }
      return meter;
    },
  };
}
