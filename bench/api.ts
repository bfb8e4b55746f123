import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createPool } from '../activities/connections';
import { readBundleDir } from '../activities/bundle-dir';
import { packBundle } from '../policy/bundle/pack';
import { loadConfig } from '../policy/config';
import { laneName } from '../policy/lane';
import { randomLane, startEvaluator } from '../test/integration/evaluator-harness';
import { writeBundle } from '../test/integration/promotion-harness';
import { callApi, createTestToken, startApi } from '../test/integration/api-harness';

/**
 * Control-plane API latency (issue 16), through the real `npm run api` process, a pipeline worker
 * process and one evaluator, on a rollout held in a 30-minute bake:
 *   npx tsx bench/api.ts [seconds per phase, default 10] [clients, default 20]
 * Phase "status": every client reads the rollout (a Temporal query) in a loop. Phase "signal":
 * every client sends pause (an Update through the validator, the verification record and the
 * audit write). Prints throughput and p50/p99 per phase.
 */
const config = loadConfig();
const ROOT = path.join(__dirname, '..');

async function load(seconds: number, clients: number, call: () => Promise<number>) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const status = await call();
        latencies.push(performance.now() - started);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
  return `${(latencies.length / seconds).toFixed(0)} req/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`;
}

async function main(seconds: number, clients: number): Promise<void> {
  const pool = createPool(config, 2);
  const taskQueue = `bench-api-${randomUUID()}`;
  const env = { PIPELINE_TASK_QUEUE: taskQueue, PIPELINE_METRICS_PORT: '0' };
  const worker = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['worker/pipeline.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const lane = randomLane('dev');
  const evaluator = await startEvaluator(lane, { EVALUATOR_TEMPORAL: 'on' });
  const api = await startApi(env);
  try {
    const { token } = await createTestToken(pool, 'admin');
    const dir = await writeBundle({ version: `bench-${randomUUID().slice(0, 8)}@1.0.0`, env: 'dev' });
    const bundle = JSON.parse(packBundle(await readBundleDir(dir)).toString('utf8')) as unknown;
    const overrides = { steps: [50, 100], bake: '30m' };
    const started = await callApi(api.url, 'POST', '/v1/promotions', token, { ...lane, overrides, bundle });
    if (started.status !== 200) throw new Error(`promote: ${JSON.stringify(started.body)}`);
    const rollout = `/v1/rollouts/${laneName(lane)}`;
    while ((await callApi(api.url, 'GET', rollout, token)).body.stage !== 'baking') {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.log(
      `status (${clients} clients, ${seconds} s): ` +
        (await load(seconds, clients, async () => (await callApi(api.url, 'GET', rollout, token)).status)),
    );
    const pause = async () => (await callApi(api.url, 'POST', `${rollout}/pause`, token, { reason: 'bench' })).status;
    console.log(`signal (${clients} clients, ${seconds} s): ` + (await load(seconds, clients, pause)));
    await callApi(api.url, 'POST', `${rollout}/rollback`, token, { reason: 'bench over' });
  } finally {
    await api.stop();
    await evaluator.stop();
    worker.kill('SIGTERM');
    await pool.end();
  }
}

main(Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 20)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
