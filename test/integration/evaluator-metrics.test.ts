import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../policy/config';
import { createRedis } from '../../activities/connections';
import { createLaneMetricsRecorder, readLaneMetrics } from '../../activities/store/lane-metrics';
import { latencyBucketIndex } from '../../policy/rollout/latency-histogram';
import type { Lane } from '../../policy/lane';

let redis: Redis;
beforeAll(async () => {
  redis = createRedis(loadConfig());
  await new Promise((resolve) => redis.once('ready', resolve));
});
afterAll(async () => {
  await redis.quit();
});

const lane = (): Lane => ({ env: 'dev', target: `t-${randomUUID()}`, region: 'eu:west/1' });

test('two recorders (two evaluators) add up per version and lane within the window', async () => {
  const where = lane();
  let clock = 1_700_000_000_500;
  const a = createLaneMetricsRecorder(redis, { ttlSeconds: 120, now: () => clock });
  const b = createLaneMetricsRecorder(redis, { ttlSeconds: 120, now: () => clock });
  a.recordRequest(where, 'rules@2.0.0', { error: false, micros: 40 });
  b.recordRequest(where, 'rules@2.0.0', { error: true, micros: 900 });
  b.recordShadow(where, 'rules@2.0.0', true);
  a.recordShadow(where, 'rules@2.0.0', false);
  a.recordRequest(where, 'rules@1.0.0', { error: false, micros: 30 });
  clock += 1000;
  a.recordRequest(where, 'rules@2.0.0', { error: false, micros: 40 });
  clock += 5000;
  a.recordRequest(where, 'rules@2.0.0', { error: false, micros: 40 }); // outside the window
  a.recordRequest({ ...where, region: 'other' }, 'rules@2.0.0', { error: false, micros: 40 }); // other lane
  await Promise.all([a.flush(), b.flush()]);

  const window = { fromMs: 1_700_000_000_000, toMs: 1_700_000_002_000 };
  const { candidate, baseline } = await readLaneMetrics(
    redis,
    where,
    { candidate: 'rules@2.0.0', baseline: 'rules@1.0.0' },
    window,
  );
  expect(candidate.requests).toBe(3);
  expect(candidate.errors).toBe(1);
  expect(candidate.shadow).toEqual({ compared: 2, diverged: 1 });
  expect(candidate.latencyBuckets[latencyBucketIndex(40)]).toBe(2);
  expect(candidate.latencyBuckets[latencyBucketIndex(900)]).toBe(1);
  expect(candidate.latencyBuckets.reduce((x, y) => x + y, 0)).toBe(3);
  expect(baseline).toMatchObject({ requests: 1, errors: 0, shadow: { compared: 0, diverged: 0 } });
});

test('without a baseline the reader returns null for it; keys carry a TTL', async () => {
  const where = lane();
  const recorder = createLaneMetricsRecorder(redis, { ttlSeconds: 90 });
  const now = Date.now();
  recorder.recordRequest(where, 'rules@3.0.0', { error: false, micros: 10 });
  await recorder.flush();
  const result = await readLaneMetrics(
    redis,
    where,
    { candidate: 'rules@3.0.0', baseline: null },
    { fromMs: now - 1000, toMs: now + 1000 },
  );
  expect(result.baseline).toBeNull();
  expect(result.candidate.requests).toBe(1);
  const keys = await redis.keys(`pkg:metrics:v1:dev:${encodeURIComponent(where.target)}:*`);
  expect(keys).toHaveLength(1);
  const ttl = await redis.ttl(keys[0]!);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(90);
});

test('counts recorded while Redis refuses them are kept and sent on the next flush', async () => {
  const where = lane();
  const offline = createRedis({ ...loadConfig(), REDIS_URL: 'redis://127.0.0.1:1' });
  offline.on('error', () => undefined);
  const recorder = createLaneMetricsRecorder(offline, { ttlSeconds: 60 });
  recorder.recordRequest(where, 'rules@4.0.0', { error: false, micros: 10 });
  await expect(recorder.flush()).rejects.toThrow(/kept for the next try/);
  expect(recorder.pendingKeys()).toBe(1);
  offline.disconnect();
});
