import { dropDecisionLogPartition, listExpiredDecisionLogPartitions } from './store/decision-logs';
import type { Queryable } from './store/transaction';

export interface DecisionLogActivityDeps {
  pool: Queryable;
  /** DECISION_LOG_RETENTION_DAYS of the pipeline worker. */
  retentionDays: number;
}

export interface DecisionLogRetentionResult {
  retentionDays: number;
  /** Partitions dropped by this run, oldest first. */
  dropped: string[];
}

/**
 * Decision log retention on the pipeline task queue. Idempotent: expired partitions are found
 * afresh on every attempt, and a partition a dead attempt left detached is still found and dropped.
 */
export function createDecisionLogActivities({ pool, retentionDays }: DecisionLogActivityDeps) {
  return {
    async dropExpiredDecisionLogs(): Promise<DecisionLogRetentionResult> {
      const expired = await listExpiredDecisionLogPartitions(pool, retentionDays);
      for (const partition of expired) await dropDecisionLogPartition(pool, partition);
      return { retentionDays, dropped: expired.map((partition) => partition.name) };
    },
  };
}
