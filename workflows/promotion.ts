import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { RolloutPlan } from '../activities/gate';
import type { SnapshotRef } from '../activities/store/deployments';
import { laneName } from '../policy/lane';
import { REASONS } from '../policy/rollout/reasons';
import type { PromotionInput, PromotionOutcome, PromotionResult } from './definitions';
import { registerHandlers } from './operator-actions';
import { judgeReplay } from '../policy/rollout/impact';
import { COMPILE, CONTROL, compile, control, evaluator, replayer } from './promotion-activities';
import { rampCandidate } from './promotion-ramp';
import { gateOn, tell, type GateAnswer } from './promotion-webhooks';
import { RolloutState, type Run, type Starter } from './promotion-state';

/** How a promotion ended, with the reason every record of it gives. */
interface Ending {
  outcome: PromotionOutcome;
  reason: string;
}

/**
 * The promotion workflow (ARCHITECTURE.md §6): compile → validate → ramp with gates → promote, or roll
 * back / reject. Deterministic: time comes from Temporal timers, facts from activities.
 */
export async function promotion(input: PromotionInput): Promise<PromotionResult> {
  const info = workflowInfo();
  // The first run id survives a reset, so audit keys stay stable for the whole rollout.
  const run: Run = {
    rolloutId: `${info.workflowId}:${info.firstExecutionRunId}`,
    input,
    starter: { actor: input.actor },
    state: new RolloutState(input.lane),
    webhooks: [],
  };
  const audits = registerHandlers(run);
  run.state.publish();
  let ending: Ending;
  try {
    ending = await runPromotion(run);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    await CancellationScope.nonCancellable(async () => {
      await withdraw(run, { actor: 'temporal', reason: REASONS.cancelled });
      await Promise.all(audits);
      await recordDecision(run, { outcome: 'rolled_back', reason: REASONS.cancelled });
    });
    throw error;
  }
  await tell(run, 'post-rollout', ending);
  await Promise.all(audits);
  const decisionId = await recordDecision(run, ending);
  // An Update accepted just now still answers its caller before the run closes.
  await condition(allHandlersFinished);
  return { ...ending, version: run.state.facts.version, verdicts: run.state.facts.verdicts, decisionId };
}

/** Top to bottom: plan and compile, validate, ramp; each stage may end the promotion. */
async function runPromotion(run: Run): Promise<Ending> {
  run.starter = await identifyStarter(run.input);
  await healLane(run);
  const compiled = await planAndCompile(run);
  if ('refusal' in compiled) return reject(run, compiled.refusal);
  adoptWebhooks(run, compiled.plan);
  const refusal = await validate(run, compiled.candidate);
  if (refusal) return reject(run, refusal.reason, refusal.details);
  const replayRefusal = await replayLogged(run, compiled.plan, compiled.candidate);
  if (replayRefusal) return reject(run, replayRefusal);
  if (run.state.stopping) return rollBack(run);
  const start = await gateStart(run);
  if (start.kind === 'stopped') return rollBack(run);
  if (start.kind === 'fail') return reject(run, start.reason);
  const ending = await rampCandidate({ ...run, plan: compiled.plan, candidate: compiled.candidate });
  if (ending.kind !== 'promote') return rollBack(run, ending.reason);
  const promotion = await gateOn(run, 'confirm-promotion');
  if (promotion.kind !== 'pass') return rollBack(run, promotion.kind === 'fail' ? promotion.reason : undefined);
  return promote(run, compiled.candidate);
}

/**
 * Who started the rollout, for every audit row it writes: the identity the control-plane API verified
 * when its verification resolves for this workflow, else the input's actor, unverified (a start sent
 * straight through Temporal). Histories recorded before this patch name the input's actor without a flag.
 */
async function identifyStarter(input: PromotionInput): Promise<Starter> {
  if (!patched('verified-starter')) return { actor: input.actor };
  if (input.verification === undefined) return { actor: input.actor, verified: false };
  const { workflowId, firstExecutionRunId: runId } = workflowInfo();
  const subject = await control.verifyStarter({ workflowId, runId, verification: input.verification });
  return subject === null ? { actor: input.actor, verified: false } : { actor: subject, verified: true };
}

/**
 * Webhooks apply from here on; histories recorded before they existed replay without them. A plan
 * an older worker made (the rollout was under way at a deploy) has no webhooks field.
 */
function adoptWebhooks(run: Run, plan: RolloutPlan): void {
  if (patched('rollout-webhooks')) run.webhooks = plan.webhooks ?? [];
}

/** Before any traffic: pre-rollout, then confirm-rollout; a failure rejects the candidate unserved. */
async function gateStart(run: Run): Promise<GateAnswer> {
  const pre = await gateOn(run, 'pre-rollout');
  return pre.kind === 'pass' ? gateOn(run, 'confirm-rollout') : pre;
}

/**
 * A candidate that a dead rollout (terminated, timed out) left on the lane is withdrawn first: no
 * other workflow can be running on this lane, so nothing else will. Histories recorded before this
 * step replay without it.
 */
async function healLane({ rolloutId, input, starter }: Run): Promise<void> {
  if (!patched('heal-leftover-candidate')) return;
  await control.withdrawLeftover({
    lane: input.lane,
    healer: rolloutId,
    actor: starter.actor,
    actorVerified: starter.verified,
    reason: REASONS.leftoverWithdrawn(rolloutId),
  });
}

type Compiled = { plan: RolloutPlan; candidate: SnapshotRef } | { refusal: string };

/** A refused plan (bad bundle, loosened gates) or compile ends the promotion before any traffic. */
async function planAndCompile(run: Run): Promise<Compiled> {
  const { input, state } = run;
  let plan, compiled;
  try {
    plan = await control.planRollout({ lane: input.lane, digest: input.digest, overrides: input.overrides });
    state.approvalSteps = plan.approvalSteps;
    if (patched('verified-identity')) state.verifiedIdentity = plan.verifiedIdentity ?? false;
    state.enter('compiling', { version: plan.version, steps: plan.steps });
    compiled = await compile.compileBundle.executeWithOptions({ ...COMPILE, summary: `compile ${plan.version}` }, [
      { digest: input.digest, actor: run.starter.actor },
    ]);
  } catch (error) {
    return { refusal: refusal(error) };
  }
  const candidate = { snapshotId: compiled.snapshotId, version: compiled.version, checksum: compiled.checksum };
  state.evidence.candidate = candidate;
  state.enter('validating');
  await event(run, 'compiled', { created: compiled.created, fixtures: compiled.fixtureCount });
  return { plan, candidate };
}

/** Fixtures on both engines, on the evaluator pool; a refusal names why validation did not pass. */
async function validate(
  run: Run,
  candidate: SnapshotRef,
): Promise<{ reason: string; details?: Record<string, unknown> } | null> {
  let report;
  try {
    report = await evaluator.runSnapshotFixtures({
      snapshotId: candidate.snapshotId,
      runKey: `${run.rolloutId}:fixtures`,
      actor: run.starter.actor,
      actorVerified: run.starter.verified,
    });
  } catch (error) {
    return { reason: `validation could not run: ${refusal(error, true)}` };
  }
  run.state.evidence.validation = { passed: report.passed, failed: report.failed };
  if (report.failed > 0) {
    return {
      reason: REASONS.fixturesFailed(report.failed, report.passed + report.failed),
      details: { results: report.results },
    };
  }
  await event(run, 'validated', { passed: report.passed });
  return null;
}

/** Examples of changed decisions kept in the verdict and the decision record. */
const REPLAY_EXAMPLES = 3;

/**
 * Logged decisions replayed on the candidate and on what the lane serves, before any live request
 * reaches the candidate: more change than the author declared is refused here, with no canary row
 * ever written. Returns the refusal, or null to go on. Histories recorded before this stage replay without it.
 */
async function replayLogged(run: Run, plan: RolloutPlan, candidate: SnapshotRef): Promise<string | null> {
  // A plan an older worker made (the rollout was under way at a deploy) has no replay settings.
  if (!patched('replay-stage') || plan.replay === undefined) return null;
  run.state.enter('replaying');
  let report;
  try {
    report = await replayer.replayDecisions({
      lane: run.input.lane,
      candidate: { snapshotId: candidate.snapshotId },
      windowMs: plan.replay.windowMs,
      limit: plan.replay.limit,
      maxExamples: REPLAY_EXAMPLES,
    });
  } catch (error) {
    return `replay could not run: ${refusal(error, true)}`;
  }
  const verdict = judgeReplay(report, plan.replay);
  run.state.facts.replay = verdict;
  const { examples, baselineVersion, skipped: unparsed } = report;
  await event(run, `replay_${verdict.verdict}`, { ...verdict, baselineVersion, unparsed, examples }, verdict.message);
  return verdict.verdict === 'pass' || verdict.skipped ? null : verdict.message;
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

async function event(run: Run, name: string, details: Record<string, unknown>, reason?: string): Promise<void> {
  await control.recordRolloutEvent({
    rolloutId: run.rolloutId,
    eventKey: `${run.rolloutId}:${name}`,
    lane: run.input.lane,
    snapshotId: run.state.evidence.candidate?.snapshotId ?? null,
    event: name,
    actor: run.starter.actor,
    actorVerified: run.starter.verified,
    reason,
    details,
  });
}

async function reject(run: Run, reason: string, details: Record<string, unknown> = {}): Promise<Ending> {
  await event(run, 'rejected', details, reason);
  run.state.enter('rejected', { outcomeReason: reason });
  return { outcome: 'rejected', reason };
}

async function withdraw(run: Run, request: { actor: string; actorVerified?: boolean; reason: string }): Promise<void> {
  const { candidate } = run.state.evidence;
  if (candidate !== null) {
    await control.rollbackLane.executeWithOptions({ ...CONTROL, summary: `roll back ${laneName(run.input.lane)}` }, [
      {
        rolloutId: run.rolloutId,
        lane: run.input.lane,
        candidate,
        actor: request.actor,
        actorVerified: request.actorVerified,
        reason: request.reason,
        details: { verdict: run.state.facts.verdicts.at(-1) ?? null },
      },
    ]);
  }
  run.state.enter('rolled_back', { outcomeReason: request.reason, percent: 0 });
}

/** An operator's rollback request wins over the gate's reason: it is what actually ended the ramp. */
async function rollBack(run: Run, gateReason?: string): Promise<Ending> {
  const request = run.state.rollbackRequest;
  const by = request
    ? {
        actor: request.actor,
        actorVerified: request.verified,
        reason: REASONS.manualRollback(request.actor, request.reason),
      }
    : { actor: 'gate', reason: gateReason ?? 'gate failed' };
  await withdraw(run, by);
  await tell(run, 'rollback', { outcome: 'rolled_back', reason: by.reason });
  return { outcome: 'rolled_back', reason: by.reason };
}

async function promote(run: Run, candidate: SnapshotRef): Promise<Ending> {
  const reason = REASONS.promoted(candidate.version);
  await control.promoteCandidate.executeWithOptions({ ...CONTROL, summary: `promote ${candidate.version}` }, [
    {
      rolloutId: run.rolloutId,
      lane: run.input.lane,
      candidate,
      actor: run.starter.actor,
      actorVerified: run.starter.verified,
      reason,
    },
  ]);
  run.state.enter('promoted', { outcomeReason: reason, percent: 100 });
  return { outcome: 'promoted', reason };
}

async function recordDecision(run: Run, ending: Ending): Promise<string> {
  const { candidate, baseline, validation } = run.state.evidence;
  return control.writeDecisionRecord.executeWithOptions({ ...CONTROL, summary: `decision record: ${ending.outcome}` }, [
    {
      rolloutId: run.rolloutId,
      lane: run.input.lane,
      outcome: ending.outcome,
      reason: ending.reason,
      snapshot: candidate,
      baseline,
      validation,
      verdicts: run.state.facts.verdicts,
      replay: run.state.facts.replay,
      actor: run.starter.actor,
      actorVerified: run.starter.verified,
    },
  ]);
}
