import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../policy/config';
import { UPDATES_CHANNEL } from '../policy/constants';
import { createPool, createRedis } from '../activities/connections';
import {
  laneMessage,
  randomLane,
  setLane,
  startEvaluator,
  storeExample,
  waitFor,
  type RunningEvaluator,
} from '../test/integration/evaluator-harness';

/**
 * `npx tsx bench/swap.ts [--swaps 50] [--evaluators 2]`
 *
 * Swap propagation: from the Redis publish (after the pkg_deployments write committed, as the
 * outbox relay does) until every evaluator serves the new version, seen from outside via /readyz.
 * Cold swaps go to a version no evaluator has loaded (Postgres read, sha256 check, engine build);
 * warm swaps alternate between two kept versions (the LRU: a rollback is a pointer swap).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { swaps: { type: 'string', default: '50' }, evaluators: { type: 'string', default: '2' } },
  });
  const swaps = Number(values.swaps);
  const config = loadConfig();
  const pool = createPool(config);
  const redis = createRedis(config);
  await new Promise((resolve) => redis.once('ready', resolve));
  const evaluators: RunningEvaluator[] = [];
  try {
    process.stderr.write(`storing ${swaps + 1} snapshots...\n`);
    const snapshots = [];
    for (let i = 0; i <= swaps; i++) snapshots.push(await storeExample(pool, 'hotel-ops-v1', `swap${Date.now()}x${i}`));
    const lane = randomLane(snapshots[0]!.env);
    await setLane(pool, lane, { snapshotId: snapshots[0]!.snapshotId });
    const env = { EVALUATOR_RECONCILE_MS: '600000', EVALUATOR_LOADED_MAX: String(swaps + 2) };
    evaluators.push(
      ...(await Promise.all(Array.from({ length: Number(values.evaluators) }, () => startEvaluator(lane, env)))),
    );

    const swapTo = async (snapshot: { snapshotId: string; version: string }) => {
      await setLane(pool, lane, { snapshotId: snapshot.snapshotId });
      const started = performance.now();
      await redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', snapshot.version));
      await Promise.all(evaluators.map((evaluator) => untilServing(evaluator, snapshot.version)));
      return performance.now() - started;
    };
    const cold: number[] = [];
    for (const snapshot of snapshots.slice(1)) cold.push(await swapTo(snapshot));
    const warm: number[] = [];
    for (let i = 0; i < swaps; i++) warm.push(await swapTo(snapshots[i % 2]!));

    console.log(`${swaps} swaps each, ${evaluators.length} evaluators, publish → all serving (ms)`);
    console.log(summary('cold (never-loaded version)', cold));
    console.log(summary('warm (kept version, LRU)', warm));
  } finally {
    await Promise.all(evaluators.map((evaluator) => evaluator.stop()));
    await redis.quit();
    await pool.end();
  }
}

async function untilServing(evaluator: RunningEvaluator, version: string): Promise<void> {
  await waitFor(
    async () => {
      const body = (await fetch(`${evaluator.url}/readyz`).then((r) => r.json())) as { serving?: string };
      return body.serving === version ? true : null;
    },
    10_000,
    `${evaluator.port} to serve ${version}`,
    1,
  );
}

function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return `${name.padEnd(30)} p50 ${at(0.5).toFixed(1).padStart(6)}   p99 ${at(0.99).toFixed(1).padStart(6)}   max ${at(1).toFixed(1).padStart(6)}`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
