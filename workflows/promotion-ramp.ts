import { CancellationScope, condition } from '@temporalio/workflow';
import type { BaselineRef, SnapshotRef } from '../activities/store/deployments';
import type { CoverageResult } from '../activities/lane';
import type { RolloutPlan } from '../activities/gate';
import { actionFor, type StepVerdict } from '../policy/rollout/gates';
import type { Outcome } from '../policy/rollout/decision-record';
import { REASONS } from '../policy/rollout/reasons';
import { laneName } from '../policy/lane';
import type { PromotionInput } from './definitions';
import { CONTROL, GATE, WAITING, control, gate, waiting } from './promotion-activities';
import type { RolloutState } from './promotion-state';

/** What one promotion run knows; filled in as stages complete. */
export interface RampContext {
  rolloutId: string;
  input: PromotionInput;
  state: RolloutState;
  plan?: RolloutPlan;
  candidate: SnapshotRef | null;
  baseline: BaselineRef | null;
  validation: { passed: number; failed: number } | null;
}

type Ending = { outcome: Outcome; reason: string };

interface Finish {
  rollBack(reason?: string): Promise<Ending>;
  promote(): Promise<Ending>;
}

const STOPPED = Symbol('stopped');

/** Runs work but gives up on it as soon as an operator asks for a rollback. */
async function unlessStopped<T>(ctx: RampContext, work: () => Promise<T>): Promise<T | typeof STOPPED> {
  const scope = new CancellationScope();
  const running = scope.run(work);
  const stop = condition(() => ctx.state.stopping).then((): typeof STOPPED => STOPPED);
  const winner: T | typeof STOPPED = await Promise.race([running, stop]);
  if (winner === STOPPED) {
    scope.cancel();
    void running.catch(() => undefined);
  }
  return winner;
}

/** Pause holds here (after a bake, before the next step); a rollback request releases it. */
async function holdWhilePaused(ctx: RampContext): Promise<void> {
  await condition(() => ctx.state.facts.paused === null || ctx.state.stopping);
}

async function awaitApproval(ctx: RampContext, step: number): Promise<void> {
  const { state } = ctx;
  if (!state.needsApproval(step)) return;
  state.enter('ramping', { stepIndex: step, awaitingApproval: true });
  await condition(() => !state.needsApproval(step) || state.stopping);
  state.enter('ramping', { awaitingApproval: false });
}

async function setStep(ctx: RampContext, step: number, percent: number): Promise<void> {
  const { input, state, rolloutId } = ctx;
  state.enter('ramping', { stepIndex: step, percent, extensions: 0 });
  const baseline = await control.setLaneStep.executeWithOptions(
    { ...CONTROL, summary: `set ${laneName(input.lane)} to ${percent}%` },
    [{ rolloutId, lane: input.lane, candidate: ctx.candidate!, step, percent, actor: input.actor }],
  );
  if (step === 0) ctx.baseline = baseline;
}

async function awaitCoverage(ctx: RampContext, percent: number): Promise<CoverageResult | typeof STOPPED> {
  const plan = ctx.plan!;
  return unlessStopped(ctx, () =>
    waiting.awaitCoverage.executeWithOptions({ ...WAITING, summary: `wait for evaluators to serve ${percent}%` }, [
      { lane: ctx.input.lane, required: plan.gates.coverage, timeoutMs: plan.coverageTimeoutMs },
    ]),
  );
}

/** Bakes, then judges; inconclusive extends the bake (same window start, more samples). */
async function bakeAndJudge(
  ctx: RampContext,
  step: number,
  percent: number,
  fromMs: number,
): Promise<StepVerdict | typeof STOPPED> {
  const { state } = ctx;
  const plan = ctx.plan!;
  for (;;) {
    state.enter('baking');
    if (plan.bakeMs > 0 && (await condition(() => state.stopping, plan.bakeMs))) return STOPPED;
    await holdWhilePaused(ctx);
    if (state.stopping) return STOPPED;
    state.enter('gating');
    const verdict = await gate.judgeLaneStep.executeWithOptions(
      { ...GATE, summary: `judge step ${step + 1} (${percent}%)` },
      [
        {
          lane: ctx.input.lane,
          candidateVersion: ctx.candidate!.version,
          baselineVersion: ctx.baseline?.version ?? null,
          fromMs,
          step,
          stepCount: plan.steps.length,
          percent,
          gates: plan.gates,
        },
      ],
    );
    state.facts.verdicts.push(verdict);
    await recordVerdict(ctx, verdict);
    if (actionFor(verdict.verdict, state.facts.extensions, plan.gates.maxExtensions) !== 'extend') return verdict;
    state.facts.extensions += 1;
  }
}

async function recordVerdict(ctx: RampContext, verdict: StepVerdict): Promise<void> {
  const n = ctx.state.facts.verdicts.length;
  await control.recordRolloutEvent({
    rolloutId: ctx.rolloutId,
    eventKey: `${ctx.rolloutId}:verdict:${n}`,
    lane: ctx.input.lane,
    snapshotId: ctx.candidate!.snapshotId,
    event: `verdict_${verdict.verdict}`,
    step: verdict.step,
    percent: verdict.percent,
    actor: 'gate',
    reason: verdict.message,
    details: { checks: verdict.checks, baseline: verdict.baseline },
  });
}

export async function rampCandidate(ctx: RampContext, finish: Finish): Promise<Ending> {
  const plan = ctx.plan!;
  for (const [step, percent] of plan.steps.entries()) {
    await holdWhilePaused(ctx);
    await awaitApproval(ctx, step);
    if (ctx.state.stopping) return finish.rollBack();
    await setStep(ctx, step, percent);
    const coverage = await awaitCoverage(ctx, percent);
    if (coverage === STOPPED) return finish.rollBack();
    const verdict = await bakeAndJudge(ctx, step, percent, coverage.atMs);
    if (verdict === STOPPED) return finish.rollBack();
    if (verdict.verdict === 'inconclusive')
      return finish.rollBack(REASONS.extensionsExhausted(plan.gates.maxExtensions, verdict.message));
    if (verdict.verdict === 'fail') return finish.rollBack(verdict.message);
  }
  return finish.promote();
}
