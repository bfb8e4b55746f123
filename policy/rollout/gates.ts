import { percentileFromHistogram } from './latency-histogram';
import { REASONS } from './reasons';
import { judgeAnalysis } from './analysis-judge';
import { errorRateVsBaselineCheck, latencyChecks } from './baseline-comparisons';
import { check, type GateCheck, type JudgeInput, type Verdict, type VersionMetrics } from './gate-check';

export type { Coverage, GateCheck, GateName, GateStatistics, JudgeInput, Verdict, VersionMetrics } from './gate-check';

/**
 * The gate judge (ARCHITECTURE.md §7): pure, from measured numbers to a verdict. Each check yields its own
 * verdict with its value and limit; the worst one decides (fail > inconclusive > pass).
 */

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

const SEVERITY: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

export function worstVerdict(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (SEVERITY[v] > SEVERITY[worst] ? v : worst), 'pass');
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
  if (baseline) checks.push(...latencyChecks(input, baseline));
  if (use !== 'none') checks.push(divergenceCheck(input));
  checks.push(...judgeAnalysis(input.analysis ?? [], use === 'compared'));
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
