import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../../policy/config';
import { WORKFLOW_BUNDLE_PATH } from '../global-setup';

// Worker lifecycle chatter at INFO drowns test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** The dev server that scripts/up started; tests never start their own. */
export async function connectTestEnvironment(): Promise<TestWorkflowEnvironment> {
  const config = loadConfig();
  return TestWorkflowEnvironment.createFromExistingServer({
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
  });
}

/** A worker on a fresh task queue, loading the bundle built once by global setup. */
export async function createTestWorker(
  env: TestWorkflowEnvironment,
  options: Partial<WorkerOptions> = {},
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: `test-${randomUUID()}`,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    ...options,
  });
}
