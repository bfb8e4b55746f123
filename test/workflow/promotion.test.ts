import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { REASONS } from '../../policy/rollout/reasons';
import { approveSignal, pauseSignal, resumeSignal, rollbackSignal, statusQuery } from '../../workflows/definitions';
import {
  callsTo,
  createPromotionEnv,
  fakeActivities,
  latch,
  plan,
  refused,
  statusWhen,
  verdictOf,
  type Calls,
  type PromotionTestEnv,
} from './promotion-env';

let testEnv: PromotionTestEnv;
let env: TestWorkflowEnvironment;
const withPromotion: PromotionTestEnv['withPromotion'] = (fakes, work) => testEnv.withPromotion(fakes, work);
beforeAll(async () => {
  testEnv = await createPromotionEnv();
  env = testEnv.env;
});
afterAll(async () => {
  await testEnv?.teardown();
});

/** Queries do not move the test server's clock: this skips past a bake (120 s in these plans). */
const pastTheBake = () => env.sleep('121s');

const percentsSet = (calls: Calls) =>
  callsTo(calls, 'setLaneStep').map((c) => (c.input as { percent: number }).percent);
const events = (calls: Calls) => callsTo(calls, 'recordRolloutEvent').map((c) => (c.input as { event: string }).event);

test('a good candidate passes every stage in order and is promoted, with one decision record', async () => {
  const compiling = latch();
  const validating = latch();
  const ramping = latch();
  const gating = latch();
  const { fakes, calls } = fakeActivities({
    compileBundle: async () => {
      await compiling.pass();
      return {
        snapshotId: 'snap-1',
        version: 'rules@1.0.0',
        env: 'dev',
        checksum: 'c',
        created: true,
        rollout: null,
        fixtureCount: 2,
      };
    },
    runSnapshotFixtures: async () => {
      await validating.pass();
      return {
        passed: 2,
        failed: 0,
        results: [],
        engines: { native: { passed: 2, failed: 0 }, wasm: { passed: 2, failed: 0 } },
      };
    },
    awaitCoverage: async () => {
      await ramping.pass();
      return { evaluators: 2, serving: 2, reached: true, atMs: 0 };
    },
    judgeLaneStep: async (input) => {
      await gating.pass();
      return verdictOf('pass', input.step, input.percent);
    },
  });
  const result = await withPromotion(fakes, async (handle) => {
    const seen: string[] = [];
    for (const [stop, stage] of [
      [compiling, 'compiling'],
      [validating, 'validating'],
      [ramping, 'ramping'],
    ] as const) {
      await stop.reached;
      seen.push((await statusWhen(handle, (s) => s.stage === stage)).stage);
      stop.release();
    }
    await statusWhen(handle, (s) => s.stage === 'baking');
    seen.push('baking');
    await pastTheBake();
    await gating.reached;
    seen.push((await statusWhen(handle, (s) => s.stage === 'gating')).stage);
    gating.release();
    expect(seen).toEqual(['compiling', 'validating', 'ramping', 'baking', 'gating']);
    return handle.result();
  });
  expect(result).toMatchObject({
    outcome: 'promoted',
    reason: REASONS.promoted('rules@1.0.0'),
    decisionId: 'decision-1',
  });
  expect(result.verdicts.map((v) => v.verdict)).toEqual(['pass', 'pass', 'pass']);
  expect(percentsSet(calls)).toEqual([10, 50, 100]);
  expect(callsTo(calls, 'promoteCandidate')).toHaveLength(1);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(0);
  expect(callsTo(calls, 'writeDecisionRecord')).toHaveLength(1);
  expect(events(calls)).toEqual(['compiled', 'validated', 'verdict_pass', 'verdict_pass', 'verdict_pass']);
});

test.each([
  [
    'the plan',
    { planRollout: async () => Promise.reject(refused('GateConfigLoosened', 'bundle loosens max_error_rate')) },
  ],
  ['the compile', { compileBundle: async () => Promise.reject(refused('BundleInvalid', 'rules.yaml: bad')) }],
])('a refusal by %s rejects the bundle before any traffic', async (_what, overrides) => {
  const { fakes, calls } = fakeActivities(overrides);
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toMatch(/^(GateConfigLoosened|BundleInvalid): /);
  expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(0);
  expect(events(calls)).toEqual(['rejected']);
  expect(callsTo(calls, 'writeDecisionRecord')).toHaveLength(1);
});

test('failing fixtures reject the candidate with their count', async () => {
  const { fakes, calls } = fakeActivities({
    runSnapshotFixtures: async () => ({
      passed: 1,
      failed: 1,
      results: [{ name: 'vip', ok: false, message: 'native: expected escalate' }],
      engines: { native: { passed: 1, failed: 1 }, wasm: { passed: 2, failed: 0 } },
    }),
  });
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(result).toMatchObject({ outcome: 'rejected', reason: REASONS.fixturesFailed(1, 2) });
  expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
});

test('pause holds the rollout after the bake until resume; nothing is judged while paused', async () => {
  const { fakes, calls } = fakeActivities();
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal(pauseSignal, { actor: 'oncall', reason: 'watching dashboards' });
    await env.sleep('10m');
    const held = await handle.query(statusQuery);
    expect(held).toMatchObject({ stage: 'baking', paused: { actor: 'oncall', reason: 'watching dashboards' } });
    expect(held.holds).toEqual([
      expect.objectContaining({ kind: 'paused', actor: 'oncall', since: expect.any(String) }),
    ]);
    expect(callsTo(calls, 'judgeLaneStep')).toHaveLength(0);
    await handle.signal(resumeSignal, { actor: 'oncall' });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(events(calls)).toEqual(expect.arrayContaining(['paused', 'resumed']));
});

test('a rollback during validation ends the rollout before any step and withdraws the candidate', async () => {
  const validating = latch();
  const { fakes, calls } = fakeActivities({
    runSnapshotFixtures: async () => {
      await validating.pass();
      return {
        passed: 2,
        failed: 0,
        results: [],
        engines: { native: { passed: 2, failed: 0 }, wasm: { passed: 2, failed: 0 } },
      };
    },
  });
  const result = await withPromotion(fakes, async (handle) => {
    await validating.reached;
    await handle.signal(rollbackSignal, { actor: 'ann', reason: 'wrong ticket' });
    await statusWhen(handle, () => true);
    validating.release();
    return handle.result();
  });
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: REASONS.manualRollback('ann', 'wrong ticket') });
  expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(1);
});

test('a rollback during a bake withdraws the canary at once, without judging the step', async () => {
  const { fakes, calls } = fakeActivities();
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal(rollbackSignal, { actor: 'ann', reason: 'pager' });
    return handle.result();
  });
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: REASONS.manualRollback('ann', 'pager') });
  expect(percentsSet(calls)).toEqual([10]);
  expect(callsTo(calls, 'judgeLaneStep')).toHaveLength(0);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(1);
  expect(callsTo(calls, 'promoteCandidate')).toHaveLength(0);
});

test('an approval step waits for approve, then the ramp goes on', async () => {
  const { fakes, calls } = fakeActivities({ planRollout: async () => plan({ approvalSteps: [1] }) });
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await pastTheBake();
    const waiting = await statusWhen(handle, (s) => s.awaitingApproval);
    expect(waiting).toMatchObject({ stage: 'ramping', stepIndex: 1 });
    expect(waiting.holds.map((h) => h.kind)).toEqual(['approval']);
    await env.sleep('1h');
    expect(percentsSet(calls)).toEqual([10]);
    await handle.signal(approveSignal, { actor: 'lead' });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(percentsSet(calls)).toEqual([10, 50, 100]);
  expect(events(calls)).toContain('approved');
});

test('a rollback while waiting for approval rolls back without the next step', async () => {
  const { fakes, calls } = fakeActivities({ planRollout: async () => plan({ approvalSteps: [1] }) });
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await pastTheBake();
    await statusWhen(handle, (s) => s.awaitingApproval);
    await handle.signal(rollbackSignal, { actor: 'lead', reason: 'not today' });
    return handle.result();
  });
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: REASONS.manualRollback('lead', 'not today') });
  expect(percentsSet(calls)).toEqual([10]);
});

test('an approve when no step waits is audited as ignored and changes nothing', async () => {
  const { fakes, calls } = fakeActivities();
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal(approveSignal, { actor: 'lead' });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  const ignored = callsTo(calls, 'recordRolloutEvent').find(
    (c) => (c.input as { event: string }).event === 'approve_ignored',
  );
  expect(ignored?.input).toMatchObject({ actor: 'lead', reason: 'no step waits for approval' });
});

test('inconclusive extends the bake up to max_extensions, then fails the rollout', async () => {
  const { fakes, calls } = fakeActivities({
    judgeLaneStep: async (input) => verdictOf('inconclusive', input.step, input.percent),
  });
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(callsTo(calls, 'judgeLaneStep')).toHaveLength(3);
  expect(result).toMatchObject({
    outcome: 'rolled_back',
    reason: REASONS.extensionsExhausted(2, 'step 1 inconclusive'),
  });
  expect(percentsSet(calls)).toEqual([10]);
  expect(callsTo(calls, 'rollbackLane')).toHaveLength(1);
});

test('a failing step rolls back with the verdict message', async () => {
  const { fakes, calls } = fakeActivities({
    judgeLaneStep: async (input) => verdictOf(input.step === 1 ? 'fail' : 'pass', input.step, input.percent),
  });
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: 'step 2 fail' });
  expect(percentsSet(calls)).toEqual([10, 50]);
  expect(callsTo(calls, 'promoteCandidate')).toHaveLength(0);
});

test('cancelling the workflow rolls the canary back and still writes the decision record', async () => {
  const { fakes, calls } = fakeActivities();
  const error = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.cancel();
    return handle.result().then(
      () => null,
      (failure: unknown) => failure,
    );
  });
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(callsTo(calls, 'rollbackLane').map((c) => c.input)).toEqual([
    expect.objectContaining({ actor: 'temporal', reason: REASONS.cancelled }),
  ]);
  expect(callsTo(calls, 'writeDecisionRecord').map((c) => c.input)).toEqual([
    expect.objectContaining({ outcome: 'rolled_back', reason: REASONS.cancelled }),
  ]);
});
