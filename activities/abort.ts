import type { Pool } from 'pg';
import type { Lane } from '../policy/lane';
import { createDecisionActivities } from './decisions';
import { withdrawLeftover, type Leftover } from './store/deployments';

/**
 * `pkgctl abort`: withdraws the candidate a dead rollout left on its lane and writes the decision
 * that rollout never wrote (outcome aborted, under its id, with its events), so the env's chain
 * shows every change of what a lane serves.
 */
export interface AbortResult {
  withdrawn: Leftover | null;
  decisionId: string | null;
}

export async function abortLane(
  deps: { pool: Pool; signingKeyPath?: string },
  input: { lane: Lane; healer: string; actor: string; actorVerified: boolean; reason: string },
): Promise<AbortResult> {
  const withdrawn = await withdrawLeftover(deps.pool, input);
  if (!withdrawn) return { withdrawn, decisionId: null };
  const decisionId = await createDecisionActivities(deps).writeDecisionRecord({
    rolloutId: withdrawn.rolloutId ?? `${input.healer}:leftover`,
    lane: input.lane,
    outcome: 'aborted',
    reason: `aborted by ${input.actor}: ${input.reason}`,
    snapshot: withdrawn.candidate,
    baseline: null,
    validation: null,
    verdicts: [],
    actor: input.actor,
    actorVerified: input.actorVerified,
  });
  return { withdrawn, decisionId };
}
