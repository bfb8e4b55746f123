import type { Pool } from 'pg';
import { insertRolloutEvent, type RolloutEvent } from './store/audit';
import { inTransaction } from './store/transaction';

/**
 * The workflow's own audit rows (signals, verdicts, stage events), keyed so a retry writes once;
 * each with its notification in one transaction.
 */
export function createAuditActivities(deps: { pool: Pool }) {
  return {
    async recordRolloutEvent(event: RolloutEvent): Promise<void> {
      await inTransaction(deps.pool, (client) => insertRolloutEvent(client, event));
    },
  };
}
