import type { Pool } from 'pg';
import { insertRolloutEvent, type RolloutEvent } from './store/audit';

/** The workflow's own audit rows (signals, verdicts, stage events), keyed so a retry writes once. */
export function createAuditActivities(deps: { pool: Pool }) {
  return {
    async recordRolloutEvent(event: RolloutEvent): Promise<void> {
      await insertRolloutEvent(deps.pool, event);
    },
  };
}
