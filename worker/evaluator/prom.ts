import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus view of the evaluator (`GET /metrics`). Labels are bounded: lanes by the lane table,
 * versions by the loaded-snapshot LRU. The gates read Redis, not these; these are for dashboards.
 */
export interface EvaluatorProm {
  registry: Registry;
  requests: Counter<'lane' | 'version' | 'outcome'>;
  latency: Histogram<'version'>;
  shadow: Counter<'lane' | 'candidate' | 'result'>;
  swaps: Counter<'lane' | 'result'>;
  serving: Gauge<'lane' | 'role' | 'version'>;
  connected: Gauge<'dependency'>;
}

export function createEvaluatorProm(): EvaluatorProm {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pkg_evaluator_process_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'pkg_evaluator_requests_total',
      help: 'Evaluations by lane, snapshot version and outcome (ok, error, rejected, unavailable).',
      labelNames: ['lane', 'version', 'outcome'],
      registers,
    }),
    latency: new Histogram({
      name: 'pkg_evaluator_evaluation_seconds',
      help: 'Time to decide one request (fact lookup and engine), by snapshot version.',
      labelNames: ['version'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers,
    }),
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
    serving: new Gauge({
      name: 'pkg_evaluator_serving_info',
      help: 'The snapshot a lane serves (role=serving) and its canary candidate (role=candidate); value 1.',
      labelNames: ['lane', 'role', 'version'],
      registers,
    }),
    connected: new Gauge({
      name: 'pkg_evaluator_dependency_up',
      help: 'Whether Redis and Postgres answered the last time they were used (1) or not (0).',
      labelNames: ['dependency'],
      registers,
    }),
  };
}
