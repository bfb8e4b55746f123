import { ApplicationFailure } from '@temporalio/common';
import type { WebhookCall } from '../../activities/webhook';
import type { Webhook } from '../../policy/rollout/webhooks';
import { operatorUpdates, statusQuery } from '../../workflows/definitions';
import {
  auditRows,
  callsTo,
  createPromotionEnv,
  fakeActivities,
  latch,
  plan,
  statusWhen,
  type Calls,
  type PromotionTestEnv,
} from './promotion-env';

/**
 * Webhooks in the promotion workflow with fake activities: gating ones hold (asked again every
 * interval), release, or fail; informational ones never change the outcome; an operator's
 * rollback releases a hold.
 */
let testEnv: PromotionTestEnv;
beforeAll(async () => {
  testEnv = await createPromotionEnv();
});
afterAll(async () => {
  await testEnv?.teardown();
});

const hook = (type: Webhook['type'], changes: Partial<Webhook> = {}): Webhook => ({
  name: `${type}-hook`,
  type,
  url: 'http://127.0.0.1:9/hook',
  timeoutMs: 1000,
  retries: 0,
  intervalMs: 30_000,
  onFailure: type === 'pre-rollout' ? 'fail' : 'hold',
  ...changes,
});

const refusal = (status: number) =>
  ApplicationFailure.create({ type: 'WebhookRefused', message: `answered ${status}`, nonRetryable: true });

const webhookCalls = (calls: Calls) => callsTo(calls, 'callRolloutWebhook').map((c) => c.input as WebhookCall);
const events = (calls: Calls) => auditRows(calls).map((row) => row.event);
const order = (calls: Calls, names: string[]) => calls.map((c) => c.name).filter((name) => names.includes(name));

test('a confirm-promotion webhook that answers 503 holds the promotion, asks again, then releases it', async () => {
  const second = latch();
  let asked = 0;
  // Real time here (the test waits on the latch, not on the result): short bakes and interval.
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ bakeMs: 500, webhooks: [hook('confirm-promotion', { intervalMs: 1000 })] }),
    callRolloutWebhook: async () => {
      asked += 1;
      if (asked === 1) throw refusal(503);
      await second.pass();
      return { status: 200 };
    },
  });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    await second.reached;
    const held = await statusWhen(handle, (s) => s.holds.some((h) => h.kind === 'confirmation'));
    expect(held.message).toBe('waiting for confirm-promotion webhook confirm-promotion-hook (answered 503)');
    expect(held.percent).toBe(100);
    expect(callsTo(calls, 'promoteCandidate')).toHaveLength(0);
    second.release();
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  const asks = webhookCalls(calls);
  expect(asks.map((c) => c.idempotencyKey.split(':').slice(-2).join(':'))).toEqual([
    'confirm-promotion-hook:0',
    'confirm-promotion-hook:1',
  ]);
  expect(asks[0]!.payload).toMatchObject({ type: 'confirm-promotion', lane: 'dev/web/eu', step: 3, percent: 100 });
  expect(asks[0]!.payload.verdicts).toHaveLength(3);
  expect(order(calls, ['judgeLaneStep', 'callRolloutWebhook', 'promoteCandidate']).slice(-4)).toEqual([
    'judgeLaneStep',
    'callRolloutWebhook',
    'callRolloutWebhook',
    'promoteCandidate',
  ]);
  expect(events(calls)).toEqual(expect.arrayContaining(['webhook_held', 'webhook_confirmed']));
});

test('confirm-promotion with on_failure: fail rolls back, and the rollback webhook is told', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () =>
      plan({ webhooks: [hook('confirm-promotion', { onFailure: 'fail' }), hook('rollback'), hook('post-rollout')] }),
    callRolloutWebhook: async (call) => {
      if (call.hook.type === 'confirm-promotion') throw refusal(409);
      return { status: 200 };
    },
  });
  const result = await testEnv.withPromotion(fakes, (handle) => handle.result());
  expect(result.outcome).toBe('rolled_back');
  expect(result.reason).toBe('confirm-promotion webhook confirm-promotion-hook failed: answered 409');
  expect(callsTo(calls, 'promoteCandidate')).toHaveLength(0);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(1);
  expect(webhookCalls(calls).map((c) => [c.hook.type, c.payload.outcome])).toEqual([
    ['confirm-promotion', null],
    ['rollback', 'rolled_back'],
    ['post-rollout', 'rolled_back'],
  ]);
  expect(events(calls)).toContain('webhook_failed');
});

test('a pre-rollout webhook that keeps failing rejects the candidate before any traffic, after its retries', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ webhooks: [hook('pre-rollout', { retries: 2 }), hook('confirm-rollout')] }),
    callRolloutWebhook: async () => {
      throw ApplicationFailure.retryable('answered 500', 'WebhookRefused');
    },
  });
  const result = await testEnv.withPromotion(fakes, (handle) => handle.result());
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toBe('pre-rollout webhook pre-rollout-hook failed: answered 500');
  expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
  // Three attempts (retries: 2) of one question: one idempotency key; confirm-rollout never asked.
  const asks = webhookCalls(calls);
  expect(asks).toHaveLength(3);
  expect(new Set(asks.map((c) => c.idempotencyKey)).size).toBe(1);
  expect(asks.every((c) => c.hook.type === 'pre-rollout')).toBe(true);
});

test('an operator rollback releases a confirm-rollout hold: rolled back with no step taken', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ webhooks: [hook('confirm-rollout')] }),
    callRolloutWebhook: async () => {
      throw refusal(503);
    },
  });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    const held = await statusWhen(handle, (s) => s.holds.some((h) => h.kind === 'confirmation'));
    expect(held.stepIndex).toBe(-1);
    await handle.executeUpdate(operatorUpdates.rollback, { args: [{ actor: 'ann', reason: 'no' }] });
    const result = await handle.result();
    expect((await handle.query(statusQuery)).holds).toEqual([]);
    return result;
  });
  expect(result.outcome).toBe('rolled_back');
  expect(result.reason).toBe('rolled back by ann: no');
  expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
});

test('informational webhooks that fail change nothing: still promoted, the failure recorded', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ webhooks: [hook('post-rollout', { retries: 1 })] }),
    callRolloutWebhook: async () => {
      throw ApplicationFailure.retryable('unreachable: connect ECONNREFUSED', 'WebhookUnreachable');
    },
  });
  const result = await testEnv.withPromotion(fakes, (handle) => handle.result());
  expect(result.outcome).toBe('promoted');
  expect(webhookCalls(calls)).toHaveLength(2);
  expect(webhookCalls(calls)[0]!.payload).toMatchObject({ outcome: 'promoted', reason: 'rules@1.0.0 promoted' });
  expect(events(calls).at(-1)).toBe('webhook_failed');
});

test('a candidate whose fixtures fail is rejected, and post-rollout is told so', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ webhooks: [hook('pre-rollout'), hook('post-rollout')] }),
    runSnapshotFixtures: async () => ({
      passed: 1,
      failed: 1,
      results: [],
      engines: { native: { passed: 1, failed: 1 }, wasm: { passed: 1, failed: 1 } },
    }),
  });
  const result = await testEnv.withPromotion(fakes, (handle) => handle.result());
  expect(result.outcome).toBe('rejected');
  expect(webhookCalls(calls).map((c) => [c.hook.type, c.payload.outcome, c.payload.reason])).toEqual([
    ['post-rollout', 'rejected', '1/2 fixtures failed'],
  ]);
});
