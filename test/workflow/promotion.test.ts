import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { GateInput } from '../../activities/gate';
import type { StepVerdict, Verdict } from '../../policy/rollout/gates';
import { REASONS } from '../../policy/rollout/reasons';
import { operatorSignals, operatorUpdates, statusQuery } from '../../workflows/definitions';
import {
  auditRows,
  callsTo,
  createPromotionEnv,
  fakeActivities,
  impactReport,
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
const events = (calls: Calls) => auditRows(calls).map((row) => row.event);

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
  expect(events(calls)).toEqual([
    'compiled',
    'validated',
    'replay_inconclusive',
    'verdict_pass',
    'verdict_pass',
    'verdict_pass',
  ]);
  // A dead rollout's leftover is withdrawn before anything else touches the lane.
  expect(calls[0]).toMatchObject({ name: 'withdrawLeftover', input: { lane: { env: 'dev' }, actor: 'ci' } });
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
    await handle.signal(operatorSignals.pause, { actor: 'oncall', reason: 'watching dashboards' });
    await env.sleep('10m');
    const held = await handle.query(statusQuery);
    expect(held).toMatchObject({ stage: 'baking', paused: { actor: 'oncall', reason: 'watching dashboards' } });
    expect(held.holds).toEqual([
      expect.objectContaining({ kind: 'paused', actor: 'oncall', since: expect.any(String) }),
    ]);
    expect(callsTo(calls, 'judgeLaneStep')).toHaveLength(0);
    await handle.signal(operatorSignals.resume, { actor: 'oncall' });
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
    await handle.signal(operatorSignals.rollback, { actor: 'ann', reason: 'wrong ticket' });
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
    await handle.signal(operatorSignals.rollback, { actor: 'ann', reason: 'pager' });
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
    await handle.signal(operatorSignals.approve, { actor: 'lead' });
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
    await handle.signal(operatorSignals.rollback, { actor: 'lead', reason: 'not today' });
    return handle.result();
  });
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: REASONS.manualRollback('lead', 'not today') });
  expect(percentsSet(calls)).toEqual([10]);
});

test('an early approve is audited as ignored and does not pre-approve the later step', async () => {
  const { fakes, calls } = fakeActivities({ planRollout: async () => plan({ approvalSteps: [1] }) });
  await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal(operatorSignals.approve, { actor: 'lead' });
    await pastTheBake();
    await statusWhen(handle, (s) => s.awaitingApproval);
    await env.sleep('1h');
    expect(percentsSet(calls)).toEqual([10]);
    await handle.signal(operatorSignals.rollback, { actor: 'lead', reason: 'done' });
    return handle.result();
  });
  const ignored = auditRows(calls).filter((row) => row.event === 'approve_ignored');
  expect(ignored).toHaveLength(1);
  expect(ignored[0]).toMatchObject({ actor: 'lead', reason: expect.stringContaining('no step is waiting') });
});

test.each([
  ['no payload', undefined],
  ['an empty object', {}],
  ['a string', 'pause please'],
  ['a number', 42],
  ['an actor of the wrong type', { actor: 7, reason: ['x'] }],
])('a pause signal with %s never wedges the rollout: recorded by an unknown actor', async (_, payload) => {
  const { fakes, calls } = fakeActivities();
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal('pause', payload);
    const paused = await statusWhen(handle, (s) => s.paused !== null);
    expect(paused.paused).toEqual({ actor: 'unknown', reason: '' });
    // The rescue paths still work: an Update and the rollback signal without payload.
    await handle.signal('rollback');
    return handle.result();
  });
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: REASONS.manualRollback('unknown', '') });
  const audited = auditRows(calls);
  expect(audited.filter((e) => e.event === 'paused')).toEqual([expect.objectContaining({ actor: 'unknown' })]);
  expect(audited.filter((e) => e.event === 'rollback_requested')).toHaveLength(1);
});

test.each<[string, unknown[]]>([
  ['no payload', []],
  ['an empty object', [{}]],
  ['garbage', ['pause please']],
  ['an empty actor', [{ actor: ' ' }]],
])('a pause Update with %s is refused synchronously and leaves no trace', async (_, args) => {
  const { fakes, calls } = fakeActivities();
  await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    const refusal = await handle.executeUpdate('pause', { args: args as [unknown] }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refusal as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InputInvalid' });
    expect((await handle.query(statusQuery)).paused).toBeNull();
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    await handle.executeUpdate(operatorUpdates.rollback, { args: [{ actor: 'ann', reason: 'test over' }] });
    return handle.result();
  });
  const audited = auditRows(calls).map((row) => row.event);
  expect(audited.filter((e) => e.startsWith('pause'))).toEqual([]);
  expect(audited.filter((e) => e === 'rollback_requested')).toHaveLength(1);
});

test('operator messages that arrive during an audit write go together in the next one, in the order sent', async () => {
  // Slow writes: the whole burst arrives while the first is under way.
  const slowly = async () => void (await new Promise((resolve) => setTimeout(resolve, 500)));
  const { fakes, calls } = fakeActivities({ recordRolloutEvents: slowly });
  const burst = ['pause', 'resume', 'pause', 'resume', 'pause', 'resume'] as const;
  await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    for (const [i, signal] of burst.entries()) await handle.signal(signal, { actor: 'oncall', reason: `burst ${i}` });
    await handle.signal(operatorSignals.rollback, { actor: 'oncall', reason: 'burst over' });
    return handle.result();
  });
  const operator = auditRows(calls).filter((row) => row.actor === 'oncall');
  expect(operator.map((row) => `${row.event}:${row.reason}`)).toEqual([
    ...burst.map((signal, i) => `${signal}d:burst ${i}`),
    'rollback_requested:burst over',
  ]);
  const groups = callsTo(calls, 'recordRolloutEvents').map((call) => (call.input as unknown[]).length);
  expect(groups.reduce((sum, n) => sum + n, 0)).toBe(burst.length + 1);
  expect(groups.length).toBeLessThan(burst.length + 1);
  expect(callsTo(calls, 'recordRolloutEvent').filter((call) => JSON.stringify(call.input).includes('oncall'))).toEqual(
    [],
  );
});

test('Updates: pause answers with the paused status, resume continues, an early approve is refused', async () => {
  const { fakes, calls } = fakeActivities({ planRollout: async () => plan({ approvalSteps: [1] }) });
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    const early = await handle
      .executeUpdate(operatorUpdates.approve, { args: [{ actor: 'lead' }] })
      .catch((error: unknown) => error);
    expect((early as WorkflowUpdateFailedError).cause).toMatchObject({
      type: 'ActionRefused',
      message: expect.stringContaining('no step is waiting for approval'),
    });
    const notPaused = await handle
      .executeUpdate(operatorUpdates.resume, { args: [{ actor: 'oncall' }] })
      .catch((error: unknown) => error);
    expect((notPaused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ActionRefused' });
    const paused = await handle.executeUpdate(operatorUpdates.pause, { args: [{ actor: 'oncall', reason: 'look' }] });
    expect(paused.paused).toEqual({ actor: 'oncall', reason: 'look' });
    await handle.executeUpdate(operatorUpdates.resume, { args: [{ actor: 'oncall' }] });
    await pastTheBake();
    await statusWhen(handle, (s) => s.awaitingApproval);
    const approved = await handle.executeUpdate(operatorUpdates.approve, { args: [{ actor: 'lead' }] });
    expect(approved.stepIndex).toBe(1);
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  const audited = auditRows(calls);
  const operator = audited.filter(
    (e) => ['paused', 'resumed', 'approved'].includes(e.event) || e.event.endsWith('_ignored'),
  );
  expect(operator.map((e) => `${e.event}:${e.actor}`)).toEqual(['paused:oncall', 'resumed:oncall', 'approved:lead']);
  expect(operator.at(-1)).toMatchObject({ reason: 'step 2' });
});

test('after a rollback request every further action is refused', async () => {
  const withdrawing = latch();
  const { fakes } = fakeActivities({ rollbackLane: () => withdrawing.pass() });
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.executeUpdate(operatorUpdates.rollback, { args: [{ actor: 'ann' }] });
    await withdrawing.reached;
    const again = await handle
      .executeUpdate(operatorUpdates.pause, { args: [{ actor: 'bob' }] })
      .catch((error: unknown) => error);
    expect((again as WorkflowUpdateFailedError).cause).toMatchObject({
      type: 'ActionRefused',
      message: expect.stringContaining('rollback was already requested'),
    });
    withdrawing.release();
    return handle.result();
  });
  expect(result.outcome).toBe('rolled_back');
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

/** A gate fake answering `script` in order, each verdict with the window it read (5 s long). */
function scriptedGate(script: Verdict[]) {
  let read = 0;
  return async (input: GateInput): Promise<StepVerdict> => ({
    ...verdictOf(script[read++] ?? 'pass', input.step, input.percent),
    window: { fromMs: input.fromMs, toMs: input.fromMs + 5000 },
  });
}
const needing = (consecutivePasses: number) => plan({ gates: { ...plan().gates, consecutivePasses } });
const gateReads = (calls: Calls) =>
  callsTo(calls, 'judgeLaneStep').map((c) => {
    const { step, fromMs } = c.input as GateInput;
    return [step, fromMs];
  });

test('consecutive_passes: a pass is read again after another bake, over a fresh window, until N in a row', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => needing(3),
    judgeLaneStep: scriptedGate([]),
  });
  const result = await withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await pastTheBake();
    const again = await statusWhen(handle, (s) => s.stage === 'baking' && s.passes === 1);
    expect(again.message).toBe(REASONS.bakingAgain(0, 3, 10, 1));
    expect(callsTo(calls, 'setLaneStep')).toHaveLength(1);
    const outcome = await handle.result();
    const history = await handle.fetchHistory();
    const markers = history.events?.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    expect(markers?.length).toBeGreaterThan(0);
    return outcome;
  });
  expect(result.outcome).toBe('promoted');
  expect(gateReads(calls)).toEqual([
    [0, 0],
    [0, 5000],
    [0, 10_000],
    [1, 0],
    [1, 5000],
    [1, 10_000],
    [2, 0],
    [2, 5000],
    [2, 10_000],
  ]);
  expect(events(calls).filter((e) => e === 'verdict_pass')).toHaveLength(9);
});

test('consecutive_passes: inconclusive starts the count over on the same window and spends an extension; a later fail rolls back', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => needing(2),
    judgeLaneStep: scriptedGate(['pass', 'inconclusive', 'pass', 'pass', 'pass', 'fail']),
  });
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(gateReads(calls)).toEqual([
    [0, 0],
    [0, 5000], // fresh window after the first pass
    [0, 5000], // inconclusive: the same window, longer
    [0, 10_000], // the second pass in a row follows; the step advances
    [1, 0],
    [1, 5000],
  ]);
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: 'step 2 fail' });
  expect(percentsSet(calls)).toEqual([10, 50]);
  expect(callsTo(calls, 'promoteCandidate')).toHaveLength(0);
});

test('consecutive_passes: inconclusive reads between passes still exhaust max_extensions', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => needing(2),
    judgeLaneStep: scriptedGate(['pass', 'inconclusive', 'pass', 'inconclusive', 'pass', 'inconclusive']),
  });
  const result = await withPromotion(fakes, (handle) => handle.result());
  expect(callsTo(calls, 'judgeLaneStep')).toHaveLength(6);
  expect(result).toMatchObject({
    outcome: 'rolled_back',
    reason: REASONS.extensionsExhausted(2, 'step 1 inconclusive'),
  });
  expect(percentsSet(calls)).toEqual([10]);
});

describe('the replay stage', () => {
  const replayPlan = (changes: Partial<ReturnType<typeof plan>['replay']>) =>
    plan({ replay: { ...plan().replay, maxDivergence: 0.05, ...changes } });

  test('more change than the declared budget rejects the candidate before any canary step', async () => {
    const { fakes, calls } = fakeActivities({
      planRollout: async () => replayPlan({}),
      replayDecisions: async () => impactReport(1000, 400),
    });
    const result = await withPromotion(fakes, (handle) => handle.result());
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toBe(REASONS.replayOver(400, 1000, 0.4, 0.05, 'vip_escalation'));
    expect(callsTo(calls, 'setLaneStep')).toHaveLength(0);
    expect(callsTo(calls, 'rollbackLane')).toHaveLength(0);
    expect(events(calls)).toEqual(['compiled', 'validated', 'replay_fail', 'rejected']);
    const record = callsTo(calls, 'writeDecisionRecord')[0]!.input as { replay: { verdict: string; changed: number } };
    expect(record.replay).toMatchObject({ verdict: 'fail', changed: 400, decisions: 1000 });
  });

  test('change within the budget goes on to the ramp, and status shows the replay verdict', async () => {
    const { fakes, calls } = fakeActivities({
      planRollout: async () => replayPlan({}),
      replayDecisions: async () => impactReport(1000, 20),
    });
    await withPromotion(fakes, async (handle) => {
      const status = await statusWhen(handle, (s) => s.stage === 'baking');
      expect(status.replay).toMatchObject({ verdict: 'pass', decisions: 1000, changed: 20, share: 0.02 });
      await pastTheBake();
      await pastTheBake();
      await pastTheBake();
      return handle.result();
    });
    expect(percentsSet(calls)).toEqual([10, 50, 100]);
    const replay = callsTo(calls, 'replayDecisions')[0]!.input;
    expect(replay).toMatchObject({ candidate: { snapshotId: 'snap-1' }, windowMs: 86_400_000, limit: 100_000 });
  });

  test.each([
    ['skip', 'promoted', 3],
    ['require', 'rejected', 0],
  ] as const)('too few logged decisions with on_insufficient %s: %s', async (policy, outcome, steps) => {
    const { fakes, calls } = fakeActivities({
      planRollout: async () => replayPlan({ onInsufficient: policy, minDecisions: 100 }),
      replayDecisions: async () => impactReport(40, 40),
    });
    const result = await withPromotion(fakes, async (handle) => {
      for (let i = 0; i < steps; i++) {
        await statusWhen(handle, (s) => s.stage === 'baking' && s.stepIndex === i);
        await pastTheBake();
      }
      return handle.result();
    });
    expect(result.outcome).toBe(outcome);
    expect(percentsSet(calls)).toHaveLength(steps);
    expect(events(calls)).toContain('replay_inconclusive');
  });
});
