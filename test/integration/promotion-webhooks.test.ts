import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Registry } from 'prom-client';
import { startPromotion } from '../../client/rollout-client';
import { sinksFrom } from '../../policy/notify/notification';
import { verifySignature } from '../../policy/notify/signature';
import type { RolloutStatus } from '../../policy/rollout/status';
import { statusQuery, type PromotionResult } from '../../workflows/definitions';
import { createNotifier, type Notifier } from '../../worker/notifier';
import { createNotifierMetrics } from '../../worker/notifier-metrics';
import { saveHistory } from '../replay/record';
import { randomLane, waitFor } from './evaluator-harness';
import {
  uniqueName,
  uploadSpec,
  type PipelineUnderTest,
  startRolloutStack,
  type RolloutStack,
} from './promotion-harness';
import { startReceiver, type Receiver } from './webhook-receiver';

/**
 * A real promotion with a confirm-promotion webhook and a post-rollout webhook on a local receiver,
 * and a notifier telling the same receiver of every event: the confirmation answers 503 twice (the
 * rollout holds, and its status says so), then 200 (released, promoted).
 */
jest.setTimeout(300_000);

const secret = 'webhook-test-secret-0123456789';
let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let stack: RolloutStack;
let receiver: Receiver;
let notifier: Notifier;
const lane = randomLane('dev');
const registry = new Registry();

beforeAll(async () => {
  stack = await startRolloutStack(lane, { evaluators: 1, webhookSecret: secret });
  ({ env, pool, pipeline } = stack);
  let confirmations = 0;
  receiver = await startReceiver((_, call) => (call.path === '/confirm' && ++confirmations <= 2 ? 503 : 200));
  notifier = createNotifier({
    pool,
    sinks: sinksFrom({ webhook: `${receiver.url}/notify` }),
    metrics: createNotifierMetrics([registry]),
    secret,
    intervalMs: 100,
  });
  await notifier.deliverPending();
  notifier.start();
}, 60_000);

afterAll(async () => {
  await notifier?.stop();
  await receiver?.stop();
  await stack?.stop();
});

const webhooks = (url: string) => `rollout:
  webhooks:
    - { name: qa-signoff, type: confirm-promotion, url: "${url}/confirm", retries: 0, interval: 2s }
    - { name: announce, type: post-rollout, url: "${url}/post" }`;

test('a confirm-promotion webhook answering 503 holds the promotion, then 200 releases it; every event is told', async () => {
  const version = `${uniqueName()}@1.0.0`;
  const overrides = { steps: [50, 100], bake: '2s' };
  const digest = await uploadSpec(pool, { version, env: 'dev', rollout: webhooks(receiver.url) }, overrides);
  const handle = await startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides, actor: 'ci' },
    version,
  );
  const held = await waitFor(
    async () => {
      const status: RolloutStatus = await handle.query(statusQuery);
      return status.holds.some((h) => h.kind === 'confirmation') ? status : null;
    },
    120_000,
    'the confirmation hold',
  );
  expect(held.message).toBe('waiting for confirm-promotion webhook qa-signoff (answered 503: not yet)');
  expect(held.percent).toBe(100);
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  expect((await handle.query(statusQuery)).holds).toEqual([]);

  const rolloutId = receiver.calls.find((c) => c.path === '/confirm')!.json.rollout_id as string;
  const confirms = receiver.calls.filter((c) => c.path === '/confirm');
  expect(confirms.map((c) => c.status)).toEqual([503, 503, 200]);
  expect(confirms.map((c) => c.key)).toEqual([0, 1, 2].map((n) => `${rolloutId}:webhook:qa-signoff:${n}`));
  expect(confirms[0]!.json).toMatchObject({
    type: 'confirm-promotion',
    webhook: 'qa-signoff',
    lane: `dev/${lane.target}/${lane.region}`,
    env: 'dev',
    candidate: { version },
    baseline: null,
    step: 2,
    step_count: 2,
    percent: 100,
    idempotency_key: confirms[0]!.key,
  });
  expect((confirms[0]!.json.verdicts as { verdict: string }[]).at(-1)!.verdict).toBe('pass');
  const post = receiver.calls.filter((c) => c.path === '/post');
  expect(post.map((c) => c.json)).toEqual([expect.objectContaining({ type: 'post-rollout', outcome: 'promoted' })]);
  // Signed with the worker's secret: verifies with it, not with another.
  const now = Math.floor(Date.now() / 1000);
  const calls = [...confirms, ...post];
  expect(calls.every((c) => verifySignature(secret, c, now))).toBe(true);
  expect(calls.some((c) => verifySignature('not-the-secret-0123456789', c, now))).toBe(false);

  // Every audited event of the rollout reaches the notification sink once per key.
  const { rows } = await pool.query<{ event_key: string; event: string }>(
    'SELECT event_key, event FROM pkg_rollout_events WHERE rollout_id = $1 ORDER BY id',
    [rolloutId],
  );
  expect(rows.map((r) => r.event)).toEqual(
    expect.arrayContaining([
      'compiled',
      'validated',
      'step',
      'verdict_pass',
      'webhook_held',
      'webhook_confirmed',
      'promoted',
    ]),
  );
  const told = await waitFor(
    async () => {
      const keys = new Set(
        receiver.calls.filter((c) => c.path === '/notify' && c.status === 200).map((c) => c.json.event_key),
      );
      return rows.every((r) => keys.has(r.event_key)) ? keys : null;
    },
    20_000,
    'every event notified',
  );
  expect([...told].filter((key) => String(key).startsWith(`${rolloutId}:`)).sort()).toEqual(
    rows.map((r) => r.event_key).sort(),
  );
  await saveHistory(handle, 'promoted-after-confirmation-hold');
});
