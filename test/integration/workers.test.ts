import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EXIT } from '../../client/exit-codes';
import type { TaskQueuePresence } from '../../client/task-queues';
import { pkgctl } from '../support/pkgctl';
import { connectTestEnvironment, createTestWorker } from '../support/temporal';
import { writeBundle } from './promotion-harness';

/**
 * Temporal keeps a task nobody polls for without an error, so pkgctl says when a queue a rollout
 * needs has no worker: `pkgctl workers` lists them, and promote and impact warn before they wait.
 */
let env: TestWorkflowEnvironment;
const started: string[] = [];

beforeAll(async () => {
  env = await connectTestEnvironment();
});

afterAll(async () => {
  for (const id of started)
    await env.client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  await env?.teardown();
});

const pipelineQueues = (stdout: string, queue: string) =>
  (JSON.parse(stdout) as { queues: TaskQueuePresence[] }).queues.filter((q) => q.queue === queue);

test('pkgctl workers names a queue nobody polls and exits 3; a running worker is seen polling both kinds of task', async () => {
  const idle = `idle-${randomUUID()}`;
  const unserved = await pkgctl(['workers', '--json'], { PIPELINE_TASK_QUEUE: idle });
  expect(unserved.code).toBe(EXIT.rejected);
  expect(JSON.parse(unserved.stdout)).toMatchObject({ ok: false });
  expect(pipelineQueues(unserved.stdout, idle)).toEqual([
    expect.objectContaining({ tasks: 'workflow', pollers: 0, lastPollAt: null }),
    expect.objectContaining({ tasks: 'activity', pollers: 0, lastPollAt: null }),
  ]);
  const text = await pkgctl(['workers'], { PIPELINE_TASK_QUEUE: idle });
  expect(text.stdout).toContain(
    `${idle} (workflow tasks): NOBODY POLLS — served by the pipeline worker (npm run worker)`,
  );

  const worker = await createTestWorker(env, { activities: { nothing: async () => undefined } });
  const before = Date.now();
  const served = await worker.runUntil(
    pkgctl(['workers', '--json'], { PIPELINE_TASK_QUEUE: worker.options.taskQueue }),
  );
  for (const queue of pipelineQueues(served.stdout, worker.options.taskQueue)) {
    expect(queue.pollers).toBe(1);
    // Temporal keeps poll times in whole seconds.
    expect(Date.parse(queue.lastPollAt!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  }
  expect(pipelineQueues(served.stdout, worker.options.taskQueue).map((q) => q.tasks)).toEqual(['workflow', 'activity']);
});

test('pkgctl promote warns on stderr that nobody polls its queue, and still starts the rollout', async () => {
  const idle = `idle-${randomUUID()}`;
  const dir = await writeBundle({ version: `workers-${randomUUID().slice(0, 8)}@1.0.0`, env: 'dev' });
  const target = `t-${randomUUID().slice(0, 8)}`;
  const run = await pkgctl(['promote', dir, '--env', 'dev', '--target', target, '--json'], {
    PIPELINE_TASK_QUEUE: idle,
  });
  expect(run.code).toBe(EXIT.ok);
  const { workflowId } = JSON.parse(run.stdout) as { workflowId: string };
  started.push(workflowId);
  expect(run.stderr).toContain(
    `waiting: nobody has polled task queue ${idle} for workflow tasks lately; the pipeline worker (npm run worker) serves it, and the workflow waits until one does\n`,
  );
  expect((await env.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');

  // Nobody runs it, so it cannot answer a query or take an Update: both fail at once, naming why,
  // rather than after Temporal's 30 s query timeout or (an Update) never.
  for (const command of [['status'], ['pause', '--reason', 'test']]) {
    const refused = await pkgctl([...command, workflowId, '--json'], { PIPELINE_TASK_QUEUE: idle });
    expect(refused.code).toBe(EXIT.error);
    expect(JSON.parse(refused.stdout)).toEqual({
      outcome: 'error',
      type: 'Unavailable',
      message:
        `cannot reach the pipeline worker (npm run worker): nobody has polled task queue ${idle} for workflow ` +
        `tasks lately, and only a worker polling it can run ${workflowId}`,
      exitCode: EXIT.error,
    });
  }
});
