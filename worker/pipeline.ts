import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfigOrExit, type Config } from '../policy/config';
import { createPool, createRedis, temporalTls } from '../activities/connections';
import { createPipelineActivities } from '../activities/index';
import { sinksFrom } from '../policy/notify/notification';
import { createOutboxRelay } from './outbox-relay';
import { startPrometheusSide } from './pipeline-metrics';
import { createNotifier } from './notifier';
import { createNotifierMetrics } from './notifier-metrics';
import { listenForPlainActivations } from './plain-activations';

/**
 * `npm run worker`: the pipeline worker. Workflows (promotion, fact cleanup, decision log retention) and control activities
 * on the pipeline task queue, plus the outbox relay that turns committed lane changes into Redis
 * hot-swap messages and the notifier that tells sinks of rollout events; it keeps Prometheus' evaluator
 * targets file current and serves its own /metrics, and answers the seed's plain `activate:<version>`
 * messages on pkg_updates (worker/plain-activations.ts). SIGINT/SIGTERM drain the worker, then stop
 * the relay and the notifier.
 */
export async function runPipelineWorker(config: Config): Promise<void> {
  const pool = createPool(config);
  const redis = createRedis(config);
  const relayRedis = createRedis(config);
  const activationRedis = createRedis(config);
  const relay = createOutboxRelay({
    pool,
    redis: relayRedis,
    intervalMs: config.OUTBOX_RELAY_MS,
    onError: (error) => process.stderr.write(`outbox relay: ${(error as Error).message}\n`),
  });
  const prometheus = await startPrometheusSide(config, pool);
  const sinks = sinksFrom({ webhook: config.PKG_NOTIFY_WEBHOOK_URLS, slack: config.PKG_NOTIFY_SLACK_URLS });
  const notifier = createNotifier({
    pool,
    sinks,
    metrics: createNotifierMetrics([prometheus.registry]),
    secret: config.PKG_WEBHOOK_SECRET,
    intervalMs: config.NOTIFY_MS,
    onError: (error) => process.stderr.write(`notifier: ${(error as Error).message}\n`),
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
        prometheusUrl: config.PROMETHEUS_URL,
        webhookSecret: config.PKG_WEBHOOK_SECRET,
        decisionLogRetentionDays: config.DECISION_LOG_RETENTION_DAYS,
        verifiedEnvs: config.PKG_VERIFIED_ENVS,
      }),
    });
    relay.start();
    await listenForPlainActivations({
      subscriber: activationRedis,
      pool,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    // Without sinks there is nobody to tell: no notifier, no sink registered, no deliveries written.
    if (sinks.length > 0) notifier.start();
    process.stderr.write(
      `pipeline worker polling ${config.PIPELINE_TASK_QUEUE}; outbox relay every ${config.OUTBOX_RELAY_MS} ms; ` +
        `notifying ${sinks.length} sink(s)${config.PKG_WEBHOOK_SECRET ? '' : ', webhooks and notifications unsigned (no PKG_WEBHOOK_SECRET)'}\n`,
    );
    await worker.run();
  } finally {
    await relay.stop();
    await notifier.stop();
    await prometheus.stop();
    await connection.close();
    redis.disconnect();
    relayRedis.disconnect();
    activationRedis.disconnect();
    await pool.end();
  }
}

if (require.main === module) {
  runPipelineWorker(loadConfigOrExit()).catch((error: Error) => {
    process.stderr.write(`pipeline worker failed: ${error.message}\n`);
    process.exit(1);
  });
}
