import { laneName, type Lane } from '../lane';
import { PLACEHOLDER_PATTERN, type AnalysisMetric, type Placeholder } from './analysis';
import type { GateCheck, Verdict } from './gate-check';
import { REASONS } from './reasons';

/**
 * Judging metric gates (rollout.analysis): pure, from query results to checks. Missing evidence is
 * never a pass (Argo Rollouts #4479): a failed query, no series, several series or NaN make the
 * check inconclusive with the reason, like any other gate short of data.
 */

/** What one instant query answered: one number per series, or why there is none. */
export type QueryOutcome = { ok: true; values: number[] } | { ok: false; reason: string };

/** A metric's query as sent and what came back; the baseline's only when it has a baseline_factor. */
export interface AnalysisReading {
  metric: AnalysisMetric;
  query: string;
  candidate: QueryOutcome;
  baseline: { query: string; outcome: QueryOutcome } | null;
}

export interface QueryWindow {
  candidate: string;
  baseline: string | null;
  lane: Lane;
  /** Seconds from the step's coverage to the gate's read. */
  windowS: number;
}

/** Placeholders sit inside PromQL string literals: quote and backslash escaped, so a name cannot end one. */
const promqlString = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** The query with its placeholders filled, for the version it measures (candidate or baseline). */
export function renderQuery(query: string, window: QueryWindow, version: string): string {
  const values: Record<Placeholder, string> = {
    version: promqlString(version),
    candidate: promqlString(window.candidate),
    baseline: promqlString(window.baseline ?? ''),
    env: promqlString(window.lane.env),
    target: promqlString(window.lane.target),
    region: promqlString(window.lane.region),
    lane: promqlString(laneName(window.lane)),
    window: `${Math.max(1, Math.ceil(window.windowS))}s`,
  };
  return query.replace(PLACEHOLDER_PATTERN, (_, name: string) => values[name as Placeholder]);
}

/** Whether the metric is judged at all this step: comparisons need a baseline that served. */
export function measuresMetric(metric: AnalysisMetric, baselineCompared: boolean): boolean {
  if (metric.requiresBaseline) return baselineCompared;
  return metric.max !== null || metric.min !== null || baselineCompared;
}

/** One value out of a query's answer, or why there is none to judge. */
function singleValue(outcome: QueryOutcome): { value: number } | { reason: string } {
  if (!outcome.ok) return { reason: REASONS.analysisQueryFailed(outcome.reason) };
  if (outcome.values.length === 0) return { reason: REASONS.analysisNoData };
  if (outcome.values.length > 1) return { reason: REASONS.analysisManySeries(outcome.values.length) };
  const value = outcome.values[0]!;
  if (Number.isNaN(value)) return { reason: REASONS.analysisNaN };
  return { value };
}

/** The bounds a value must keep: absolute ones, and the baseline's when it is compared. */
function limits(metric: AnalysisMetric, baselineValue: number | null): { max: number | null; min: number | null } {
  const relative = baselineValue === null ? null : baselineValue * metric.baselineFactor! + metric.baselineSlack;
  const maxes = [metric.max, relative].filter((v): v is number => v !== null);
  return { max: maxes.length > 0 ? Math.min(...maxes) : null, min: metric.min };
}

export function judgeAnalysisMetric(reading: AnalysisReading, baselineCompared: boolean): GateCheck {
  const { metric, query } = reading;
  const base = { gate: 'analysis' as const, name: metric.name, query };
  const inconclusive = (reason: string): GateCheck => ({
    ...base,
    verdict: 'inconclusive',
    value: null,
    limit: metric.max ?? metric.min,
    message: REASONS.analysisUnknown(metric.name, reason),
  });
  const candidate = singleValue(reading.candidate);
  if ('reason' in candidate) return inconclusive(candidate.reason);
  let baselineValue: number | null = null;
  if (baselineCompared && metric.baselineFactor !== null && reading.baseline) {
    const baseline = singleValue(reading.baseline.outcome);
    if ('reason' in baseline) return inconclusive(REASONS.analysisBaseline(baseline.reason));
    baselineValue = baseline.value;
  }
  const { max, min } = limits(metric, baselineValue);
  const value = candidate.value;
  const [over, under] = [max !== null && value > max, min !== null && value < min];
  const verdict: Verdict = over || under ? 'fail' : 'pass';
  const limit = under ? min : (max ?? min);
  const message = REASONS.analysisMeasured(metric.name, value, verdict === 'pass', { max, min }, baselineValue);
  return { ...base, verdict, value, limit, message };
}

/** The checks of every metric measured this step, in name order. */
export function judgeAnalysis(readings: AnalysisReading[], baselineCompared: boolean): GateCheck[] {
  return readings
    .filter((reading) => measuresMetric(reading.metric, baselineCompared))
    .map((reading) => judgeAnalysisMetric(reading, baselineCompared));
}
