import { proxyActivities } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { createFactActivities } from '../activities/facts';
import type { FactCleanupResult } from '../activities/store/fact-cleanup';
import type { FactCleanupRequest } from '../policy/facts/input';

/** Knobs of the activity's timeouts; tests shorten the heartbeat timeout to see a dead worker sooner. */
export interface FactCleanupTuning {
  heartbeatTimeout?: Duration;
}

/**
 * Scheduled expired-fact cleanup (ARCHITECTURE.md §8): one heartbeating activity that archives and deletes
 * in bounded batches. Its retries resume from the last reported batch; bad input is not retried.
 */
export async function factCleanup(
  request: FactCleanupRequest = {},
  tuning: FactCleanupTuning = {},
): Promise<FactCleanupResult> {
  const { cleanupExpiredFacts } = proxyActivities<ReturnType<typeof createFactActivities>>({
    startToCloseTimeout: '6h',
    heartbeatTimeout: tuning.heartbeatTimeout ?? '1m',
    retry: { initialInterval: '1s', maximumInterval: '1m', nonRetryableErrorTypes: ['InputInvalid'] },
  });
  return cleanupExpiredFacts(request);
}
