import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfigOrExit, type Config } from '../policy/config';
import { createPool, createRedis, temporalTls } from '../activities/connections';
import { createPipelineActivities } from '../activities/index';
import { createOutboxRelay } from './outbox-relay';

/**
 * `npm run worker`: the pipeline worker. Workflows (promotion, fact cleanup, decision log retention) and control activities
 * on the pipeline task queue, plus the outbox relay that turns committed lane changes into Redis
 * hot-swap messages. SIGINT/SIGTERM drain the worker, then stop the relay.
 */
export async function runPipelineWorker(config: Config): Promise<void> {
  const pool = createPool(config);
  const redis = createRedis(config);
  const relayRedis = createRedis(config);
  const relay = createOutboxRelay({
    pool,
    redis: relayRedis,
    intervalMs: config.OUTBOX_RELAY_MS,
    onError: (error) => process.stderr.write(`outbox relay: ${(error as Error).message}\n`),
  });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS, tls: temporalTls(config) });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.PIPELINE_TASK_QUEUE,
      workflowsPath: require.resolve('../workflows'),
      activities: createPipelineActivities({
        pool,
        redis,
        opaPath: config.OPA_PATH,
        signingKeyPath: config.DECISION_SIGNING_KEY,
        metricsSettleMs: config.GATE_SETTLE_MS,
        decisionLogRetentionDays: config.DECISION_LOG_RETENTION_DAYS,
      }),
    });
    relay.start();
    process.stderr.write(
      `pipeline worker polling ${config.PIPELINE_TASK_QUEUE}; outbox relay every ${config.OUTBOX_RELAY_MS} ms\n`,
    );
    await worker.run();
  } finally {
    await relay.stop();
    await connection.close();
    redis.disconnect();
    relayRedis.disconnect();
    await pool.end();
  }
}

if (require.main === module) {
  runPipelineWorker(loadConfigOrExit()).catch((error: Error) => {
    process.stderr.write(`pipeline worker failed: ${error.message}\n`);
    process.exit(1);
  });
}
