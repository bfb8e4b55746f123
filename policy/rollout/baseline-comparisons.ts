import { LATENCY_BOUNDS_US, shiftHistogram } from './latency-histogram';
import { check, type GateCheck, type GateStatistics, type JudgeInput, type VersionMetrics } from './gate-check';
import { REASONS } from './reasons';
import { fisherExactGreater, kolmogorovSmirnovGreater, mannWhitneyGreater } from './statistics';

/**
 * The judge's significance tests against the baseline (ARCHITECTURE.md §7). Each is one-sided (is
 * the candidate worse?), decides at the gates' alpha, and reports its test, p-value and effect.
 */

/**
 * Fisher's exact test at every count: exact where the z-test's normal approximation misleads (one
 * error in 200 requests against none in 2000 is z-test p 0.0008, Fisher p 0.09), close to it
 * where counts are large, and cheap for the counts of a step window. One test, so a verdict never
 * flips because a window crossed a threshold between two approximations.
 */
export function errorRateVsBaselineCheck(input: JudgeInput, baseline: VersionMetrics): GateCheck {
  const { candidate, gates } = input;
  if (candidate.requests < gates.minRequests) {
    const message = REASONS.samplesShort(candidate.requests, gates.minRequests);
    return check('error_rate_vs_baseline', 'inconclusive', null, gates.alpha, message);
  }
  const pValue = fisherExactGreater(candidate, baseline);
  const [rate, base] = [candidate.errors / candidate.requests, baseline.errors / baseline.requests];
  const stats: GateStatistics = { test: 'fisher', pValue, effect: rate - base };
  const worse = pValue < gates.alpha;
  const message = worse
    ? REASONS.errorRateWorse(rate, base, pValue, gates.alpha)
    : REASONS.errorRateComparable(rate, base, pValue);
  return check('error_rate_vs_baseline', worse ? 'fail' : 'pass', pValue, gates.alpha, message, stats);
}

const sampleCount = (histogram: readonly number[]) => histogram.reduce((sum, n) => sum + n, 0);

/**
 * Both latency distribution checks. They compare the candidate with the baseline made
 * latency_slack_ms slower: at the microseconds a policy takes, a candidate may be several times
 * slower and no one the wiser (a wasm-only bundle against native rules), as p99's slack allows.
 * Too few samples on either side leave them inconclusive.
 */
export function latencyChecks(input: JudgeInput, baseline: VersionMetrics): GateCheck[] {
  const { candidate, gates } = input;
  const samples = Math.min(sampleCount(candidate.latencyBuckets), sampleCount(baseline.latencyBuckets));
  if (samples < gates.minRequests) {
    const message = REASONS.latencySamplesShort(samples, gates.minRequests);
    return [
      check('latency_vs_baseline', 'inconclusive', null, gates.maxLatencyEffect, message),
      check('latency_exceedance_vs_baseline', 'inconclusive', null, gates.maxLatencyExcess, message),
    ];
  }
  const slowed = shiftHistogram(baseline.latencyBuckets, gates.latencySlackMs * 1000);
  return [latencyVsBaselineCheck(input, slowed), latencyExceedanceCheck(input, slowed)];
}

/**
 * Mann–Whitney U of the latency histograms, Kayenta's test: with thousands of samples a trivial
 * difference is significant, so it fails only when it is significant and the candidate is slower
 * in more pairs than max_latency_effect tolerates. It tests location: a spread that leaves the
 * candidate as often faster as slower is the exceedance check's to catch.
 */
function latencyVsBaselineCheck({ candidate, gates }: JudgeInput, slowedBaseline: number[]): GateCheck {
  const limit = gates.maxLatencyEffect;
  // Both sides have samples (latencyChecks counted at least min_requests ≥ 1 each).
  const { pValue, superiority } = mannWhitneyGreater(candidate.latencyBuckets, slowedBaseline)!;
  const stats: GateStatistics = { test: 'mann_whitney', pValue, effect: superiority };
  const slower = pValue < gates.alpha && superiority > limit;
  const slack = gates.latencySlackMs;
  const message = slower
    ? REASONS.latencySlower(slack, superiority, limit, pValue, gates.alpha)
    : superiority > limit
      ? REASONS.latencyNotSignificant(slack, superiority, limit, pValue, gates.alpha)
      : REASONS.latencyComparable(slack, superiority, limit, pValue);
  return check('latency_vs_baseline', slower ? 'fail' : 'pass', superiority, limit, message, stats);
}

/**
 * One-sided Kolmogorov–Smirnov of the latency histograms: fails when, above some latency, a
 * significantly larger share of candidate requests than of baseline requests is slower, by more
 * than max_latency_excess. It sees a wider spread (Kayenta #780) that Mann–Whitney cannot.
 */
function latencyExceedanceCheck({ candidate, gates }: JudgeInput, slowedBaseline: number[]): GateCheck {
  const limit = gates.maxLatencyExcess;
  const { pValue, excess, bucket } = kolmogorovSmirnovGreater(candidate.latencyBuckets, slowedBaseline)!;
  const stats: GateStatistics = { test: 'kolmogorov_smirnov', pValue, effect: excess };
  const over = pValue < gates.alpha && excess > limit;
  const edge = LATENCY_BOUNDS_US[bucket];
  const message =
    edge === undefined
      ? REASONS.latencyExcessNone(gates.latencySlackMs, limit, pValue)
      : REASONS.latencyExcess(gates.latencySlackMs, excess, edge, limit, pValue, gates.alpha);
  return check('latency_exceedance_vs_baseline', over ? 'fail' : 'pass', excess, limit, message, stats);
}
