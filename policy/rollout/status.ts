import type { StepVerdict } from './gates';
import { REASONS } from './reasons';

/**
 * What a rollout stores about itself (facts), and the one pure function that derives what humans
 * see from them. The workflow keeps a RolloutFacts; the `status` query returns describeRollout().
 */
export type Stage =
  | 'compiling' // the bundle is being compiled and stored as a snapshot
  | 'validating' // fixtures run on both engines on the evaluator pool
  | 'ramping' // the lane's percent is being raised to the next step (or waits for approval)
  | 'baking' // the step serves traffic while the durable bake timer runs
  | 'gating' // the step's metrics are being judged
  | 'promoted' // the candidate now serves the whole lane
  | 'rolled_back' // the canary was withdrawn: failed gate, operator, or cancellation
  | 'rejected'; // refused before any traffic: bad bundle, loosened gates, failed fixtures

export const FINAL_STAGES: readonly Stage[] = ['promoted', 'rolled_back', 'rejected'];

export interface Hold {
  actor: string;
  reason: string;
}

export interface RolloutFacts {
  stage: Stage;
  version: string | null;
  lane: { env: string; target: string; region: string };
  steps: number[];
  /** Index into steps of the current (or last reached) step; -1 before the first. */
  stepIndex: number;
  percent: number;
  paused: Hold | null;
  awaitingApproval: boolean;
  extensions: number;
  verdicts: StepVerdict[];
  /** Why the rollout ended, when it has. */
  outcomeReason: string | null;
}

export interface RolloutStatus extends RolloutFacts {
  message: string;
}

export function initialFacts(lane: RolloutFacts['lane']): RolloutFacts {
  return {
    stage: 'compiling',
    version: null,
    lane,
    steps: [],
    stepIndex: -1,
    percent: 0,
    paused: null,
    awaitingApproval: false,
    extensions: 0,
    verdicts: [],
    outcomeReason: null,
  };
}

export function describeRollout(facts: RolloutFacts): RolloutStatus {
  return { ...facts, message: rolloutMessage(facts) };
}

function rolloutMessage(facts: RolloutFacts): string {
  const { stage, stepIndex, steps } = facts;
  const step = steps[stepIndex] ?? 0;
  const last = facts.verdicts[facts.verdicts.length - 1];
  if (FINAL_STAGES.includes(stage)) return facts.outcomeReason ?? stage;
  if (facts.paused) return REASONS.paused(facts.paused.actor, facts.paused.reason);
  if (facts.awaitingApproval) return REASONS.waitingApproval(stepIndex, steps.length, step);
  if (stage === 'ramping') return REASONS.ramping(stepIndex, steps.length, step);
  if (stage === 'baking' && facts.extensions > 0 && last) return last.message;
  if (stage === 'baking') return REASONS.baking(stepIndex, steps.length, step);
  return stage;
}

/** One line for the Temporal UI's current details: stage and the last verdict. */
export function currentDetails(status: RolloutStatus): string {
  const last = status.verdicts[status.verdicts.length - 1];
  const lines = [`**${status.stage}** ${status.version ?? ''} at ${status.percent}%`, status.message];
  if (last && last.message !== status.message) lines.push(`last verdict: ${last.message}`);
  return lines.join('\n\n');
}
