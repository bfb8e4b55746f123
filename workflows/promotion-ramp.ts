import { CancellationScope, condition, patched } from '@temporalio/workflow';
import type { RolloutPlan } from '../activities/gate';
import type { CoverageResult } from '../activities/lane';
import type { SnapshotRef } from '../activities/store/deployments';
import { laneName } from '../policy/lane';
import { stepAction, type StepVerdict } from '../policy/rollout/gates';
import { REASONS } from '../policy/rollout/reasons';
import { CONTROL, GATE, WAITING, control, gate, waiting } from './promotion-activities';
import type { RolloutState, Run } from './promotion-state';

/** Everything the ramp needs, known before it starts. */
export interface Ramp extends Run {
  plan: RolloutPlan;
  candidate: SnapshotRef;
}

/** How a ramp ends; a rollback without a reason is an operator's request (the state says whose). */
export type RampEnding = { kind: 'promote' } | { kind: 'roll_back'; reason?: string };

/** Patch id of the consecutive passing reads (consecutive_passes); histories before it never re-read a pass. */
const CONSECUTIVE_PASSES_PATCH = 'consecutive-passes';

const STOPPED = Symbol('stopped');
const stopped: RampEnding = { kind: 'roll_back' };

/** Steps through the plan: approval, percent, coverage, bake and judge, until promote or roll back. */
export async function rampCandidate(ramp: Ramp): Promise<RampEnding> {
  for (const [step, percent] of ramp.plan.steps.entries()) {
    await holdWhilePaused(ramp.state);
    await awaitApproval(ramp, step, percent);
    if (ramp.state.stopping) return stopped;
    await setStep(ramp, step, percent);
    const coverage = await unlessStopped(ramp.state, () => awaitCoverage(ramp, percent));
    if (coverage === STOPPED) return stopped;
    const ending = await bakeAndJudge(ramp, step, percent, coverage.atMs);
    if (ending) return ending;
  }
  return { kind: 'promote' };
}

/** Runs work but gives up on it as soon as an operator asks for a rollback. */
async function unlessStopped<T>(state: RolloutState, work: () => Promise<T>): Promise<T | typeof STOPPED> {
  const scope = new CancellationScope();
  const running = scope.run(work);
  const stop = condition(() => state.stopping).then((): typeof STOPPED => STOPPED);
  const winner: T | typeof STOPPED = await Promise.race([running, stop]);
  if (winner === STOPPED) {
    scope.cancel();
    void running.catch(() => undefined);
  }
  return winner;
}

/** Pause holds here (after a bake, before the next step); a rollback request releases it. */
async function holdWhilePaused(state: RolloutState): Promise<void> {
  await condition(() => !state.isHeld('paused') || state.stopping);
}

async function awaitApproval({ state, plan }: Ramp, step: number, percent: number): Promise<void> {
  if (!state.needsApproval(step)) return;
  state.hold('approval', REASONS.waitingApproval(step, plan.steps.length, percent), null);
  state.enter('ramping', { stepIndex: step });
  await condition(() => !state.needsApproval(step) || state.stopping);
  state.release('approval');
  state.enter('ramping');
}

async function setStep(
  { input, starter, state, rolloutId, candidate }: Ramp,
  step: number,
  percent: number,
): Promise<void> {
  state.release('inconclusive');
  state.enter('ramping', { stepIndex: step, percent, extensions: 0, passes: 0 });
  const baseline = await control.setLaneStep.executeWithOptions(
    { ...CONTROL, summary: `set ${laneName(input.lane)} to ${percent}%` },
    [{ rolloutId, lane: input.lane, candidate, step, percent, actor: starter.actor, actorVerified: starter.verified }],
  );
  if (step === 0) state.evidence.baseline = baseline;
}

function awaitCoverage({ input, plan }: Ramp, percent: number): Promise<CoverageResult> {
  return waiting.awaitCoverage.executeWithOptions({ ...WAITING, summary: `wait for evaluators to serve ${percent}%` }, [
    { lane: input.lane, required: plan.gates.coverage, timeoutMs: plan.coverageTimeoutMs },
  ]);
}

/**
 * Bakes, then judges; inconclusive extends the bake (same window start, more samples). With
 * consecutive_passes above one, a pass is read again after another bake over a fresh window (the
 * evidence already judged could not fail twice) until that many passed in a row; inconclusive
 * starts the count over. Returns how the ramp ends, or nothing when the step passed.
 */
async function bakeAndJudge(ramp: Ramp, step: number, percent: number, fromMs: number): Promise<RampEnding | null> {
  const { state, plan } = ramp;
  let windowFrom = fromMs;
  for (;;) {
    state.enter('baking');
    if (plan.bakeMs > 0 && (await condition(() => state.stopping, plan.bakeMs))) return stopped;
    await holdWhilePaused(state);
    if (state.stopping) return stopped;
    state.release('inconclusive');
    state.enter('gating');
    const verdict = await judge(ramp, step, percent, windowFrom);
    const action = stepAction(verdict, state.facts.extensions, plan.gates.maxExtensions);
    if (action.kind === 'rollback') return { kind: 'roll_back', reason: action.reason };
    if (action.kind === 'advance') {
      if (!awaitsMorePasses(ramp)) return null;
      windowFrom = verdict.window?.toMs ?? windowFrom;
      continue;
    }
    state.facts.passes = 0;
    state.facts.extensions += 1;
    state.hold('inconclusive', verdict.message, 'gate');
  }
}

/** Counts a pass; true while the step needs more in a row (Argo's consecutiveSuccessLimit). */
function awaitsMorePasses({ state, plan }: Ramp): boolean {
  // A plan made before the setting existed has none: one pass, as then.
  const needed = plan.gates.consecutivePasses ?? 1;
  if (needed <= 1 || !patched(CONSECUTIVE_PASSES_PATCH)) return false;
  state.facts.passes += 1;
  return state.facts.passes < needed;
}

async function judge(ramp: Ramp, step: number, percent: number, fromMs: number): Promise<StepVerdict> {
  const { input, state, plan, candidate } = ramp;
  const verdict = await gate.judgeLaneStep.executeWithOptions(
    { ...GATE, summary: `judge step ${step + 1} (${percent}%)` },
    [
      {
        lane: input.lane,
        candidateVersion: candidate.version,
        baselineVersion: state.evidence.baseline?.version ?? null,
        fromMs,
        step,
        stepCount: plan.steps.length,
        percent,
        gates: plan.gates,
        analysis: plan.analysis,
      },
    ],
  );
  state.facts.verdicts.push(verdict);
  await recordVerdict(ramp, verdict);
  return verdict;
}

async function recordVerdict({ rolloutId, input, state, candidate }: Ramp, verdict: StepVerdict): Promise<void> {
  const n = state.facts.verdicts.length;
  await control.recordRolloutEvent({
    rolloutId,
    eventKey: `${rolloutId}:verdict:${n}`,
    lane: input.lane,
    snapshotId: candidate.snapshotId,
    event: `verdict_${verdict.verdict}`,
    step: verdict.step,
    percent: verdict.percent,
    actor: 'gate',
    reason: verdict.message,
    details: { checks: verdict.checks, baseline: verdict.baseline },
  });
}
