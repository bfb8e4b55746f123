import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../policy/config';
import { UPDATES_CHANNEL } from '../../policy/constants';
import {
  evaluate,
  freePort,
  laneMessage,
  randomLane,
  readyz,
  setLane,
  sleep,
  startEvaluator,
  startLoad,
  storeExample,
  waitFor,
  useEvaluatorServices,
  createRelay,
} from './evaluator-harness';
import type { Lane } from '../../policy/lane';

/**
 * Postgres goes away for the evaluators only: they reach it through a TCP relay this test owns and
 * cuts, so the shared database keeps serving everyone else.
 */
const services = useEvaluatorServices();

async function relayedEvaluator(lane: Lane, env: Record<string, string> = {}) {
  const relayPort = await freePort();
  const relay = createRelay(relayPort, new URL(loadConfig().DATABASE_URL));
  await relay.open();
  const throughRelay = new URL(loadConfig().DATABASE_URL);
  throughRelay.port = String(relayPort);
  const evaluator = await startEvaluator(lane, {
    DATABASE_URL: throughRelay.toString(),
    EVALUATOR_RECONCILE_MS: '1000',
    ...env,
  });
  services.running.push(evaluator);
  return { relay, evaluator };
}

/** A lane serving v1 through a relayed evaluator under live load, with v2 stored to switch to. */
async function servingThroughRelay() {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  const v2 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  const { relay, evaluator } = await relayedEvaluator(lane);
  const load = startLoad([evaluator], (i) => ({
    input: { tags: ['vip'], context: { domain: 'hotel_ops', subject: `guest:${i}` }, facts: [] },
  }));
  return { lane, v1, v2, relay, evaluator, load };
}

test('Postgres unreachable: last good keeps serving, CONTROL refuses what needs stored facts, the lane catches up afterwards', async () => {
  const { lane, v1, v2, relay, evaluator, load } = await servingThroughRelay();
  await sleep(300);

  await relay.cut();
  await waitFor(
    async () => ((await readyz(evaluator)).body.postgres === 'down' ? true : null),
    10_000,
    'postgres reported down',
  );
  expect((await readyz(evaluator)).body).toMatchObject({ ready: true, degraded: true, serving: v1.version });
  const needsFacts = { tags: [], context: { request: 'lounge_entry', subject: `guest:${randomUUID()}` } };
  const control = await evaluate(evaluator, { input: needsFacts });
  expect(control).toMatchObject({ status: 503, body: { ok: false, snapshot: v1.version } });
  expect(String(control.body.reason)).toMatch(/^facts for guest:.* unavailable/);
  expect(await evaluate(evaluator, { input: needsFacts, mode: 'advisory' })).toMatchObject({
    status: 200,
    body: { ok: true },
  });

  await setLane(services.pool, lane, { snapshotId: v2.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', v2.version));
  await sleep(1500);
  expect((await readyz(evaluator)).body.serving).toBe(v1.version);

  await relay.open();
  await waitFor(
    async () => ((await readyz(evaluator)).body.serving === v2.version ? true : null),
    10_000,
    'the lane to catch up',
  );
  expect((await readyz(evaluator)).body).toMatchObject({ postgres: 'up', degraded: false });
  const report = await load.stop();
  expect(report.failures).toEqual([]);
  expect(report.failed).toBe(0);
  await relay.cut();
}, 60_000);

test('Postgres that accepts but never answers: syncs time out instead of hanging, and the lane catches up after', async () => {
  const { lane, v1, v2, relay, evaluator, load } = await servingThroughRelay();

  relay.freeze();
  await setLane(services.pool, lane, { snapshotId: v2.snapshotId });
  await waitFor(
    async () => ((await readyz(evaluator)).body.postgres === 'down' ? true : null),
    30_000,
    'postgres reported down',
  );
  expect((await readyz(evaluator)).body.serving).toBe(v1.version);

  relay.thaw();
  await waitFor(
    async () => ((await readyz(evaluator)).body.serving === v2.version ? true : null),
    30_000,
    'the lane to catch up',
  );
  const report = await load.stop();
  expect(report.failures).toEqual([]);
  expect(report.failed).toBe(0);
  await relay.cut();
}, 90_000);

interface DecisionLogCounts {
  buffered: number;
  capacity: number;
  written: number;
  dropped: { buffer_full: number; write_failed: number };
}

test('decision logs through a Postgres outage: entries are dropped and counted, memory stays bounded, requests answer, logging resumes', async () => {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  const { relay, evaluator } = await relayedEvaluator(lane, {
    DECISION_LOG_SAMPLE: '1',
    DECISION_LOG_FLUSH_MS: '100',
    DECISION_LOG_BUFFER: '50',
  });
  const counts = async () => (await readyz(evaluator)).body.decision_log as DecisionLogCounts;
  const accounted = (c: DecisionLogCounts) => c.written + c.buffered + c.dropped.buffer_full + c.dropped.write_failed;
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const body = { input: { tags: ['vip'], context: { subject: `guest:${randomUUID()}` }, facts: [] } };
      expect(await evaluate(evaluator, body)).toMatchObject({ status: 200, body: { ok: true } });
    }
  };
  const rowCount = async () => {
    const { rows } = await services.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM pkg_decision_logs WHERE env = $1 AND target = $2 AND region = $3',
      [lane.env, lane.target, lane.region],
    );
    return Number(rows[0]!.n);
  };

  await send(10);
  await waitFor(async () => ((await counts()).written === 10 ? true : null), 10_000, 'the first entries written');

  await relay.cut();
  await send(300);
  // Every sampled decision is written, buffered or counted as dropped; none is lost silently.
  const during = await waitFor(
    async () => {
      const c = await counts();
      return accounted(c) === 310 && c.dropped.write_failed > 0 ? c : null;
    },
    30_000,
    'every entry accounted for, with failed writes counted',
  );
  expect(during.buffered).toBeLessThanOrEqual(during.capacity);
  const metrics = await fetch(`${evaluator.url}/metrics`).then((response) => response.text());
  expect(metrics).toMatch(/^pkg_decision_log_dropped_total\{reason="write_failed"\} [1-9]\d*$/m);

  await relay.open();
  await send(10);
  const after = await waitFor(
    async () => {
      const c = await counts();
      return c.buffered === 0 && accounted(c) === 320 && c.written >= during.written + 10 ? c : null;
    },
    30_000,
    'logging to resume',
  );
  expect(await rowCount()).toBe(after.written);
  await relay.cut();
}, 90_000);
