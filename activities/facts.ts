import { Context } from '@temporalio/activity';
import {
  factCleanupRequestSchema,
  parseInput,
  type FactCleanupOptions,
  type FactCleanupRequest,
} from '../policy/facts/input';
import { asActivityFailure } from './failure';
import { runFactCleanup, type FactCleanupProgress, type FactCleanupResult } from './store/fact-cleanup';
import type { Queryable } from './store/transaction';

export interface FactActivityDeps {
  pool: Queryable;
}

/**
 * Activities on the pipeline task queue. A heartbeat after every batch carries the progress; a
 * retry continues from the last progress the server received and first catches up on what the
 * dead attempt committed after it. Each batch is atomic and a deleted row cannot be picked again,
 * so no row is lost or archived twice whichever attempt ran it.
 */
export function createFactActivities({ pool }: FactActivityDeps) {
  return {
    async cleanupExpiredFacts(request: FactCleanupRequest): Promise<FactCleanupResult> {
      const options = parseCleanupRequest(request);
      const context = Context.current();
      return runFactCleanup(pool, options, {
        resumeFrom: context.info.heartbeatDetails as FactCleanupProgress | undefined,
        onBatch: (progress) => context.heartbeat(progress),
        signal: context.cancellationSignal,
        sleep: (ms) => context.sleep(ms),
      });
    },
  };
}

function parseCleanupRequest(request: FactCleanupRequest): FactCleanupOptions {
  try {
    return parseInput(factCleanupRequestSchema, request, 'invalid fact cleanup request');
  } catch (error) {
    throw asActivityFailure(error);
  }
}
