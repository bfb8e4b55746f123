import { randomUUID } from 'node:crypto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { connectTemporalClient, createPool, createRedis, temporalTls } from '../activities/connections';
import { createPipelineActivities } from '../activities/index';
import { createOutboxRelay } from '../worker/outbox-relay';
import { loadConfig } from '../policy/config';
import { startPromotion } from '../client/rollout-client';
import type { PromotionResult } from '../workflows/definitions';
import { randomLane, startEvaluator, type RunningEvaluator } from '../test/integration/evaluator-harness';
import { startGuestTraffic, uniqueName, uploadSpec } from '../test/integration/promotion-harness';
import type { Lane } from '../policy/lane';

/**
 * Promotion benchmark (issue 5), on the real dev server with real evaluators and traffic:
 *   npx tsx bench/promotion.ts overhead     one rollout, 5 steps, 1 s bake (the dev minimum): end-to-end time (target ≤ 15 s)
 *   npx tsx bench/promotion.ts concurrent [N] N rollouts on N lanes at once (default 20): total time, history sizes
 * With the shortest bake each step is still judged on real samples: the window runs from coverage to the
 * gate read (plus the settle wait for the evaluators' last flush).
 */
const config = loadConfig();
const pool = createPool(config, 20);
const SETTLE_MS = 1200;

async function startPipeline(taskQueue: string) {
  const redis = createRedis(config);
  const relay = createOutboxRelay({ pool, redis, intervalMs: 50 });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS, tls: temporalTls(config) });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createPipelineActivities({
      pool,
      redis,
      opaPath: config.OPA_PATH,
      metricsSettleMs: SETTLE_MS,
      prometheusUrl: config.PROMETHEUS_URL,
      decisionLogRetentionDays: config.DECISION_LOG_RETENTION_DAYS,
    }),
    maxConcurrentActivityTaskExecutions: 200,
  });
  relay.start();
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await relay.stop();
      redis.disconnect();
      await connection.close();
    },
  };
}

interface Run {
  lane: Lane;
  result: PromotionResult;
  ms: number;
  events: number;
  bytes: number;
}

async function rollout(taskQueue: string, lane: Lane, overrides: { steps: number[]; bake: string }): Promise<Run> {
  const client = await connectTemporalClient(config);
  const version = `${uniqueName()}@1.0.0`;
  const digest = await uploadSpec(pool, { version, env: lane.env }, overrides);
  const started = performance.now();
  const handle = await startPromotion(client, taskQueue, { digest, lane, overrides, actor: 'bench' }, version);
  const result = await handle.result();
  const ms = performance.now() - started;
  const history = await handle.fetchHistory();
  await client.connection.close();
  const bytes = temporal.api.history.v1.History.encode(history).finish().byteLength;
  return { lane, result, ms, events: history.events?.length ?? 0, bytes };
}

async function withLanes<T>(
  count: number,
  work: (lanes: Lane[], evaluators: RunningEvaluator[]) => Promise<T>,
): Promise<T> {
  const lanes = Array.from({ length: count }, () => randomLane('dev'));
  const evaluators: RunningEvaluator[] = [];
  try {
    for (const [i, lane] of lanes.entries())
      evaluators.push(await startEvaluator(lane, { EVALUATOR_TEMPORAL: i === 0 ? 'on' : 'off' }));
    return await work(lanes, evaluators);
  } finally {
    await Promise.all(evaluators.map((e) => e.stop()));
  }
}

async function overhead(taskQueue: string): Promise<void> {
  await withLanes(1, async ([lane], evaluators) => {
    const traffic = startGuestTraffic(evaluators, 0, 12);
    const run = await rollout(taskQueue, lane!, { steps: [10, 25, 50, 75, 100], bake: '1s' });
    await traffic.stop();
    const sent = traffic.sent();
    console.log(
      `overhead: ${run.result.outcome} in ${(run.ms / 1000).toFixed(2)} s over 5 steps, 1 s bake ` +
        `(${run.result.verdicts.length} gate reads incl. ${SETTLE_MS} ms settle each; ${run.events} history events, ${run.bytes} bytes; ${sent} requests sent)`,
    );
  });
}

// Each lane's evaluator gets 1/N of two cores: a step needs min_requests candidate requests within
// its bake, so a shorter bake ends inconclusive and rolls back (correctly) rather than measuring overhead.
const CONCURRENT_BAKE = process.env.BENCH_BAKE ?? '6s';

async function concurrent(taskQueue: string, count: number): Promise<void> {
  await withLanes(count, async (lanes, evaluators) => {
    const traffic = startGuestTraffic(evaluators, 0, count);
    const started = performance.now();
    const runs = await Promise.all(
      lanes.map((lane) => rollout(taskQueue, lane, { steps: [20, 50, 100], bake: CONCURRENT_BAKE })),
    );
    const total = performance.now() - started;
    await traffic.stop();
    const outcomes = runs.reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.result.outcome]: (acc[r.result.outcome] ?? 0) + 1 }),
      {},
    );
    const events = runs.map((r) => r.events).sort((a, b) => a - b);
    const bytes = runs.map((r) => r.bytes).sort((a, b) => a - b);
    console.log(
      `concurrent: ${count} rollouts on ${count} lanes, all complete in ${(total / 1000).toFixed(1)} s: ${JSON.stringify(outcomes)}; ` +
        `per rollout ${(Math.min(...runs.map((r) => r.ms)) / 1000).toFixed(1)}–${(Math.max(...runs.map((r) => r.ms)) / 1000).toFixed(1)} s; ` +
        `history events ${events[0]}–${events[events.length - 1]}, bytes ${bytes[0]}–${bytes[bytes.length - 1]}`,
    );
  });
}

async function main(): Promise<void> {
  const scenario = process.argv[2] ?? 'all';
  const taskQueue = `bench-pipeline-${randomUUID()}`;
  const pipeline = await startPipeline(taskQueue);
  try {
    if (scenario === 'overhead' || scenario === 'all') await overhead(taskQueue);
    if (scenario === 'concurrent' || scenario === 'all') await concurrent(taskQueue, Number(process.argv[3] ?? 20));
  } finally {
    await pipeline.stop();
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
