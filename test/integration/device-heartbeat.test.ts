import { randomUUID } from 'node:crypto';
import { randomLane, startEvaluator, storeExample, useEvaluatorServices, waitFor } from './evaluator-harness';

/**
 * Edge devices heartbeat to an evaluator (`POST /v1/devices/heartbeat`) in the seed's words, and
 * pkg_deployment_coverage counts them per target (router, edge:door, edge:robot) against the
 * snapshot each seed-style deployment row deploys.
 */
const services = useEvaluatorServices();

async function heartbeat(url: string, body: unknown) {
  const response = await fetch(`${url}/v1/devices/heartbeat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('devices report the seed way; coverage per target counts those on the deployed snapshot', async () => {
  const { pool } = services;
  const [v1, v2] = [await storeExample(pool, 'hotel-ops-v1'), await storeExample(pool, 'hotel-ops-v2')];
  const number = async (id: string) =>
    (await pool.query<{ n: number }>('SELECT snapshot_id AS n FROM pkg_snapshots WHERE id = $1', [id])).rows[0]!.n;
  const [n1, n2] = [await number(v1.snapshotId), await number(v2.snapshotId)];
  const lane = randomLane(v1.env);
  const region = `r-${randomUUID().slice(0, 8)}`;
  for (const target of ['router', 'edge:door', 'edge:robot']) {
    await pool.query(
      `INSERT INTO pkg_deployments (snapshot_id, target, region, percent, is_active) VALUES ($1, $2, $3, 100, TRUE)`,
      [n1, target, region],
    );
  }
  const evaluator = await startEvaluator(lane);
  services.running.push(evaluator);
  const door = `door:D-1510-${region}`;

  expect(await heartbeat(evaluator.url, { device_id: door, device_type: 'door', region, version: v1.version })).toEqual(
    {
      status: 200,
      body: {
        ok: true,
        device_id: door,
        device_type: 'door',
        env: v1.env,
        target: 'edge:door',
        region,
        snapshot_id: n1,
        version: v1.version,
      },
    },
  );
  const beats = [
    { device_id: `door:D-1511-${region}`, device_type: 'door', region, snapshot_id: n2 },
    { device_id: `robot:R-7-${region}`, device_type: 'robot', region, version: v1.version, heartbeat_ms: 5000 },
    { device_id: `router:RT-1-${region}`, device_type: 'router', region, snapshot_id: n1 },
    { device_id: `robot:R-8-${region}`, device_type: 'robot', region, version: 'unknown@9.9.9' },
  ];
  for (const beat of beats) expect((await heartbeat(evaluator.url, beat)).status).toBe(200);
  const stored = await pool.query(
    `SELECT device_id, target, snapshot_id, version FROM pkg_device_versions WHERE region = $1 ORDER BY device_id`,
    [region],
  );
  expect(stored.rows).toEqual([
    { device_id: door, target: 'edge:door', snapshot_id: n1, version: v1.version },
    { device_id: `door:D-1511-${region}`, target: 'edge:door', snapshot_id: n2, version: v2.version },
    { device_id: `robot:R-7-${region}`, target: 'edge:robot', snapshot_id: n1, version: v1.version },
    { device_id: `robot:R-8-${region}`, target: 'edge:robot', snapshot_id: null, version: 'unknown@9.9.9' },
    { device_id: `router:RT-1-${region}`, target: 'router', snapshot_id: n1, version: v1.version },
  ]);

  const coverage = await pool.query(
    `SELECT target, version, devices_total, devices_on_snapshot, coverage_percent::text, evaluators
       FROM pkg_deployment_coverage WHERE region = $1 ORDER BY target`,
    [region],
  );
  expect(coverage.rows).toEqual([
    {
      target: 'edge:door',
      version: v1.version,
      devices_total: '2',
      devices_on_snapshot: '1',
      coverage_percent: '50.00',
      evaluators: '0',
    },
    {
      target: 'edge:robot',
      version: v1.version,
      devices_total: '2',
      devices_on_snapshot: '1',
      coverage_percent: '50.00',
      evaluators: '0',
    },
    {
      target: 'router',
      version: v1.version,
      devices_total: '1',
      devices_on_snapshot: '1',
      coverage_percent: '100.00',
      evaluators: '0',
    },
  ]);

  // The door moves to v2: a later heartbeat replaces its row.
  await heartbeat(evaluator.url, { device_id: door, device_type: 'door', region, version: v2.version });
  const doors = await pool.query(
    `SELECT devices_total, devices_on_snapshot FROM pkg_deployment_coverage WHERE region = $1 AND target = 'edge:door'`,
    [region],
  );
  expect(doors.rows).toEqual([{ devices_total: '2', devices_on_snapshot: '0' }]);
});

test('a heartbeat that is malformed, names an unknown snapshot, or claims an evaluator is refused with the reason', async () => {
  const lane = randomLane();
  const evaluator = await startEvaluator(lane);
  services.running.push(evaluator);
  const refusals = [
    [{ device_type: 'door' }, 400, 'heartbeat device_id:'],
    [{ device_id: 'door:X', device_type: 'door', colour: 'red' }, 400, 'heartbeat unknown key(s) colour'],
    [{ device_id: 'door:X', device_type: 'evaluator' }, 400, 'device_type evaluator is reserved for evaluators'],
    [{ device_id: 'door:X', device_type: 'Door!' }, 400, 'device_type must be lower case'],
    [
      { device_id: 'door:X', device_type: 'door', snapshot_id: 2_000_000_000 },
      404,
      'snapshot_id 2000000000 does not exist',
    ],
  ] as const;
  for (const [body, status, reason] of refusals) {
    const reply = await heartbeat(evaluator.url, body);
    expect(reply.status).toBe(status);
    expect(reply.body).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
  }
  const instance = await waitFor(
    async () =>
      (
        await services.pool.query<{ device_id: string }>(
          'SELECT device_id FROM pkg_device_versions WHERE target = $1 AND region = $2',
          [lane.target, lane.region],
        )
      ).rows[0]?.device_id ?? null,
    10_000,
    'the evaluator to register itself',
  );
  const claimed = await heartbeat(evaluator.url, { device_id: instance, device_type: 'door' });
  expect(claimed).toMatchObject({
    status: 400,
    body: { ok: false, reason: expect.stringContaining('is an evaluator instance') },
  });
  const { rows } = await services.pool.query('SELECT device_type FROM pkg_device_versions WHERE device_id = $1', [
    instance,
  ]);
  expect(rows).toEqual([{ device_type: 'evaluator' }]);
});
