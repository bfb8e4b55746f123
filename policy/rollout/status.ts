import type { StepVerdict } from './gates';
import type { ReplayVerdict } from './impact';
import { REASONS } from './reasons';
import type { Lane } from '../lane';

/**
 * What a rollout stores about itself (facts), and the one pure function that derives what humans
 * see from them. The workflow keeps a RolloutFacts; the `status` query returns describeRollout().
 */
export type Stage =
  | 'compiling' // the bundle is being compiled and stored as a snapshot
  | 'validating' // fixtures run on both engines on the evaluator pool
  | 'replaying' // logged decisions are replayed on the candidate and on what the lane serves
  | 'ramping' // the lane's percent is being raised to the next step (or waits for approval)
  | 'baking' // the step serves traffic while the durable bake timer runs
  | 'gating' // the step's metrics are being judged
  | 'promoted' // the candidate now serves the whole lane
  | 'rolled_back' // the canary was withdrawn: failed gate, operator, or cancellation
  | 'rejected'; // refused before any traffic: bad bundle, loosened gates, failed fixtures

export const FINAL_STAGES: readonly Stage[] = ['promoted', 'rolled_back', 'rejected'];

/** Why a rollout is not moving on, one value each (Argo Rollouts' pause conditions). */
export type HoldKind =
  | 'paused' // an operator paused it; resume releases it
  | 'approval' // the next step waits for an approve
  | 'inconclusive' // the last verdict had too little data: the bake was extended
  | 'confirmation'; // a confirm-rollout or confirm-promotion webhook has not confirmed yet; asked again

/** One shape for every hold: what holds, why, who (null for the gate's own), and since when. */
export interface Hold {
  kind: HoldKind;
  reason: string;
  actor: string | null;
  /** ISO time of the workflow when the hold began. */
  since: string;
}

/** An operator's request, as recorded: who and why. */
export interface OperatorRequest {
  actor: string;
  reason: string;
}

export interface RolloutFacts {
  stage: Stage;
  version: string | null;
  lane: Lane;
  steps: number[];
  /** Index into steps of the current (or last reached) step; -1 before the first. */
  stepIndex: number;
  percent: number;
  holds: Hold[];
  extensions: number;
  /** Passing reads in a row of the current step (consecutive_passes). */
  passes: number;
  verdicts: StepVerdict[];
  /** The replay stage's verdict, once it ran (null before, and in rollouts that had no such stage). */
  replay: ReplayVerdict | null;
  /** Why the rollout ended, when it has. */
  outcomeReason: string | null;
}

/** What the `status` query returns: the facts plus views derived from them. */
export interface RolloutStatus extends RolloutFacts {
  message: string;
  paused: OperatorRequest | null;
  awaitingApproval: boolean;
}

export function initialFacts(lane: Lane): RolloutFacts {
  return {
    stage: 'compiling',
    version: null,
    lane,
    steps: [],
    stepIndex: -1,
    percent: 0,
    holds: [],
    extensions: 0,
    passes: 0,
    verdicts: [],
    replay: null,
    outcomeReason: null,
  };
}

export const holdOf = (facts: RolloutFacts, kind: HoldKind): Hold | undefined =>
  facts.holds.find((hold) => hold.kind === kind);

export function describeRollout(facts: RolloutFacts): RolloutStatus {
  const pause = holdOf(facts, 'paused');
  return {
    ...facts,
    message: rolloutMessage(facts),
    paused: pause ? { actor: pause.actor ?? 'unknown', reason: pause.reason } : null,
    awaitingApproval: holdOf(facts, 'approval') !== undefined,
  };
}

function rolloutMessage(facts: RolloutFacts): string {
  const { stage, stepIndex, steps } = facts;
  const step = steps[stepIndex] ?? 0;
  if (FINAL_STAGES.includes(stage)) return facts.outcomeReason ?? stage;
  const pause = holdOf(facts, 'paused');
  if (pause) return REASONS.paused(pause.actor ?? 'unknown', pause.reason);
  if (holdOf(facts, 'approval')) return REASONS.waitingApproval(stepIndex, steps.length, step);
  const confirmation = holdOf(facts, 'confirmation');
  if (confirmation) return confirmation.reason;
  if (stage === 'ramping') return REASONS.ramping(stepIndex, steps.length, step);
  const inconclusive = holdOf(facts, 'inconclusive');
  if (stage === 'baking' && inconclusive) return inconclusive.reason;
  if (stage === 'baking' && facts.passes > 0) return REASONS.bakingAgain(stepIndex, steps.length, step, facts.passes);
  if (stage === 'baking') return REASONS.baking(stepIndex, steps.length, step);
  return stage;
}

/**
 * The last verdict check by check, each with its numbers (p-value and effect of a comparison with
 * the baseline included): what `pkgctl status` prints under the rollout's own line.
 */
export function lastVerdictLines(facts: Pick<RolloutFacts, 'verdicts'>): string[] {
  const last = facts.verdicts[facts.verdicts.length - 1];
  if (!last) return [];
  return [
    REASONS.lastVerdict(last.step, last.stepCount, last.percent, last.verdict),
    ...last.checks.map((check) => REASONS.checkLine(check.verdict, check.gate, check.message)),
  ];
}

/** One line for the Temporal UI's current details: stage and the last verdict. */
export function currentDetails(status: RolloutStatus): string {
  const last = status.verdicts[status.verdicts.length - 1];
  const lines = [`**${status.stage}** ${status.version ?? ''} at ${status.percent}%`, status.message];
  if (last && last.message !== status.message) lines.push(`last verdict: ${last.message}`);
  return lines.join('\n\n');
}
