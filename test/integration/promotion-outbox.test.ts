import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { createPool, createRedis } from '../../activities/connections';
import { createOutboxRelay } from '../../worker/outbox-relay';
import { loadConfig } from '../../policy/config';

/**
 * The outbox relay against real Postgres and Redis. Rows go to a channel of this test's own, so
 * other relays running in parallel (which share the advisory lock) cannot confuse the assertions.
 */
let pool: Pool;
let publisher: Redis;
let subscriber: Redis;
const channel = `pkg_updates_test_${randomUUID()}`;
const received: { seq: number; n: number }[] = [];

beforeAll(async () => {
  const config = loadConfig();
  pool = createPool(config, 6);
  publisher = createRedis(config);
  subscriber = createRedis(config);
  await Promise.all([publisher, subscriber].map(ready));
  await subscriber.subscribe(channel);
  subscriber.on('message', (_channel, message: string) =>
    received.push(JSON.parse(message) as { seq: number; n: number }),
  );
});

afterAll(async () => {
  subscriber?.disconnect();
  publisher?.disconnect();
  await pool?.end();
});

// The connections queue nothing while offline, so wait until they are up.
function ready(redis: Redis): Promise<void> {
  return redis.status === 'ready' ? Promise.resolve() : new Promise((resolve) => redis.once('ready', () => resolve()));
}

async function insertRows(count: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let n = 0; n < count; n++) {
    const { rows } = await pool.query<{ seq: string }>(
      'INSERT INTO pkg_outbox (channel, dedupe_key, payload) VALUES ($1, $2, $3) RETURNING seq',
      [channel, `${channel}:${randomUUID()}`, JSON.stringify({ n })],
    );
    seqs.push(Number(rows[0]!.seq));
  }
  return seqs;
}

async function awaitPublished(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM pkg_outbox WHERE channel = $1 AND published_at IS NULL',
      [channel],
    );
    if (rows[0]!.n === '0') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Marked rows were published before their mark committed; give the subscriber a moment.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

// Relays of other tests may hold the lock and publish our rows instead: the outcome is the same.
test('two relays at once publish every row exactly once, in seq order, with its seq, and mark it published', async () => {
  const seqs = await insertRows(250);
  const relays = [1, 2].map(() => createOutboxRelay({ pool, redis: publisher, batchSize: 40 }));
  await Promise.all([relays[0]!.publishPending(), relays[1]!.publishPending(), relays[0]!.publishPending()]);
  await awaitPublished();
  expect(received.map((m) => m.seq)).toEqual(seqs);
  expect(received.map((m) => m.n)).toEqual(seqs.map((_, n) => n));
});

test('a row the relay did not get to mark (crash before commit) is published again with the same seq', async () => {
  received.length = 0;
  const [seq] = await insertRows(1);
  const relay = createOutboxRelay({ pool, redis: publisher });
  await relay.publishPending();
  await awaitPublished();
  await pool.query('UPDATE pkg_outbox SET published_at = NULL WHERE seq = $1', [seq]);
  await relay.publishPending();
  await awaitPublished();
  expect(received.map((m) => m.seq)).toEqual([seq, seq]);
});
