import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readLaneMetrics } from '../../activities/store/lane-metrics';
import { UPDATES_CHANNEL } from '../../policy/constants';
import { laneName, type Lane } from '../../policy/lane';
import {
  canaryLane,
  laneMessage,
  randomLane,
  setLane,
  sleep,
  startEvaluator,
  storeExample,
  useEvaluatorServices,
  waitFor,
  type RunningEvaluator,
} from './evaluator-harness';

/**
 * One evaluator run as two processes behind one port (EVALUATOR_WORKERS=2). Every request here
 * opens a connection of its own, so the primary hands consecutive requests to different processes;
 * each answer says which process gave it (`x-evaluator-instance`).
 */
const services = useEvaluatorServices();
const TWO = { EVALUATOR_WORKERS: '2', EVALUATOR_RECONCILE_MS: '600000' };

interface Answer {
  status: number;
  instance: string;
  body: { ok: boolean; snapshot: string | null };
}

function post(evaluator: RunningEvaluator, body: unknown, path = '/v1/evaluate'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: evaluator.port, path, method: 'POST', agent: false },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            instance: String(response.headers['x-evaluator-instance']),
            body: JSON.parse(text) as Answer['body'],
          }),
        );
      },
    );
    request.on('error', reject);
    request.setHeader('content-type', 'application/json');
    request.end(JSON.stringify(body));
  });
}

const guest = (key: string) => ({
  input: { tags: ['vip'], signals: { complaint_score: 0.9 }, context: { domain: 'hotel_ops', subject: key } },
});

async function answers(evaluator: RunningEvaluator, count: number, key = (i: number) => `guest:${i}`) {
  const all: Answer[] = [];
  for (let i = 0; i < count; i++) all.push(await post(evaluator, guest(key(i))));
  return all;
}

async function twoProcessEvaluator(lane: Lane) {
  const evaluator = await startEvaluator(lane, TWO);
  services.running.push(evaluator);
  // Both processes listen before the test counts on either.
  await waitFor(
    async () => (new Set((await answers(evaluator, 8)).map((a) => a.instance)).size === 2 ? true : null),
    30_000,
    'both processes to answer',
  );
  return evaluator;
}

/** The lane's request count in one scrape, whichever process answers it. */
async function scrapedRequests(evaluator: RunningEvaluator, lane: Lane): Promise<number> {
  const scrape = await fetch(`${evaluator.url}/metrics`).then((r) => r.text());
  return [...scrape.matchAll(/^pkg_evaluator_requests_total\{lane="([^"]+)"[^}]*\} (\d+)$/gm)]
    .filter(([, name]) => name === laneName(lane))
    .reduce((sum, [, , value]) => sum + Number(value), 0);
}

const fleetRows = async (lane: Lane) =>
  (
    await services.pool.query<{ instance_id: string; snapshot_id: string | null }>(
      `SELECT device_id AS instance_id, snapshot_uuid AS snapshot_id FROM pkg_device_versions
        WHERE env = $1 AND target = $2 AND region = $3 ORDER BY device_id`,
      [lane.env, lane.target, lane.region],
    )
  ).rows;

test('both processes follow a hot swap, each heartbeats as its own fleet instance, and both leave the fleet on SIGTERM', async () => {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  const v2 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  const evaluator = await twoProcessEvaluator(lane);
  await waitFor(async () => ((await fleetRows(lane)).length === 2 ? true : null), 10_000, 'two fleet rows');
  const rows = await fleetRows(lane);
  expect(rows.map((r) => r.instance_id.replace(/.*#/, '#'))).toEqual(['#0', '#1']);
  expect(rows.every((r) => r.snapshot_id === v1.snapshotId)).toBe(true);

  await setLane(services.pool, lane, { snapshotId: v2.snapshotId });
  await services.redis.publish(UPDATES_CHANNEL, laneMessage(lane, 'activate', v2.version));
  await waitFor(
    async () => ((await answers(evaluator, 10)).every((a) => a.body.snapshot === v2.version) ? true : null),
    15_000,
    `every process to serve ${v2.version}`,
  );
  const after = await answers(evaluator, 40);
  expect(new Set(after.map((a) => a.instance)).size).toBe(2);
  expect(after.filter((a) => a.status !== 200 || a.body.snapshot !== v2.version)).toEqual([]);
  await waitFor(
    async () => ((await fleetRows(lane)).every((r) => r.snapshot_id === v2.snapshotId) ? true : null),
    10_000,
    'both fleet rows to report v2',
  );

  await evaluator.stop();
  expect(evaluator.process.exitCode).toBe(0);
  expect(await fleetRows(lane)).toEqual([]);
}, 120_000);

test('a canary key gets the same arm from either process; Redis counts and the scrape sum both processes', async () => {
  const { lane, serving, candidate } = await canaryLane(services.pool, 50);
  const evaluator = await twoProcessEvaluator(lane);
  const scrapedBefore = await scrapedRequests(evaluator, lane);
  // Redis counts whole seconds: start the window after the warm-up's second.
  await sleep(1100);
  const fromMs = Date.now();
  const keys = Array.from({ length: 60 }, () => randomUUID());
  const seen = new Map<string, Set<string>>();
  const instances = new Set<string>();
  for (let round = 0; round < 4; round++) {
    for (const answer of await answers(evaluator, keys.length, (i) => keys[i]!)) instances.add(answer.instance);
  }
  for (let round = 0; round < 4; round++) {
    for (const [i, answer] of (await answers(evaluator, keys.length, (i) => keys[i]!)).entries()) {
      const versions = seen.get(keys[i]!) ?? new Set<string>();
      seen.set(keys[i]!, versions.add(String(answer.body.snapshot)));
    }
  }
  expect(instances.size).toBe(2);
  expect([...seen.values()].filter((versions) => versions.size !== 1)).toEqual([]);
  const arms = new Set([...seen.values()].map((versions) => [...versions][0]));
  expect(arms).toEqual(new Set([serving.version, candidate.version]));

  const sent = 8 * keys.length;
  await sleep(2500); // both processes' flush periods
  const metrics = await readLaneMetrics(
    services.redis,
    lane,
    { candidate: candidate.version, baseline: serving.version },
    { fromMs, toMs: Date.now() },
  );
  expect(metrics.candidate.requests + metrics.baseline!.requests).toBe(sent);

  expect((await scrapedRequests(evaluator, lane)) - scrapedBefore).toBe(sent);
  const scrape = await fetch(`${evaluator.url}/metrics`).then((r) => r.text());
  expect(scrape).toMatch(/^pkg_evaluator_dependency_up\{dependency="redis"\} 1$/m);
}, 120_000);

test('a killed process is replaced while its sibling keeps answering', async () => {
  const lane = randomLane();
  const v1 = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: v1.snapshotId });
  const evaluator = await twoProcessEvaluator(lane);
  const children = () =>
    execFileSync('pgrep', ['-P', String(evaluator.process.pid)])
      .toString()
      .trim()
      .split('\n')
      .map(Number);
  const [victim] = children();
  process.kill(victim!, 'SIGKILL');
  await sleep(300); // the primary notices the death and stops handing it connections
  const during = await answers(evaluator, 20);
  expect(during.filter((a) => a.status !== 200 || a.body.snapshot !== v1.version)).toEqual([]);
  await waitFor(
    async () => (children().length === 2 && !children().includes(victim!) ? true : null),
    15_000,
    'a new process in place of the killed one',
  );
  await waitFor(
    async () => (new Set((await answers(evaluator, 8)).map((a) => a.instance)).size === 2 ? true : null),
    30_000,
    'both processes to answer again',
  );
  expect(evaluator.logs()).toMatch(/worker \d exited \(SIGKILL\); starting another/);
}, 120_000);
