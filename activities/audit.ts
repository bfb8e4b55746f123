import type { Pool } from 'pg';
import { insertRolloutEvent, type RolloutEvent } from './store/audit';
import { inTransaction } from './store/transaction';
import { claimVerifiedStart, findVerifiedSubject } from './store/verified-actions';

/**
 * The workflow's own audit rows (signals, verdicts, stage events), keyed so a retry writes once;
 * each with its notification in one transaction. verifyOperator resolves the verification an
 * operator Update from the API carries to the identity the API verified (a read: safe to retry).
 */
export interface OperatorVerification {
  workflowId: string;
  action: string;
  verification: string;
}

/** A rollout start's verification, claimed by the run (`firstExecutionRunId`) it started. */
export interface StartVerification {
  workflowId: string;
  runId: string;
  verification: string;
}

export function createAuditActivities(deps: { pool: Pool }) {
  return {
    async recordRolloutEvent(event: RolloutEvent): Promise<void> {
      await inTransaction(deps.pool, (client) => insertRolloutEvent(client, event));
    },
    /** Several, in the order given (ids follow it), in one transaction. */
    async recordRolloutEvents(events: RolloutEvent[]): Promise<void> {
      await inTransaction(deps.pool, async (client) => {
        for (const event of events) await insertRolloutEvent(client, event);
      });
    },
    verifyOperator: ({ workflowId, action, verification }: OperatorVerification): Promise<string | null> =>
      findVerifiedSubject(deps.pool, verification, workflowId, action),
    verifyStarter: ({ workflowId, runId, verification }: StartVerification): Promise<string | null> =>
      claimVerifiedStart(deps.pool, verification, workflowId, runId),
  };
}
