import { proxyActivities } from '@temporalio/workflow';
import type { createDecisionLogActivities, DecisionLogRetentionResult } from '../activities/decision-logs';

/**
 * Scheduled decision log retention (README "Decision logs"): drops the day partitions of
 * pkg_decision_log_chunks older than the pipeline worker's DECISION_LOG_RETENTION_DAYS. A detach waits
 * for transactions still reading the partition, hence the long timeout.
 */
export async function decisionLogRetention(): Promise<DecisionLogRetentionResult> {
  const { dropExpiredDecisionLogs } = proxyActivities<ReturnType<typeof createDecisionLogActivities>>({
    startToCloseTimeout: '30m',
    retry: { initialInterval: '1s', maximumInterval: '1m' },
  });
  return dropExpiredDecisionLogs();
}
