import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import { z } from 'zod';
import { FACT_CLEANUP_SCHEDULE_ID, PIPELINE_TASK_QUEUE } from '../policy/constants';
import { durationSchema } from '../policy/facts/duration';
import { factCleanupRequestSchema, flagName, parseInput, type FactCleanupRequest } from '../policy/facts/input';
import type { factCleanup } from '../workflows/fact-cleanup';

export interface FactCleanupSchedule {
  /** How often the cleanup runs, e.g. `1h`; Temporal's smallest interval is one second. */
  every: string;
  request?: FactCleanupRequest;
  /** Defaults to the product's `pkg-fact-cleanup`; tests use their own. */
  scheduleId?: string;
  taskQueue?: string;
}

export interface ScheduleOutcome {
  scheduleId: string;
  created: boolean;
  everyMs: number;
}

const everySchema = z.object({ every: durationSchema(1000) });

/**
 * Creates the cleanup schedule, or brings an existing one to the given interval and request, so
 * running the command twice is not an error. Overlap SKIP: a slow run is never doubled up. An
 * update keeps the schedule's state, so a schedule an operator paused stays paused.
 */
export async function ensureFactCleanupSchedule(
  client: Client,
  schedule: FactCleanupSchedule,
): Promise<ScheduleOutcome> {
  const { every: everyMs } = parseInput(everySchema, { every: schedule.every }, 'invalid schedule', flagName);
  const request = schedule.request ?? {};
  parseInput(factCleanupRequestSchema, request, 'invalid fact cleanup request', flagName);
  const scheduleId = schedule.scheduleId ?? FACT_CLEANUP_SCHEDULE_ID;
  const action: ScheduleOptionsStartWorkflowAction<typeof factCleanup> = {
    type: 'startWorkflow',
    workflowType: 'factCleanup',
    workflowId: scheduleId,
    args: [request],
    taskQueue: schedule.taskQueue ?? PIPELINE_TASK_QUEUE,
  };
  const spec = { intervals: [{ every: everyMs }] };
  // A run missed while the server was down is made up at most once: the next one covers it anyway.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: everyMs };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return { scheduleId, created: true, everyMs };
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule.getHandle(scheduleId).update<typeof factCleanup>((previous) => ({
    ...previous,
    spec,
    action,
    policies: { ...previous.policies, ...policies },
  }));
  return { scheduleId, created: false, everyMs };
}
