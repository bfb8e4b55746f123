import { spawn, type ChildProcess } from 'node:child_process';
import type { Pool } from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../../policy/config';
import { createPool } from '../../activities/connections';
import {
  freePort,
  randomLane,
  readyz,
  setLane,
  sleep,
  startEvaluator,
  startLoad,
  storeExample,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * Redis goes away for 20 s under load. The shared Redis is never touched: this test runs its own
 * redis-server on a free port and points both evaluators at it.
 */
let pool: Pool;
const running: RunningEvaluator[] = [];
let redisServer: ChildProcess | null = null;

beforeAll(() => {
  pool = createPool(loadConfig());
});
afterAll(async () => {
  await Promise.all(running.splice(0).map((evaluator) => evaluator.stop()));
  await stopRedis();
  await pool.end();
});

async function startRedis(port: number): Promise<void> {
  redisServer = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitFor(
    async () =>
      (await probe
        .connect()
        .then(() => probe.ping())
        .catch(() => null)) === 'PONG'
        ? true
        : null,
    10_000,
    `redis-server on ${port}`,
  );
  probe.disconnect();
}

async function stopRedis(): Promise<void> {
  const server = redisServer;
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}

const guestInput = (i: number) => ({
  input: { tags: ['vip'], context: { domain: 'hotel_ops', subject: `guest:${i}` } },
});

test('Redis down for 20 s under load: no failed request, last good served, a change made meanwhile is reconciled on reconnect', async () => {
  const port = await freePort();
  await startRedis(port);
  const lane = randomLane();
  const v1 = await storeExample(pool, 'hotel-ops-v1');
  const v2 = await storeExample(pool, 'hotel-ops-v1');
  await setLane(pool, lane, { snapshotId: v1.snapshotId });
  // A reconcile period far longer than the test: only the reconnect can bring v2 in.
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, EVALUATOR_RECONCILE_MS: '600000' };
  const evaluators = await Promise.all([startEvaluator(lane, env), startEvaluator(lane, env)]);
  running.push(...evaluators);
  for (const evaluator of evaluators) {
    await waitFor(async () => ((await readyz(evaluator)).body.redis === 'up' ? true : null), 15_000, 'redis up');
  }
  const load = startLoad(evaluators, guestInput);
  await sleep(500);

  await stopRedis();
  const downAt = Date.now();
  for (const evaluator of evaluators) {
    const { status, body } = await waitFor(
      async () => {
        const reply = await readyz(evaluator);
        return reply.body.redis === 'down' ? reply : null;
      },
      15_000,
      'redis reported down',
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ ready: true, degraded: true, serving: v1.version });
  }
  await setLane(pool, lane, { snapshotId: v2.snapshotId });
  await sleep(20_000 - (Date.now() - downAt));
  for (const evaluator of evaluators) expect((await readyz(evaluator)).body.serving).toBe(v1.version);
  const during = { ok: load.report.ok, failed: load.report.failed };

  await startRedis(port);
  for (const evaluator of evaluators) {
    await waitFor(
      async () => ((await readyz(evaluator)).body.serving === v2.version ? true : null),
      10_000,
      `${evaluator.port} to reconcile to ${v2.version}`,
    );
  }
  const report = await load.stop();
  expect(report.failures).toEqual([]);
  expect(report.failed).toBe(0);
  expect(during.ok).toBeGreaterThan(100);
  expect(report.versions.get(v2.version)).toBeGreaterThan(0);
}, 90_000);
