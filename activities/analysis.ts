import type { AnalysisMetric } from '../policy/rollout/analysis';
import { renderQuery, type AnalysisReading, type QueryWindow } from '../policy/rollout/analysis-judge';
import { queryInstant } from './store/prometheus';

/**
 * Runs a step's metric gates (rollout.analysis) against Prometheus, every query at the gate's read
 * time over the step's window. A metric that needs a baseline is not queried without one; a
 * baseline_factor also runs the query for the baseline version, so the comparison is ours.
 */
export async function readAnalysis(
  prometheusUrl: string,
  metrics: AnalysisMetric[],
  window: QueryWindow,
  atMs: number,
): Promise<AnalysisReading[]> {
  const measured = metrics.filter((metric) => !metric.requiresBaseline || window.baseline !== null);
  return Promise.all(measured.map((metric) => readMetric(prometheusUrl, metric, window, atMs)));
}

async function readMetric(
  prometheusUrl: string,
  metric: AnalysisMetric,
  window: QueryWindow,
  atMs: number,
): Promise<AnalysisReading> {
  const query = renderQuery(metric.query, window, window.candidate);
  const baselineQuery =
    metric.baselineFactor !== null && window.baseline !== null
      ? renderQuery(metric.query, window, window.baseline)
      : null;
  const [candidate, baseline] = await Promise.all([
    queryInstant(prometheusUrl, query, atMs),
    baselineQuery === null ? null : queryInstant(prometheusUrl, baselineQuery, atMs),
  ]);
  return {
    metric,
    query,
    candidate,
    baseline: baselineQuery === null || baseline === null ? null : { query: baselineQuery, outcome: baseline },
  };
}
