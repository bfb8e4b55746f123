import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { z } from 'zod';
import { DECISION_LOG_RETENTION_SCHEDULE_ID, FACT_CLEANUP_SCHEDULE_ID, PIPELINE_TASK_QUEUE } from '../policy/constants';
import { durationSchema } from '../policy/facts/duration';
import { factCleanupRequestSchema, flagName, parseInput, type FactCleanupRequest } from '../policy/facts/input';
import type { decisionLogRetention } from '../workflows/decision-log-retention';
import type { factCleanup } from '../workflows/fact-cleanup';

/** The Temporal Schedules of the pipeline worker's housekeeping workflows. */
export interface PipelineSchedule {
  /** How often the workflow runs, e.g. `1h`; Temporal's smallest interval is one second. */
  every: string;
  /** Defaults to the product's id (`pkg-fact-cleanup`, `pkg-decision-log-retention`); tests use their own. */
  scheduleId?: string;
  taskQueue?: string;
}

export interface FactCleanupSchedule extends PipelineSchedule {
  request?: FactCleanupRequest;
}

export interface ScheduleOutcome {
  scheduleId: string;
  created: boolean;
  everyMs: number;
}

const everySchema = z.object({ every: durationSchema(1000) });

export async function ensureFactCleanupSchedule(
  client: Client,
  schedule: FactCleanupSchedule,
): Promise<ScheduleOutcome> {
  const request = schedule.request ?? {};
  parseInput(factCleanupRequestSchema, request, 'invalid fact cleanup request', flagName);
  const args = [request] satisfies Parameters<typeof factCleanup>;
  return ensurePipelineSchedule(client, schedule, FACT_CLEANUP_SCHEDULE_ID, 'factCleanup', args);
}

export async function ensureDecisionLogRetentionSchedule(
  client: Client,
  schedule: PipelineSchedule,
): Promise<ScheduleOutcome> {
  const args = [] satisfies Parameters<typeof decisionLogRetention>;
  return ensurePipelineSchedule(client, schedule, DECISION_LOG_RETENTION_SCHEDULE_ID, 'decisionLogRetention', args);
}

/**
 * Creates the schedule, or brings an existing one to the given interval and arguments, so running
 * the command twice is not an error. Overlap SKIP: a slow run is never doubled up. An update keeps
 * the schedule's state, so a schedule an operator paused stays paused.
 */
async function ensurePipelineSchedule(
  client: Client,
  schedule: PipelineSchedule,
  defaultId: string,
  workflowType: string,
  args: unknown[],
): Promise<ScheduleOutcome> {
  const { every: everyMs } = parseInput(everySchema, { every: schedule.every }, 'invalid schedule', flagName);
  const scheduleId = schedule.scheduleId ?? defaultId;
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType,
    workflowId: scheduleId,
    args,
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
  await client.schedule.getHandle(scheduleId).update<Workflow>((previous) => ({
    ...previous,
    spec,
    action,
    policies: { ...previous.policies, ...policies },
  }));
  return { scheduleId, created: false, everyMs };
}
