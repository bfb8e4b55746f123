import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  CancellationScope,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { REASONS } from '../policy/rollout/reasons';
import type { Outcome } from '../policy/rollout/decision-record';
import { laneName } from '../policy/lane';
import { describeRollout } from '../policy/rollout/status';
import type { SnapshotRef, BaselineRef } from '../activities/store/deployments';
import {
  approveSignal,
  pauseSignal,
  resumeSignal,
  rollbackSignal,
  statusQuery,
  type PromotionInput,
  type PromotionResult,
} from './definitions';
import { COMPILE, CONTROL, compile, control, evaluator } from './promotion-activities';
import { rampCandidate, type RampContext } from './promotion-ramp';
import { RolloutState } from './promotion-state';

/**
 * The promotion workflow (design §6): compile → validate → ramp with gates → promote, or roll
 * back / reject. Deterministic: time comes from Temporal timers, facts from activities.
 */
export async function promotion(input: PromotionInput): Promise<PromotionResult> {
  const info = workflowInfo();
  // The first run id survives a reset, so audit keys stay stable for the whole rollout.
  const rolloutId = `${info.workflowId}:${info.firstExecutionRunId}`;
  const state = new RolloutState(input.lane);
  const audits: Promise<void>[] = [];
  const audit = (event: string, actor: string, reason?: string) => {
    const key = `${rolloutId}:signal:${audits.length}`;
    audits.push(
      control.recordRolloutEvent({
        rolloutId,
        eventKey: key,
        lane: input.lane,
        snapshotId: null,
        event,
        step: state.facts.stepIndex,
        percent: state.facts.percent,
        actor,
        reason,
      }),
    );
  };
  registerHandlers(state, audit);
  state.publish();

  const ctx: RampContext = { rolloutId, input, state, candidate: null, baseline: null, validation: null };
  let outcome: { outcome: Outcome; reason: string };
  try {
    outcome = await runPromotion(ctx);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    await CancellationScope.nonCancellable(async () => {
      await withdraw(ctx, { actor: 'temporal', reason: REASONS.cancelled });
      await Promise.all(audits);
      await recordDecision(ctx, 'rolled_back', REASONS.cancelled);
    });
    throw error;
  }
  await Promise.all(audits);
  const decisionId = await recordDecision(ctx, outcome.outcome, outcome.reason);
  return { ...outcome, version: state.facts.version, verdicts: state.facts.verdicts, decisionId };
}

function registerHandlers(state: RolloutState, audit: (event: string, actor: string, reason?: string) => void): void {
  setHandler(statusQuery, () => describeRollout(state.facts));
  setHandler(pauseSignal, ({ actor, reason = '' }) => {
    state.facts.paused = { actor, reason };
    state.publish();
    audit('paused', actor, reason);
  });
  setHandler(resumeSignal, ({ actor }) => {
    state.facts.paused = null;
    state.publish();
    audit('resumed', actor);
  });
  setHandler(rollbackSignal, ({ actor, reason = '' }) => {
    state.rollbackRequest ??= { actor, reason };
    audit('rollback_requested', actor, reason);
  });
  setHandler(approveSignal, ({ actor }) => {
    const step = state.approveNext();
    audit(
      step === null ? 'approve_ignored' : 'approved',
      actor,
      step === null ? 'no step waits for approval' : `step ${step + 1}`,
    );
  });
}

type Ending = { outcome: Outcome; reason: string };

async function runPromotion(ctx: RampContext): Promise<Ending> {
  const { input, state, rolloutId } = ctx;
  let compiled;
  try {
    const plan = await control.planRollout({ lane: input.lane, digest: input.digest, overrides: input.overrides });
    ctx.plan = plan;
    state.approvalSteps = plan.approvalSteps;
    state.enter('compiling', { version: plan.version, steps: plan.steps });
    compiled = await compile.compileBundle.executeWithOptions({ ...COMPILE, summary: `compile ${plan.version}` }, [
      { digest: input.digest, actor: input.actor },
    ]);
    ctx.candidate = { snapshotId: compiled.snapshotId, version: compiled.version, checksum: compiled.checksum };
  } catch (error) {
    return reject(ctx, refusal(error));
  }
  state.enter('validating');
  await event(ctx, 'compiled', { created: compiled.created, fixtures: compiled.fixtureCount });
  let report;
  try {
    report = await evaluator.runSnapshotFixtures({ snapshotId: compiled.snapshotId, runKey: `${rolloutId}:fixtures` });
  } catch (error) {
    return reject(ctx, `validation could not run: ${refusal(error, true)}`);
  }
  ctx.validation = { passed: report.passed, failed: report.failed };
  if (report.failed > 0)
    return reject(ctx, REASONS.fixturesFailed(report.failed, report.passed + report.failed), {
      results: report.results,
    });
  await event(ctx, 'validated', { passed: report.passed });
  if (state.stopping) return rollBack(ctx);
  return rampCandidate(ctx, { rollBack: (reason) => rollBack(ctx, reason), promote: () => promote(ctx) });
}

/**
 * A non-retryable activity failure is a refusal of the bundle. With `timeouts`, an activity that
 * timed out (no evaluator picked the fixtures up) refuses too; anything else, e.g. a cancellation,
 * propagates.
 */
function refusal(error: unknown, timeouts = false): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'refused'}: ${cause.message}`;
  if (timeouts && cause instanceof TimeoutFailure) return `timed out (${cause.timeoutType ?? 'timeout'})`;
  throw error;
}

async function event(ctx: RampContext, name: string, details: Record<string, unknown>, reason?: string): Promise<void> {
  await control.recordRolloutEvent({
    rolloutId: ctx.rolloutId,
    eventKey: `${ctx.rolloutId}:${name}`,
    lane: ctx.input.lane,
    snapshotId: ctx.candidate?.snapshotId ?? null,
    event: name,
    actor: ctx.input.actor,
    reason,
    details,
  });
}

async function reject(ctx: RampContext, reason: string, details: Record<string, unknown> = {}): Promise<Ending> {
  await event(ctx, 'rejected', details, reason);
  ctx.state.enter('rejected', { outcomeReason: reason });
  return { outcome: 'rejected', reason };
}

async function withdraw(ctx: RampContext, hold: { actor: string; reason: string }): Promise<void> {
  if (ctx.candidate !== null) {
    await control.rollbackLane.executeWithOptions({ ...CONTROL, summary: `roll back ${laneName(ctx.input.lane)}` }, [
      {
        rolloutId: ctx.rolloutId,
        lane: ctx.input.lane,
        candidate: ctx.candidate,
        actor: hold.actor,
        reason: hold.reason,
        details: { verdict: ctx.state.facts.verdicts.at(-1) ?? null },
      },
    ]);
  }
  ctx.state.enter('rolled_back', { outcomeReason: hold.reason, percent: 0 });
}

async function rollBack(ctx: RampContext, reason?: string): Promise<Ending> {
  const request = ctx.state.rollbackRequest;
  const hold = request
    ? { actor: request.actor, reason: REASONS.manualRollback(request.actor, request.reason) }
    : { actor: 'gate', reason: reason ?? 'gate failed' };
  await withdraw(ctx, hold);
  return { outcome: 'rolled_back', reason: hold.reason };
}

async function promote(ctx: RampContext): Promise<Ending> {
  const candidate = ctx.candidate as SnapshotRef;
  const reason = REASONS.promoted(candidate.version);
  await control.promoteCandidate.executeWithOptions({ ...CONTROL, summary: `promote ${candidate.version}` }, [
    { rolloutId: ctx.rolloutId, lane: ctx.input.lane, candidate, actor: ctx.input.actor, reason },
  ]);
  ctx.state.enter('promoted', { outcomeReason: reason, percent: 100 });
  return { outcome: 'promoted', reason };
}

async function recordDecision(ctx: RampContext, outcome: Outcome, reason: string): Promise<string> {
  return control.writeDecisionRecord.executeWithOptions({ ...CONTROL, summary: `decision record: ${outcome}` }, [
    {
      rolloutId: ctx.rolloutId,
      lane: ctx.input.lane,
      outcome,
      reason,
      snapshot: ctx.candidate,
      baseline: ctx.baseline as BaselineRef | null,
      validation: ctx.validation,
      verdicts: ctx.state.facts.verdicts,
    },
  ]);
}
