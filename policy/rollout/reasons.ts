/**
 * Every human-readable rollout message comes from this catalogue, so status, audit, decision
 * records and the CLI say the same thing the same way.
 */
export const percentText = (fraction: number): string => `${+(fraction * 100).toFixed(3)}%`;
export const msText = (micros: number): string => `${+(micros / 1000).toFixed(2)}ms`;
export const pText = (p: number): string => (p !== 0 && p < 1e-4 ? p.toExponential(1) : `${+p.toPrecision(2)}`);
const shareText = (share: number) => `${+share.toFixed(3)}`;

const numberText = (value: number): string => (Number.isFinite(value) ? `${+value.toPrecision(4)}` : `${value}`);

/** "≤ 5", "≥ 1", or the bound a failing value broke. */
function boundsText(value: number, ok: boolean, { max, min }: { max: number | null; min: number | null }): string {
  if (!ok) return max !== null && value > max ? `> ${numberText(max)}` : `< ${numberText(min!)}`;
  return [max === null ? '' : `≤ ${numberText(max)}`, min === null ? '' : `≥ ${numberText(min)}`]
    .filter(Boolean)
    .join(', ');
}

const stepLabel = (index: number, count: number, percent: number) => `step ${index + 1}/${count} (${percent}%)`;

export const REASONS = {
  samplesShort: (requests: number, min: number) => `only ${requests} candidate requests (need ${min})`,
  samplesOk: (requests: number, min: number) => `${requests} candidate requests ≥ ${min}`,
  errorRateOver: (rate: number, budget: number) => `error rate ${percentText(rate)} > budget ${percentText(budget)}`,
  errorRateDoomed: (errors: number, budget: number, min: number) =>
    `${errors} errors already exceed budget ${percentText(budget)} of ${min} requests`,
  errorRateOk: (rate: number, budget: number) => `error rate ${percentText(rate)} ≤ ${percentText(budget)}`,
  errorRateWorse: (rate: number, base: number, p: number, alpha: number) =>
    `error rate ${percentText(rate)} significantly worse than baseline ${percentText(base)} (Fisher p=${pText(p)} < α ${alpha})`,
  errorRateComparable: (rate: number, base: number, p: number) =>
    `error rate ${percentText(rate)} vs baseline ${percentText(base)} (Fisher p=${pText(p)})`,
  noBaseline: 'no baseline (first promotion of this lane): comparisons skipped, absolute budgets only',
  baselineQuiet: (requests: number) => `baseline served only ${requests} requests in the window: comparisons skipped`,
  p99Over: (p99: number, limit: number) => `p99 ${msText(p99)} > ${msText(limit)}`,
  p99Ok: (p99: number, limit: number) => `p99 ${msText(p99)} ≤ ${msText(limit)}`,
  p99Unknown: 'no latency samples',
  latencySamplesShort: (samples: number, min: number) => `only ${samples} latency samples to compare (need ${min})`,
  latencySlower: (slack: number, share: number, limit: number, p: number, alpha: number) =>
    `latency slower than baseline + ${slack}ms: P(candidate slower) ${shareText(share)} > ${limit} (Mann–Whitney p=${pText(p)} < α ${alpha})`,
  latencyNotSignificant: (slack: number, share: number, limit: number, p: number, alpha: number) =>
    `latency vs baseline + ${slack}ms: P(candidate slower) ${shareText(share)} > ${limit} but not significant (Mann–Whitney p=${pText(p)} ≥ α ${alpha})`,
  latencyComparable: (slack: number, share: number, limit: number, p: number) =>
    `latency vs baseline + ${slack}ms: P(candidate slower) ${shareText(share)} ≤ ${limit} (Mann–Whitney p=${pText(p)})`,
  latencyExcess: (slack: number, excess: number, edge: number, limit: number, p: number, alpha: number) =>
    `${percentText(excess)} more candidate requests than baseline + ${slack}ms slower than ${msText(edge)} ` +
    (excess <= limit
      ? `≤ ${percentText(limit)} (Kolmogorov–Smirnov p=${pText(p)})`
      : p < alpha
        ? `> ${percentText(limit)} (Kolmogorov–Smirnov p=${pText(p)} < α ${alpha})`
        : `> ${percentText(limit)} but not significant (Kolmogorov–Smirnov p=${pText(p)} ≥ α ${alpha})`),
  latencyExcessNone: (slack: number, limit: number, p: number) =>
    `no latency that more candidate requests than baseline + ${slack}ms exceed (≤ ${percentText(limit)}, Kolmogorov–Smirnov p=${pText(p)})`,
  divergenceOver: (rate: number, budget: number) => `divergence ${percentText(rate)} > budget ${percentText(budget)}`,
  divergenceOk: (rate: number, budget: number) => `divergence ${percentText(rate)} ≤ ${percentText(budget)}`,
  divergenceUnknown: 'no shadow comparisons yet',
  coverageShort: (serving: number, evaluators: number, need: number) =>
    `${serving}/${evaluators} evaluators serve the step (need ${percentText(need)})`,
  coverageOk: (serving: number, evaluators: number) => `${serving}/${evaluators} evaluators serve the step`,
  analysisMeasured: (
    name: string,
    value: number,
    ok: boolean,
    bounds: { max: number | null; min: number | null },
    baseline: number | null,
  ) =>
    `${name} ${numberText(value)} ${boundsText(value, ok, bounds)}${baseline === null ? '' : ` (baseline ${numberText(baseline)})`}`,
  analysisUnknown: (name: string, reason: string) => `${name}: ${reason}`,
  analysisQueryFailed: (reason: string) => `query failed: ${reason}`,
  analysisNoData: 'no data: the query returned no series',
  analysisManySeries: (count: number) => `${count} series where one is needed (aggregate them, e.g. with sum or max)`,
  analysisNaN: 'the query returned NaN (no samples in the window?)',
  analysisBaseline: (reason: string) => `baseline ${reason}`,
  stepVerdict: (index: number, count: number, percent: number, verdict: string, detail: string) =>
    `${stepLabel(index, count, percent)} ${verdict === 'pass' ? 'passed' : verdict === 'fail' ? 'failed' : 'inconclusive'}: ${detail}`,
  lastVerdict: (index: number, count: number, percent: number, verdict: string) =>
    `last verdict: ${stepLabel(index, count, percent)} ${verdict}`,
  checkLine: (verdict: string, gate: string, message: string) => `  ${verdict.padEnd(12)} ${gate}: ${message}`,
  extensionsExhausted: (max: number, detail: string) => `still inconclusive after ${max} extension(s): ${detail}`,
  ramping: (index: number, count: number, percent: number) => `ramping to ${stepLabel(index, count, percent)}`,
  baking: (index: number, count: number, percent: number) => `baking ${stepLabel(index, count, percent)}`,
  bakingAgain: (index: number, count: number, percent: number, passes: number) =>
    `baking ${stepLabel(index, count, percent)} again after ${passes} passing read(s) in a row`,
  waitingApproval: (index: number, count: number, percent: number) =>
    `waiting for approval before ${stepLabel(index, count, percent)}`,
  paused: (actor: string, reason: string) => `paused by ${actor}${reason ? `: ${reason}` : ''}`,
  manualRollback: (actor: string, reason: string) => `rolled back by ${actor}${reason ? `: ${reason}` : ''}`,
  cancelled: 'workflow cancelled: canary rolled back',
  leftoverWithdrawn: (by: string) => `withdrawn by ${by}: the rollout that set it ended without withdrawing it`,
  webhookHolding: (type: string, name: string, answer: string) => `waiting for ${type} webhook ${name} (${answer})`,
  webhookFailed: (type: string, name: string, answer: string) => `${type} webhook ${name} failed: ${answer}`,
  webhookConfirmed: (type: string, name: string) => `${type} webhook ${name} confirmed`,
  fixturesFailed: (failed: number, total: number) => `${failed}/${total} fixtures failed`,
  promoted: (version: string) => `${version} promoted`,
  replayOk: (changed: number, total: number, share: number, budget: number) =>
    `replay: ${changed}/${total} logged decisions change (${percentText(share)} ≤ budget ${percentText(budget)})`,
  replayOver: (changed: number, total: number, share: number, budget: number, topRule?: string) =>
    `replay: ${changed}/${total} logged decisions change (${percentText(share)} > budget ${percentText(budget)})` +
    (topRule ? `; most changed rule: ${topRule}` : ''),
  replayNoBaseline: 'the lane serves nothing yet to compare with',
  replayTooFew: (decisions: number, min: number) => `only ${decisions} logged decisions to replay (need ${min})`,
  replayInconclusive: (why: string, skipped: boolean) =>
    `replay inconclusive: ${why}; ${skipped ? 'skipped by the environment policy, the canary steps still judge it' : 'the environment requires it'}`,
  noEvaluators: (lane: string, served: { lane: string; evaluators: number }[]) =>
    `lane ${lane} has no live evaluator, so no step could ever be measured. ` +
    (served.length > 0
      ? `Lanes with live evaluators: ${served.map((s) => `${s.lane} (${s.evaluators})`).join(', ')}. `
      : 'No evaluator is live on any lane. ') +
    'An evaluator serves the lane named by EVALUATOR_ENV, EVALUATOR_TARGET and EVALUATOR_REGION; ' +
    'start one there (npm run evaluator) or promote to a lane listed here (--env, --target, --region).',
} as const;
