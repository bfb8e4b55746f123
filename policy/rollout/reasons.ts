/**
 * Every human-readable rollout message comes from this catalogue, so status, audit, decision
 * records and the CLI say the same thing the same way.
 */
export const percentText = (fraction: number): string => `${+(fraction * 100).toFixed(3)}%`;
export const msText = (micros: number): string => `${+(micros / 1000).toFixed(2)}ms`;

const stepLabel = (index: number, count: number, percent: number) => `step ${index + 1}/${count} (${percent}%)`;

export const REASONS = {
  samplesShort: (requests: number, min: number) => `only ${requests} candidate requests (need ${min})`,
  samplesOk: (requests: number, min: number) => `${requests} candidate requests ≥ ${min}`,
  errorRateOver: (rate: number, budget: number) => `error rate ${percentText(rate)} > budget ${percentText(budget)}`,
  errorRateDoomed: (errors: number, budget: number, min: number) =>
    `${errors} errors already exceed budget ${percentText(budget)} of ${min} requests`,
  errorRateOk: (rate: number, budget: number) => `error rate ${percentText(rate)} ≤ ${percentText(budget)}`,
  errorRateWorse: (rate: number, base: number, z: number) =>
    `error rate ${percentText(rate)} significantly worse than baseline ${percentText(base)} (z=${z.toFixed(2)})`,
  errorRateComparable: (rate: number, base: number, z: number) =>
    `error rate ${percentText(rate)} vs baseline ${percentText(base)} (z=${z.toFixed(2)})`,
  noBaseline: 'no baseline (first promotion of this lane): comparisons skipped, absolute budgets only',
  baselineQuiet: (requests: number) => `baseline served only ${requests} requests in the window: comparisons skipped`,
  p99Over: (p99: number, limit: number) => `p99 ${msText(p99)} > ${msText(limit)}`,
  p99Ok: (p99: number, limit: number) => `p99 ${msText(p99)} ≤ ${msText(limit)}`,
  p99Unknown: 'no latency samples',
  divergenceOver: (rate: number, budget: number) => `divergence ${percentText(rate)} > budget ${percentText(budget)}`,
  divergenceOk: (rate: number, budget: number) => `divergence ${percentText(rate)} ≤ ${percentText(budget)}`,
  divergenceUnknown: 'no shadow comparisons yet',
  coverageShort: (serving: number, evaluators: number, need: number) =>
    `${serving}/${evaluators} evaluators serve the step (need ${percentText(need)})`,
  coverageOk: (serving: number, evaluators: number) => `${serving}/${evaluators} evaluators serve the step`,
  stepVerdict: (index: number, count: number, percent: number, verdict: string, detail: string) =>
    `${stepLabel(index, count, percent)} ${verdict === 'pass' ? 'passed' : verdict === 'fail' ? 'failed' : 'inconclusive'}: ${detail}`,
  extensionsExhausted: (max: number, detail: string) => `still inconclusive after ${max} extension(s): ${detail}`,
  ramping: (index: number, count: number, percent: number) => `ramping to ${stepLabel(index, count, percent)}`,
  baking: (index: number, count: number, percent: number) => `baking ${stepLabel(index, count, percent)}`,
  waitingApproval: (index: number, count: number, percent: number) =>
    `waiting for approval before ${stepLabel(index, count, percent)}`,
  paused: (actor: string, reason: string) => `paused by ${actor}${reason ? `: ${reason}` : ''}`,
  manualRollback: (actor: string, reason: string) => `rolled back by ${actor}${reason ? `: ${reason}` : ''}`,
  cancelled: 'workflow cancelled: canary rolled back',
  leftoverWithdrawn: (by: string) => `withdrawn by ${by}: the rollout that set it ended without withdrawing it`,
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
