import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readLaneMetrics } from '../../activities/store/lane-metrics';
import {
  canaryLane,
  evaluate,
  randomLane,
  setLane,
  startEvaluator,
  storeExample,
  sleep,
  useEvaluatorServices,
  type RunningEvaluator,
} from './evaluator-harness';

const services = useEvaluatorServices();

const KEYS = 20_000;

/** Sends every key once, spread over the evaluators; returns key → version that answered. */
async function routeAll(evaluators: RunningEvaluator[], keys: string[], offset: number): Promise<Map<string, string>> {
  const answers = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      const key = keys[i]!;
      const { status, body } = await evaluate(evaluators[(i + offset) % evaluators.length]!, {
        // Half the inputs are decided differently by v2 (VIP escalation level), half alike.
        input: {
          tags: ['vip'],
          signals: { complaint_score: i % 2 ? 0.1 : 0.9 },
          context: { domain: 'hotel_ops', subject: `guest:${i}` },
        },
        routing_key: key,
      });
      if (status !== 200 || body.ok !== true) throw new Error(`${key}: ${status} ${JSON.stringify(body)}`);
      answers.set(key, String(body.snapshot));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return answers;
}

test('a 10% canary routes 10% ± 1% of 20,000 distinct keys to the candidate, the same keys each time, and both versions are measured', async () => {
  const { lane, serving, candidate } = await canaryLane(services.pool, 10);
  const env = { EVALUATOR_SHADOW_RATE: '0.05' };
  const evaluators = await Promise.all([startEvaluator(lane, env), startEvaluator(lane, env)]);
  services.running.push(...evaluators);
  const keys = Array.from({ length: KEYS }, () => randomUUID());
  const fromMs = Date.now();

  const first = await routeAll(evaluators, keys, 0);
  const second = await routeAll(evaluators, keys, 1); // each key now asks the other evaluator

  const onCandidate = keys.filter((key) => first.get(key) === candidate.version);
  expect(onCandidate.length / KEYS).toBeGreaterThanOrEqual(0.09);
  expect(onCandidate.length / KEYS).toBeLessThanOrEqual(0.11);
  expect(keys.filter((key) => first.get(key) !== second.get(key))).toEqual([]);

  await sleep(1500); // one flush period
  const metrics = await readLaneMetrics(
    services.redis,
    lane,
    { candidate: candidate.version, baseline: serving.version },
    { fromMs, toMs: Date.now() },
  );
  expect(metrics.candidate.requests).toBe(2 * onCandidate.length);
  expect(metrics.baseline?.requests).toBe(2 * (KEYS - onCandidate.length));
  expect(metrics.candidate.errors).toBe(0);
  expect(metrics.candidate.latencyBuckets.reduce((a, b) => a + b, 0)).toBe(2 * onCandidate.length);
  const { compared, diverged } = metrics.candidate.shadow;
  expect(compared).toBeGreaterThan(1000); // 5% of 40,000
  expect(diverged / compared).toBeGreaterThan(0.4);
  expect(diverged / compared).toBeLessThan(0.6);
}, 240_000);

/** One evaluator on a fresh lane serving hotel-ops v1. */
async function exampleEvaluator() {
  const lane = randomLane();
  const snapshot = await storeExample(services.pool, 'hotel-ops-v1');
  await setLane(services.pool, lane, { snapshotId: snapshot.snapshotId });
  const evaluator = await startEvaluator(lane);
  services.running.push(evaluator);
  return { lane, snapshot, evaluator };
}

test('bad requests get a 4xx with a one-line reason and never take the evaluator down', async () => {
  const { snapshot, evaluator } = await exampleEvaluator();
  const post =
    (body: string, contentType = 'application/json') =>
    () =>
      rawPost(evaluator.port, body, contentType);
  const cases: [string, () => Promise<{ status: number; body: { ok: boolean; reason: string } }>, number, RegExp][] = [
    ['non-JSON', post('{"input": {"tags": [', 'application/json'), 400, /^body: not valid JSON/],
    ['not JSON at all', post('tags=vip', 'text/plain'), 415, /^body: expected Content-Type application\/json/],
    ['wrong type', post(JSON.stringify({ input: { tags: 'vip' } })), 400, /^input\.tags: /],
    [
      'unknown field in CONTROL',
      post(JSON.stringify({ input: { tags: ['vip'], fcts: [] } })),
      400,
      /^input: unknown field\(s\) fcts$/,
    ],
    [
      '1 MB body',
      post(JSON.stringify({ input: { tags: ['x'.repeat(1_000_000)] } })),
      413,
      /^body: larger than the \d+ byte limit$/,
    ],
    ['missing input', post(JSON.stringify({ routing_key: 'k' })), 400, /^input: /],
    ['a JSON array', post('[1,2]'), 400, /^body: /],
    ['an empty body', post(''), 400, /^body: /],
    ['a bad mode', post(JSON.stringify({ input: {}, mode: 'strict' })), 400, /^mode: /],
    ['a bad env', post(JSON.stringify({ input: {}, env: 'qa' })), 400, /^env: /],
  ];
  for (const [name, send, status, reason] of cases) {
    const { status: got, body } = await send();
    expect({ name, status: got, ok: body.ok }).toEqual({ name, status, ok: false });
    expect(body.reason).toMatch(reason);
    expect(body.reason).not.toContain('\n');
  }
  const still = await evaluate(evaluator, {
    input: { tags: ['vip'], context: { domain: 'hotel_ops', subject: 'guest:Ben' } },
  });
  expect(still).toMatchObject({ status: 200, body: { ok: true, snapshot: snapshot.version } });
  expect(evaluator.process.exitCode).toBeNull();
});

/**
 * node:http rather than fetch: the evaluator answers 413 before reading a too-large body and closes
 * the connection, which fetch reports as a reset while a client that reads the response gets 413.
 */
function rawPost(
  port: number,
  body: string,
  contentType: string,
): Promise<{ status: number; body: { ok: boolean; reason: string } }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path: '/v1/evaluate', method: 'POST', headers: { 'content-type': contentType } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as { ok: boolean; reason: string } }),
        );
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    request.end(body);
  });
}

test('ADVISORY ignores unknown fields; a lane with no snapshot answers ok:false, never an empty allow', async () => {
  const { snapshot, evaluator } = await exampleEvaluator();
  const advisory = await evaluate(evaluator, {
    input: { tags: ['vip'], context: { domain: 'hotel_ops' }, extra: 1 },
    mode: 'advisory',
  });
  expect(advisory).toMatchObject({ status: 200, body: { ok: true, meta: { mode: 'advisory' } } });

  const empty = randomLane();
  await setLane(services.pool, empty, { snapshotId: null });
  const none = await evaluate(evaluator, { input: { tags: ['vip'] }, ...empty });
  expect(none).toMatchObject({ status: 503, body: { ok: false, snapshot: null } });
  expect(String(none.body.reason)).toContain('has no serving snapshot');

  const other = randomLane();
  await setLane(services.pool, other, { snapshotId: snapshot.snapshotId });
  const named = await evaluate(evaluator, { input: { tags: ['vip'] }, ...other });
  expect(named).toMatchObject({ status: 200, body: { ok: true, snapshot: snapshot.version } });
});
