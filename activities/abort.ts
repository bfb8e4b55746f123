import type { Pool } from 'pg';
import { decisionComposer } from './decisions';
import { appendDecisionIn } from './store/decisions';
import { withdrawLeftover, type Leftover, type LeftoverInput } from './store/deployments';
import { inTransaction } from './store/transaction';

/**
 * A candidate that a dead rollout left on its lane is withdrawn, by `pkgctl abort` or by the next
 * promotion of the lane, together with the decision that rollout never wrote (outcome aborted,
 * under its id, with its events and its plan), so the env's chain shows every change of what a
 * lane serves.
 */
export interface AbortResult {
  withdrawn: Leftover | null;
  decisionId: string | null;
}

export interface AbandonDeps {
  pool: Pool;
  signingKeyPath?: string;
}

/**
 * One transaction: a retry (of the activity, or of the command) finds both the withdrawal and the
 * record done, or neither, so the record is written exactly once and never lost between the two.
 */
export async function abandonLeftover(deps: AbandonDeps, input: LeftoverInput, reason: string): Promise<AbortResult> {
  return inTransaction(deps.pool, async (client) => {
    const withdrawn = await withdrawLeftover(client, input);
    if (!withdrawn) return { withdrawn, decisionId: null };
    const rolloutId = withdrawn.rolloutId ?? `${input.healer}:leftover`;
    const compose = decisionComposer(deps, {
      rolloutId,
      lane: input.lane,
      outcome: 'aborted',
      reason,
      snapshot: withdrawn.candidate,
      baseline: null,
      validation: null,
      verdicts: [],
      actor: input.actor,
      actorVerified: input.actorVerified ?? false,
    });
    return { withdrawn, decisionId: await appendDecisionIn(client, input.lane.env, rolloutId, compose) };
  });
}

/** `pkgctl abort`: heals a lane by hand. */
export function abortLane(deps: AbandonDeps, input: LeftoverInput): Promise<AbortResult> {
  return abandonLeftover(deps, input, `aborted by ${input.actor}: ${input.reason}`);
}
