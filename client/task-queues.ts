import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Config } from '../policy/config';
import { EVALUATOR_TASK_QUEUE } from '../policy/constants';

/**
 * Who serves the task queues a rollout and an impact analysis run on. Temporal holds a task that
 * nobody polls for until somebody does, without an error: a command waiting on such a workflow
 * would wait in silence, so pkgctl asks first (client/commands/workers.ts).
 */
export interface TaskQueueDuty {
  queue: string;
  tasks: 'workflow' | 'activity';
  /** Who polls it, as an operator starts them. */
  servedBy: string;
}

export interface TaskQueuePresence extends TaskQueueDuty {
  /** Workers that polled lately (Temporal forgets a poller some minutes after its last poll). */
  pollers: number;
  /** ISO time of the latest poll; null with no pollers. */
  lastPollAt: string | null;
}

export const PIPELINE_WORKER = 'the pipeline worker (npm run worker)';

export function pipelineDuties(config: Config): TaskQueueDuty[] {
  return [
    { queue: config.PIPELINE_TASK_QUEUE, tasks: 'workflow', servedBy: PIPELINE_WORKER },
    { queue: config.PIPELINE_TASK_QUEUE, tasks: 'activity', servedBy: PIPELINE_WORKER },
    {
      queue: EVALUATOR_TASK_QUEUE,
      tasks: 'activity',
      servedBy: 'the evaluator pool (npm run evaluator, with EVALUATOR_TEMPORAL=on)',
    },
  ];
}

const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;

export async function taskQueuePresence(
  client: Client,
  namespace: string,
  duties: readonly TaskQueueDuty[],
): Promise<TaskQueuePresence[]> {
  return Promise.all(
    duties.map(async (duty) => {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: duty.queue },
        taskQueueType: duty.tasks === 'workflow' ? TASK_QUEUE_TYPE_WORKFLOW : TASK_QUEUE_TYPE_ACTIVITY,
      });
      const seconds = (pollers ?? []).map((poller) => Number(poller.lastAccessTime?.seconds ?? 0));
      const latest = Math.max(0, ...seconds);
      return {
        ...duty,
        pollers: seconds.length,
        lastPollAt: latest === 0 ? null : new Date(latest * 1000).toISOString(),
      };
    }),
  );
}
