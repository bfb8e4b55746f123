import { proxyActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import { EVALUATOR_TASK_QUEUE } from '../policy/constants';
import { ERROR_TYPES } from '../policy/errors';
import type { createEvaluatorActivities } from '../activities/evaluator';
import type { createPipelineActivities } from '../activities/index';

/**
 * Activity presets of the promotion workflow (types only: no activity code enters the workflow
 * bundle). A PkgError type never gets better on retry; anything else (database blip, worker
 * crash) is retried with backoff.
 */
const retry: RetryPolicy = { initialInterval: '1s', maximumInterval: '20s', nonRetryableErrorTypes: [...ERROR_TYPES] };

export const CONTROL: ActivityOptions = { startToCloseTimeout: '30s', retry };
export const COMPILE: ActivityOptions = { startToCloseTimeout: '5m', retry };
export const FIXTURES: ActivityOptions = {
  taskQueue: EVALUATOR_TASK_QUEUE,
  // Short: an evaluator that dies mid-run (they run no heartbeat) is retried elsewhere quickly.
  startToCloseTimeout: '45s',
  // No evaluator polling is an outage, not a reason to wait forever.
  scheduleToCloseTimeout: '10m',
  retry,
};
/** A replay reads and decides up to millions of logged inputs: long, heartbeating, on the evaluator pool. */
export const REPLAY: ActivityOptions = {
  taskQueue: EVALUATOR_TASK_QUEUE,
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  scheduleToStartTimeout: '10m',
  retry,
};
/** Waits that poll: heartbeats prove the worker alive, so a crashed one is replaced quickly. */
export const WAITING: ActivityOptions = { startToCloseTimeout: '15m', heartbeatTimeout: '10s', retry };
export const GATE: ActivityOptions = { startToCloseTimeout: '1m', retry };

export type PipelineActivities = ReturnType<typeof createPipelineActivities>;
export type EvaluatorActivities = ReturnType<typeof createEvaluatorActivities>;

export const control = proxyActivities<PipelineActivities>(CONTROL);
export const compile = proxyActivities<PipelineActivities>(COMPILE);
export const waiting = proxyActivities<PipelineActivities>(WAITING);
export const gate = proxyActivities<PipelineActivities>(GATE);
export const evaluator = proxyActivities<EvaluatorActivities>(FIXTURES);
export const replayer = proxyActivities<EvaluatorActivities>(REPLAY);
