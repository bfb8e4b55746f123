import { randomUUID } from 'node:crypto';
import { UPDATES_CHANNEL } from '../../policy/constants';
import {
  evaluate,
  laneMessage,
  randomLane,
  readyz,
  setLane,
  startEvaluator,
  startLoad,
  storeExample,
  tamperWasm,
  waitFor,
  sleep,
  useEvaluatorServices,
  type RunningEvaluator,
} from './evaluator-harness';
import { laneName } from '../../policy/lane';

/** Two real evaluator processes per test, on a lane of their own, against the real Postgres and Redis. */
const services = useEvaluatorServices();

// A long reconcile period: a swap seen within seconds can only have come from the Redis hint.
const HINT_ONLY = { EVALUATOR_RECONCILE_MS: '600000' };

async function twoEvaluators(lane: ReturnType<typeof randomLane>, env: Record<string, string> = HINT_ONLY) {
  const pair = await Promise.all([startEvaluator(lane, env), startEvaluator(lane, env)]);
  services.running.push(...pair);
  return pair;
}

/** Two versions stored, a fresh lane serving the first, and two evaluators on it. */
async function twoEvaluatorsOnV1() {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  const v2 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  return { lane, v1, v2, evaluators: await twoEvaluators(lane) };
}

const serving = async (evaluator: RunningEvaluator) => (await readyz(evaluator)).body.serving as string | null;

const guestInput = (i: number) => ({
  input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops', subject: `guest:${i}` } },
});

test('an activation published on Redis makes both evaluators serve the new version, with no failed request under load', async () => {
  const { lane, v1, v2, evaluators } = await twoEvaluatorsOnV1();
  for (const evaluator of evaluators) expect(await serving(evaluator)).toBe(v1.version);

  const load = startLoad(evaluators, guestInput);
  await sleep(500);
  await setLane(services.pool, lane, { snapshotId: v2.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', v2.version));
  for (const evaluator of evaluators) {
    await waitFor(
      async () => ((await serving(evaluator)) === v2.version ? true : null),
      15_000,
      `${evaluator.port} to serve ${v2.version}`,
    );
  }
  await sleep(500);
  const report = await load.stop();

  expect(report.failures).toEqual([]);
  expect(report.failed).toBe(0);
  expect(report.versions.get(v1.version)).toBeGreaterThan(0);
  expect(report.versions.get(v2.version)).toBeGreaterThan(0);
});

test('the seed plain activate:<version> message is followed too', async () => {
  const { lane, v2, evaluators } = await twoEvaluatorsOnV1();
  await setLane(services.pool, lane, { snapshotId: v2.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, `activate:${v2.version}`);
  for (const evaluator of evaluators) {
    await waitFor(
      async () => ((await serving(evaluator)) === v2.version ? true : null),
      15_000,
      `${evaluator.port} to serve ${v2.version}`,
    );
  }
});

test('a tampered artifact is refused and the previous version keeps serving', async () => {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  const tampered = await storeExample(services.pool, 'hotel-ops-v1');
  const restore = await tamperWasm(services.pool, tampered.snapshotId, 99);
  try {
    await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
    const evaluators = await twoEvaluators(lane);
    await setLane(services.pool, lane, { snapshotId: tampered.snapshotId });
    await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', tampered.version));

    for (const evaluator of evaluators) {
      const details = await waitFor(
        async () => {
          const { body } = await readyz(evaluator);
          return Object.keys(body.lane_errors as object).length > 0 ? body : null;
        },
        15_000,
        `${evaluator.port} to report the refused snapshot`,
      );
      expect(JSON.stringify(details.lane_errors)).toContain(`snapshot ${tampered.version}: wasm artifact sha256`);
      expect(details).toMatchObject({ ready: true, degraded: true, serving: v1.version });
      const reply = await fetch(`${evaluator.url}/v1/evaluate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(guestInput(1)),
      }).then((r) => r.json());
      expect(reply).toMatchObject({ ok: true, snapshot: v1.version });
    }
  } finally {
    await restore();
  }
});

test('the fleet registry shows both evaluators serving the lane, and a killed one ages out', async () => {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId, salt: randomUUID() });
  const [first, second] = await twoEvaluators(lane);
  const coverage = async () => {
    const { rows } = await services.pool.query<{ evaluators: string; serving_intended: string }>(
      'SELECT evaluators, serving_intended FROM pkg_deployment_coverage WHERE env = $1 AND target = $2 AND region = $3',
      [lane.env, lane.target, lane.region],
    );
    return rows[0] ? { evaluators: Number(rows[0].evaluators), intended: Number(rows[0].serving_intended) } : null;
  };
  await waitFor(async () => ((await coverage())?.intended === 2 ? true : null), 15_000, 'two evaluators in coverage');
  const { rows } = await services.pool.query<{ loaded_versions: string[] }>(
    'SELECT loaded_versions FROM pkg_device_versions WHERE env = $1 AND target = $2 AND region = $3',
    [lane.env, lane.target, lane.region],
  );
  expect(rows.map((row) => row.loaded_versions)).toEqual([[v1.version], [v1.version]]);

  second.process.kill('SIGKILL');
  await waitFor(
    async () => ((await coverage())?.evaluators === 1 ? true : null),
    25_000,
    'the killed evaluator to age out',
  );
  await first.stop();
  await waitFor(
    async () => ((await coverage())?.evaluators === 0 ? true : null),
    15_000,
    'a stopped evaluator to leave',
  );
}, 120_000);

test('/readyz is 503 until the lane has a snapshot loaded; /metrics counts per version', async () => {
  const lane = randomLane();
  await setLane(services.pool, lane, { snapshotId: null });
  const [evaluator] = await twoEvaluators(lane);
  const before = await readyz(evaluator);
  expect(before).toMatchObject({ status: 503, body: { ready: false, serving: null } });

  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', v1.version));
  await waitFor(async () => ((await readyz(evaluator)).status === 200 ? true : null), 15_000, 'ready');
  await fetch(`${evaluator.url}/v1/evaluate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(guestInput(7)),
  });
  const metrics = await fetch(`${evaluator.url}/metrics`).then((r) => r.text());
  const label = `lane="${laneName(lane)}",version="${v1.version}",outcome="ok"`;
  expect(metrics).toContain(`pkg_evaluator_requests_total{${label}} 1`);
  expect(metrics).toContain(
    `pkg_evaluator_serving_info{lane="${laneName(lane)}",role="serving",version="${v1.version}"} 1`,
  );
});

test('a wasm-engine snapshot serves through the opa-wasm runtime, deciding like the native one', async () => {
  const lane = randomLane();
  const wasm = await storeExample(services.pool, 'hotel-ops-v1', randomUUID().slice(0, 8), 'wasm');
  const native = await storeExample(services.pool, 'hotel-ops-v1', randomUUID().slice(0, 8), 'native');
  await setLane(services.pool, lane, { snapshotId: wasm.snapshotId });
  const [evaluator] = await twoEvaluators(lane);
  const first = await evaluate(evaluator, guestInput(3));
  expect(first).toMatchObject({ status: 200, body: { ok: true, snapshot: wasm.version, meta: { engine: 'wasm' } } });

  await setLane(services.pool, lane, { snapshotId: native.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', native.version));
  await waitFor(async () => ((await serving(evaluator)) === native.version ? true : null), 15_000, 'native to serve');
  const second = await evaluate(evaluator, guestInput(3));
  expect(second).toMatchObject({ status: 200, body: { ok: true, meta: { engine: 'native' } } });
  const names = (reply: { body: Record<string, unknown> }) =>
    (reply.body.subtasks as { name: string }[]).map((s) => s.name);
  expect(names(second)).toEqual(names(first));
});
