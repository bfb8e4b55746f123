import type { GateConfig } from './config';
import type { AnalysisReading } from './analysis-judge';

/**
 * What one check of the judge (policy/rollout/gates.ts) says, and what it is judged from; apart
 * so that the baseline comparisons and the judge share them without importing each other.
 */

/** pass: safe to go on; fail: roll back; inconclusive: not enough evidence either way yet. */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

export type GateName =
  | 'samples' // enough candidate requests to judge at all
  | 'error_rate' // the absolute error budget
  | 'error_rate_vs_baseline' // errors not significantly more frequent than the baseline's (Fisher)
  | 'p99' // p99 latency against the baseline and an absolute ceiling
  | 'latency_vs_baseline' // the whole latency distribution not significantly slower (Mann–Whitney)
  | 'latency_exceedance_vs_baseline' // no latency that significantly more candidate requests exceed (KS)
  | 'divergence' // shadow decisions that differ from the serving version's
  | 'coverage' // evaluators serving the step
  | 'analysis'; // a metric gate of the bundle or env (rollout.analysis), measured by a PromQL query

export interface VersionMetrics {
  requests: number;
  errors: number;
  latencyBuckets: number[];
  shadow: { compared: number; diverged: number };
}

export interface Coverage {
  evaluators: number;
  serving: number;
}

/** The significance test behind a comparison with the baseline, reported with the check. */
export interface GateStatistics {
  test: 'fisher' | 'mann_whitney' | 'kolmogorov_smirnov';
  /** One-sided: how likely evidence this bad is if the candidate is no worse than the baseline. */
  pValue: number;
  /**
   * fisher: candidate minus baseline error rate; mann_whitney: P(candidate slower) + ½·P(tie);
   * kolmogorov_smirnov: the largest extra share of candidate requests above one latency.
   */
  effect: number;
}

export interface GateCheck {
  gate: GateName;
  verdict: Verdict;
  value: number | null;
  limit: number | null;
  message: string;
  stats?: GateStatistics;
  /** analysis only: the metric's name and the query as sent to Prometheus. */
  name?: string;
  query?: string;
}

export interface JudgeInput {
  step: number;
  stepCount: number;
  percent: number;
  candidate: VersionMetrics;
  baseline: VersionMetrics | null;
  coverage: Coverage;
  gates: GateConfig;
  /** What the step's metric gates (rollout.analysis) measured; judged beside the built-in gates. */
  analysis?: AnalysisReading[];
}

export function check(
  gate: GateName,
  verdict: Verdict,
  value: number | null,
  limit: number | null,
  message: string,
  stats?: GateStatistics,
): GateCheck {
  return stats ? { gate, verdict, value, limit, message, stats } : { gate, verdict, value, limit, message };
}
