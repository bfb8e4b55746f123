import { percentileFromHistogram } from './latency-histogram';
import type { GateConfig } from './config';
import { REASONS } from './reasons';
import { fisherExactGreater, mannWhitneyGreater } from './statistics';

/**
 * The gate judge (ARCHITECTURE.md §7): pure, from measured numbers to a verdict. Each check yields its own
 * verdict with its value and limit; the worst one decides (fail > inconclusive > pass).
 */

/** pass: safe to go on; fail: roll back; inconclusive: not enough evidence either way yet. */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

export type GateName =
  | 'samples' // enough candidate requests to judge at all
  | 'error_rate' // the absolute error budget
  | 'error_rate_vs_baseline' // errors not significantly more frequent than the baseline's (Fisher)
  | 'p99' // p99 latency against the baseline and an absolute ceiling
  | 'latency_vs_baseline' // the whole latency distribution not significantly slower (Mann–Whitney)
  | 'divergence' // shadow decisions that differ from the serving version's
  | 'coverage'; // evaluators serving the step

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
  test: 'fisher' | 'mann_whitney';
  /** One-sided: how likely evidence this bad is if the candidate is no worse than the baseline. */
  pValue: number;
  /** fisher: candidate minus baseline error rate; mann_whitney: P(candidate slower) + ½·P(tie). */
  effect: number;
}

export interface GateCheck {
  gate: GateName;
  verdict: Verdict;
  value: number | null;
  limit: number | null;
  message: string;
  stats?: GateStatistics;
}

export interface StepVerdict {
  step: number;
  stepCount: number;
  percent: number;
  verdict: Verdict;
  /** 'none': first promotion; 'quiet': baseline too small to compare; 'compared': it was used. */
  baseline: 'none' | 'quiet' | 'compared';
  checks: GateCheck[];
  message: string;
  /** The metrics window read, [fromMs, toMs); set by the gate activity (absent in older records). */
  window?: { fromMs: number; toMs: number };
}

export interface JudgeInput {
  step: number;
  stepCount: number;
  percent: number;
  candidate: VersionMetrics;
  baseline: VersionMetrics | null;
  coverage: Coverage;
  gates: GateConfig;
}

const SEVERITY: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

export function worstVerdict(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (SEVERITY[v] > SEVERITY[worst] ? v : worst), 'pass');
}

function check(
  gate: GateName,
  verdict: Verdict,
  value: number | null,
  limit: number | null,
  message: string,
  stats?: GateStatistics,
): GateCheck {
  return stats ? { gate, verdict, value, limit, message, stats } : { gate, verdict, value, limit, message };
}

function samplesCheck({ candidate, gates }: JudgeInput): GateCheck {
  const enough = candidate.requests >= gates.minRequests;
  const message = enough ? REASONS.samplesOk : REASONS.samplesShort;
  return check(
    'samples',
    enough ? 'pass' : 'inconclusive',
    candidate.requests,
    gates.minRequests,
    message(candidate.requests, gates.minRequests),
  );
}

/** Below min samples a rate is noise, unless the errors alone already break the budget. */
function errorRateCheck({ candidate, gates }: JudgeInput): GateCheck {
  const { requests, errors } = candidate;
  const rate = requests === 0 ? 0 : errors / requests;
  if (requests < gates.minRequests) {
    const doomed = errors > gates.maxErrorRate * gates.minRequests;
    const message = doomed
      ? REASONS.errorRateDoomed(errors, gates.maxErrorRate, gates.minRequests)
      : REASONS.samplesShort(requests, gates.minRequests);
    return check('error_rate', doomed ? 'fail' : 'inconclusive', rate, gates.maxErrorRate, message);
  }
  const over = rate > gates.maxErrorRate;
  const message = over
    ? REASONS.errorRateOver(rate, gates.maxErrorRate)
    : REASONS.errorRateOk(rate, gates.maxErrorRate);
  return check('error_rate', over ? 'fail' : 'pass', rate, gates.maxErrorRate, message);
}

/**
 * Fisher's exact test at every count: exact where the z-test's normal approximation misleads (one
 * error in 200 requests against none in 2000 is z-test p 0.0008, Fisher p 0.09), close to it
 * where counts are large, and cheap for the counts of a step window. One test, so a verdict never
 * flips because a window crossed a threshold between two approximations.
 */
function errorRateVsBaselineCheck(input: JudgeInput, baseline: VersionMetrics): GateCheck {
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
 * Mann–Whitney U of the latency histograms, Kayenta's test: with thousands of samples a trivial
 * difference is significant, so it fails only when it is significant and the candidate is slower
 * in more pairs than max_latency_effect tolerates. It is a test of location: a spread that leaves
 * the candidate as often faster as slower is p99's to catch.
 */
function latencyVsBaselineCheck({ candidate, gates }: JudgeInput, baseline: VersionMetrics): GateCheck {
  const limit = gates.maxLatencyEffect;
  const samples = Math.min(sampleCount(candidate.latencyBuckets), sampleCount(baseline.latencyBuckets));
  const comparison = mannWhitneyGreater(candidate.latencyBuckets, baseline.latencyBuckets);
  if (samples < gates.minRequests || comparison === null) {
    return check(
      'latency_vs_baseline',
      'inconclusive',
      null,
      limit,
      REASONS.latencySamplesShort(samples, gates.minRequests),
    );
  }
  const { pValue, superiority } = comparison;
  const stats: GateStatistics = { test: 'mann_whitney', pValue, effect: superiority };
  const significant = pValue < gates.alpha;
  const slower = significant && superiority > limit;
  const message = slower
    ? REASONS.latencySlower(superiority, limit, pValue, gates.alpha)
    : superiority > limit
      ? REASONS.latencyNotSignificant(superiority, limit, pValue, gates.alpha)
      : REASONS.latencyComparable(superiority, limit, pValue);
  return check('latency_vs_baseline', slower ? 'fail' : 'pass', superiority, limit, message, stats);
}

function p99Check({ candidate, gates }: JudgeInput, baseline: VersionMetrics | null): GateCheck {
  const p99 = percentileFromHistogram(candidate.latencyBuckets, 0.99);
  const baseP99 = baseline ? percentileFromHistogram(baseline.latencyBuckets, 0.99) : null;
  const absolute = gates.maxP99Ms * 1000;
  const relative = baseP99 === null ? absolute : baseP99 * gates.p99Factor + gates.p99SlackMs * 1000;
  const limit = Math.min(absolute, relative);
  if (p99 === null) return check('p99', 'inconclusive', null, limit, REASONS.p99Unknown);
  const over = p99 > limit;
  return check(
    'p99',
    over ? 'fail' : 'pass',
    p99,
    limit,
    over ? REASONS.p99Over(p99, limit) : REASONS.p99Ok(p99, limit),
  );
}

function divergenceCheck({ candidate, gates }: JudgeInput): GateCheck {
  const { compared, diverged } = candidate.shadow;
  if (compared === 0) return check('divergence', 'inconclusive', null, gates.maxDivergence, REASONS.divergenceUnknown);
  const rate = diverged / compared;
  const over = rate > gates.maxDivergence;
  const message = over
    ? REASONS.divergenceOver(rate, gates.maxDivergence)
    : REASONS.divergenceOk(rate, gates.maxDivergence);
  return check('divergence', over ? 'fail' : 'pass', rate, gates.maxDivergence, message);
}

/** Coverage short of the floor is the fleet lagging, not the candidate failing: wait for it. */
function coverageCheck({ coverage, gates }: JudgeInput): GateCheck {
  const share = coverage.evaluators === 0 ? 0 : coverage.serving / coverage.evaluators;
  const enough = coverage.evaluators > 0 && share >= gates.coverage;
  const message = enough
    ? REASONS.coverageOk(coverage.serving, coverage.evaluators)
    : REASONS.coverageShort(coverage.serving, coverage.evaluators, gates.coverage);
  return check('coverage', enough ? 'pass' : 'inconclusive', share, gates.coverage, message);
}

function baselineUse(input: JudgeInput): StepVerdict['baseline'] {
  if (input.baseline === null) return 'none';
  return input.baseline.requests >= input.gates.minRequests ? 'compared' : 'quiet';
}

export function judgeStep(input: JudgeInput): StepVerdict {
  const use = baselineUse(input);
  const baseline = use === 'compared' ? input.baseline : null;
  const checks = [samplesCheck(input), errorRateCheck(input)];
  if (baseline) checks.push(errorRateVsBaselineCheck(input, baseline));
  checks.push(p99Check(input, baseline));
  if (baseline) checks.push(latencyVsBaselineCheck(input, baseline));
  if (use !== 'none') checks.push(divergenceCheck(input));
  checks.push(coverageCheck(input));
  const verdict = worstVerdict(checks.map((c) => c.verdict));
  return {
    step: input.step,
    stepCount: input.stepCount,
    percent: input.percent,
    verdict,
    baseline: use,
    checks,
    message: verdictMessage(input, verdict, checks, use),
  };
}

function verdictMessage(
  input: JudgeInput,
  verdict: Verdict,
  checks: GateCheck[],
  use: StepVerdict['baseline'],
): string {
  const decisive = verdict === 'pass' ? checks : checks.filter((c) => c.verdict === verdict);
  const notes =
    use === 'none'
      ? [REASONS.noBaseline]
      : use === 'quiet'
        ? [REASONS.baselineQuiet(input.baseline?.requests ?? 0)]
        : [];
  const detail = [...new Set([...decisive.map((c) => c.message), ...notes])].join('; ');
  return REASONS.stepVerdict(input.step, input.stepCount, input.percent, verdict, detail);
}

/** What the workflow does with a verdict, decided in this one place. */
export type GateAction = 'advance' | 'extend' | 'rollback';

export function actionFor(verdict: Verdict, extensionsUsed: number, maxExtensions: number): GateAction {
  if (verdict === 'pass') return 'advance';
  if (verdict === 'inconclusive' && extensionsUsed < maxExtensions) return 'extend';
  return 'rollback';
}

export type StepAction = { kind: 'advance' } | { kind: 'extend' } | { kind: 'rollback'; reason: string };

/**
 * The action with the reason a rollback gives: an exhausted inconclusive step says so, a failed
 * one carries its own message. The workflow switches on nothing else.
 */
export function stepAction(verdict: StepVerdict, extensionsUsed: number, maxExtensions: number): StepAction {
  const action = actionFor(verdict.verdict, extensionsUsed, maxExtensions);
  if (action !== 'rollback') return { kind: action };
  const reason =
    verdict.verdict === 'inconclusive' ? REASONS.extensionsExhausted(maxExtensions, verdict.message) : verdict.message;
  return { kind: 'rollback', reason };
}
