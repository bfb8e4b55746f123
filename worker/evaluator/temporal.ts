import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import type { Config } from '../../policy/config';
import { EVALUATOR_TASK_QUEUE } from '../../policy/constants';
import { temporalTls } from '../../activities/connections';
import { createEvaluatorActivities } from '../../activities/evaluator';
import type { SnapshotRegistry } from './registry';
import { oneLine } from './service';

/**
 * The evaluator's Temporal side: activities only (no workflows), on task queue pkg-evaluator.
 * Temporal being down must not keep the HTTP side from serving, so the worker starts in the
 * background and retries with backoff until it connects.
 */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;

export interface TemporalSide {
  stop(): Promise<void>;
}

export function startEvaluatorTemporalWorker(
  config: Config,
  pool: Pool,
  registry: SnapshotRegistry,
  log: (line: string) => void,
): TemporalSide {
  // Worker lifecycle chatter at INFO would drown the evaluator's own lines.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  let worker: Worker | null = null;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const attempt = async (delay: number): Promise<void> => {
    if (stopped) return;
    try {
      const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS, tls: temporalTls(config) });
      worker = await Worker.create({
        connection,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: EVALUATOR_TASK_QUEUE,
        activities: createEvaluatorActivities({ pool, snapshots: registry }),
      });
      log(`temporal worker polling ${EVALUATOR_TASK_QUEUE}`);
      running = worker.run().finally(() => connection.close());
      await running;
    } catch (error) {
      worker = null;
      if (stopped) return;
      log(`temporal worker unavailable (${oneLine(error)}); retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      return attempt(Math.min(delay * 2, RETRY_MAX_MS));
    }
  };
  void attempt(RETRY_FIRST_MS);

  return {
    async stop() {
      stopped = true;
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    },
  };
}
