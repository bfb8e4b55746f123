import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectTestEnvironment, createTestWorker } from '../support/temporal';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await connectTestEnvironment();
});
afterAll(async () => {
  await env?.teardown();
});

test('a workflow runs on the real Temporal server through a real worker', async () => {
  const worker = await createTestWorker(env);
  const result = await worker.runUntil(
    env.client.workflow.execute('ping', {
      taskQueue: worker.options.taskQueue,
      workflowId: `ping-${randomUUID()}`,
      args: ['pipeline'],
    }),
  );
  expect(result).toBe('pong pipeline');
});
