import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createPool, createRedis } from '../../activities/connections';
import { insertRolloutEvent } from '../../activities/store/audit';
import { inTransaction } from '../../activities/store/transaction';
import { loadConfig } from '../../policy/config';
import { sinksFrom } from '../../policy/notify/notification';
import { verifySignature } from '../../policy/notify/signature';
import { createNotifier, type Notifier } from '../../worker/notifier';
import { createNotifierMetrics } from '../../worker/notifier-metrics';
import { createOutboxRelay } from '../../worker/outbox-relay';
import { waitFor } from './evaluator-harness';
import { startReceiver, type Receiver } from './webhook-receiver';

/**
 * Notifications against real Postgres and a real local receiver that flaps. Audit rows are written
 * the way activities write them; the notifier delivers to a generic webhook and a Slack-compatible
 * sink on that receiver. Other suites' pending notifications may reach it too: assertions look
 * only at this test's rollout.
 */
jest.setTimeout(60_000);

const secret = 'notify-test-secret-0123456789';
let pool: Pool;
let redis: Redis;
let receiver: Receiver | null = null;
let notifier: Notifier | null = null;

beforeAll(() => {
  const config = loadConfig();
  pool = createPool(config, 4);
  redis = createRedis(config);
});

afterEach(async () => {
  await notifier?.stop();
  await receiver?.stop();
  notifier = receiver = null;
});

afterAll(async () => {
  redis?.disconnect();
  await pool?.end();
});

const lane = { env: 'dev', target: 'notify', region: 'test' } as const;

async function recordEvents(rolloutId: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${rolloutId}:event:${i}`);
  for (const [i, eventKey] of keys.entries()) {
    const event = {
      rolloutId,
      eventKey,
      lane,
      snapshotId: null,
      event: i % 2 ? 'verdict_pass' : 'step',
      step: i,
      percent: 10,
      actor: 'gate',
      reason: `event ${i}`,
    };
    await inTransaction(pool, (client) => insertRolloutEvent(client, event));
  }
  return keys;
}

const sum = async (registry: Registry, name: string) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((total, v) => total + v.value, 0);

test('a flapping receiver ends with every notification exactly once per dedupe key; failures are retried and counted', async () => {
  const rolloutId = `rollout-notify-${randomUUID()}`;
  // Every other call is processed but answered 503 (so its retry is a duplicate), and calls 6-11 are cut off.
  receiver = await startReceiver((n) => (n >= 6 && n < 12 ? 'drop' : n % 2 === 1 ? 503 : 200));
  const sinks = sinksFrom({ webhook: `${receiver.url}/hook`, slack: `${receiver.url}/slack` });
  const registry = new Registry();
  notifier = createNotifier({
    pool,
    sinks,
    metrics: createNotifierMetrics([registry]),
    secret,
    intervalMs: 50,
    batchSize: 7,
    retryBaseMs: 50,
    retryMaxMs: 200,
    timeoutMs: 2000,
  });
  // Registers the sinks: events from now on get a delivery for each.
  await notifier.deliverPending();
  const eventKeys = await recordEvents(rolloutId, 12);
  // A retried activity writes its audit row again: nothing more is told.
  await recordEvents(rolloutId, 3);
  notifier.start();
  const expected = eventKeys.flatMap((key) => sinks.map((sink) => `${key}@${sink.id}`)).sort();
  await waitFor(
    async () => {
      const { rows } = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM pkg_notification_deliveries
          WHERE dedupe_key LIKE $1 AND sink = ANY($2) AND delivered_at IS NOT NULL`,
        [`${rolloutId}:%`, sinks.map((s) => s.id)],
      );
      return Number(rows[0]!.n) === expected.length ? true : null;
    },
    45_000,
    'every delivery marked delivered',
  );
  const ours = receiver.calls.filter((call) => call.key.startsWith(`${rolloutId}:`));
  const processed = ours.filter((call) => call.status !== 'drop');
  // After de-duplication by key: every key, nothing else.
  expect([...new Set(processed.map((c) => c.key))].sort()).toEqual(expected);
  // At least once: some keys arrived more than once (a 503 after processing), and each was acknowledged once.
  expect(processed.length).toBeGreaterThan(expected.length);
  const acknowledged = ours.filter((call) => call.status === 200).map((c) => c.key);
  expect(acknowledged.sort()).toEqual(expected);
  expect(await sum(registry, 'pkg_notification_failures_total')).toBeGreaterThanOrEqual(ours.length - expected.length);
  expect(await sum(registry, 'pkg_notification_failures_total')).toBeGreaterThan(0);
  expect(await sum(registry, 'pkg_notifications_delivered_total')).toBeGreaterThanOrEqual(expected.length);
  // Signed: verifies with the secret, not with another.
  const now = Math.floor(Date.now() / 1000);
  expect(ours.every((call) => verifySignature(secret, call, now))).toBe(true);
  expect(ours.some((call) => verifySignature('another-secret-0123456789', call, now))).toBe(false);
  // The generic webhook carries the key in its body; Slack gets text and blocks.
  const hook = processed.find((call) => call.path === '/hook')!;
  expect(hook.json).toMatchObject({
    dedupe_key: hook.key,
    rollout_id: rolloutId,
    lane: 'dev/notify/test',
    actor: 'gate',
  });
  const slack = processed.find((call) => call.path === '/slack')!;
  expect(Object.keys(slack.json).sort()).toEqual(['blocks', 'text']);
  expect(slack.json.text).toMatch(/^\[dev\/notify\/test\] (step|verdict pass) \(step \d+, 10%\) by gate: event \d+$/);
});

test('a sink that is down never holds back hot-swap messages; its failures are kept and counted', async () => {
  const rolloutId = `rollout-notify-${randomUUID()}`;
  const channel = `pkg_updates_test_${randomUUID()}`;
  // A receiver that is gone: its port refuses connections.
  const gone = await startReceiver(() => 200);
  await gone.stop();
  const registry = new Registry();
  const sinks = sinksFrom({ webhook: `${gone.url}/hook` });
  notifier = createNotifier({
    pool,
    sinks,
    metrics: createNotifierMetrics([registry]),
    intervalMs: 50,
    retryBaseMs: 60_000,
  });
  await notifier.deliverPending();
  notifier.start();
  await recordEvents(rolloutId, 3);
  const failed = () =>
    pool.query<{ attempts: number; last_error: string | null; delivered_at: Date | null }>(
      'SELECT attempts, last_error, delivered_at FROM pkg_notification_deliveries WHERE dedupe_key LIKE $1 AND sink = $2',
      [`${rolloutId}:%`, sinks[0]!.id],
    );
  await waitFor(
    async () => ((await failed()).rows.filter((r) => r.attempts > 0).length === 3 ? true : null),
    10_000,
    'three failed attempts',
  );
  const { rows } = await pool.query<{ seq: string }>(
    'INSERT INTO pkg_outbox (channel, dedupe_key, payload) VALUES ($1, $2, $3) RETURNING seq',
    [channel, `${channel}:1`, JSON.stringify({ n: 1 })],
  );
  const relay = createOutboxRelay({ pool, redis });
  // Another suite's relay may hold the lock and publish it instead: either way it goes out now.
  await waitFor(
    async () => {
      await relay.publishPending();
      const published = await pool.query('SELECT 1 FROM pkg_outbox WHERE seq = $1 AND published_at IS NOT NULL', [
        rows[0]!.seq,
      ]);
      return published.rowCount === 1 ? true : null;
    },
    5_000,
    'the hot-swap row published',
  );
  const deliveries = (await failed()).rows;
  expect(deliveries.every((d) => d.delivered_at === null && /fetch failed|ECONNREFUSED/.test(d.last_error ?? ''))).toBe(
    true,
  );
  expect(await sum(registry, 'pkg_notification_failures_total')).toBe(3);
});

test('a sink is told of events from its registration on, and two notifiers each deliver only to their own sinks', async () => {
  const rolloutId = `rollout-notify-${randomUUID()}`;
  const [early, late] = await Promise.all([startReceiver(() => 200), startReceiver(() => 200)]);
  const notifierOf = (receiverUrl: string) =>
    createNotifier({
      pool,
      sinks: sinksFrom({ webhook: `${receiverUrl}/hook` }),
      metrics: createNotifierMetrics([new Registry()]),
    });
  const [first, second] = [notifierOf(early.url), notifierOf(late.url)];
  await first.deliverPending();
  const [before] = await recordEvents(`${rolloutId}:a`, 1);
  await second.deliverPending();
  const [after] = await recordEvents(`${rolloutId}:b`, 1);
  const keysOf = (r: Receiver) => r.calls.map((c) => String(c.json.event_key)).filter((k) => k.startsWith(rolloutId));
  await waitFor(
    async () => {
      await first.deliverPending();
      await second.deliverPending();
      return keysOf(early).length === 2 && keysOf(late).length === 1 ? true : null;
    },
    10_000,
    'both receivers told',
  );
  expect(keysOf(early).sort()).toEqual([before, after]);
  expect(keysOf(late)).toEqual([after]);
  await Promise.all([early.stop(), late.stop()]);
});
