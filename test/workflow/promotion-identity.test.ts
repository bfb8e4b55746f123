import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { OperatorVerification, StartVerification } from '../../activities/audit';
import { operatorSignals, operatorUpdates, statusQuery } from '../../workflows/definitions';
import {
  auditRows,
  callsTo,
  createPromotionEnv,
  fakeActivities,
  plan,
  statusWhen,
  type Calls,
  type PromotionTestEnv,
} from './promotion-env';

/**
 * Verified identity on operator actions (patch `verified-identity`): where the plan requires it,
 * resume and approve count only when the API verified who sent them; signals from the Temporal UI
 * and Updates without the API's verification are refused with a message saying how, and audited;
 * pause and rollback are honoured from anyone. Every operator row says whether it was verified.
 */
let testEnv: PromotionTestEnv;
beforeAll(async () => {
  testEnv = await createPromotionEnv();
});
afterAll(async () => {
  await testEnv?.teardown();
});

const pastTheBake = () => testEnv.env.sleep('121s');
const operatorRows = (calls: Calls) =>
  auditRows(calls)
    .filter((row) => row.eventKey.includes(':signal:'))
    .map(({ event, actor, actorVerified }) => ({ event, actor, actorVerified }));
/** The API's verification "v-ok" resolves to token:lead; anything else is unknown. */
const verifyOperator = async ({ verification }: OperatorVerification) =>
  verification === 'v-ok' ? 'token:lead' : null;

async function refusal(update: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await update.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause as ApplicationFailure;
}

test('where required, approve counts only from the API: a UI signal and a bare Update are refused, saying how', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ approvalSteps: [1], verifiedIdentity: true }),
    verifyOperator,
  });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await pastTheBake();
    await statusWhen(handle, (s) => s.awaitingApproval);
    await handle.signal(operatorSignals.approve, { actor: 'lead' });
    const bare = await refusal(handle.executeUpdate(operatorUpdates.approve, { args: [{ actor: 'lead' }] }));
    expect(bare.type).toBe('Forbidden');
    expect(bare.message).toMatch(/verified identity.*PKG_API_URL and PKG_TOKEN/);
    expect(await handle.query(statusQuery)).toMatchObject({ awaitingApproval: true });
    const args = [{ actor: 'whoever', verification: 'v-ok' }] as const;
    await handle.executeUpdate(operatorUpdates.approve, { args: [...args] });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(operatorRows(calls)).toEqual([
    { event: 'approve_ignored', actor: 'lead', actorVerified: false },
    { event: 'approved', actor: 'token:lead', actorVerified: true },
  ]);
});

test('pause from the UI is honoured but resume is not; a verification the API never made counts for nothing', async () => {
  const { fakes, calls } = fakeActivities({
    planRollout: async () => plan({ verifiedIdentity: true }),
    verifyOperator,
  });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await handle.signal(operatorSignals.pause, { actor: 'ui-user', reason: 'looks odd' });
    await handle.signal(operatorSignals.resume, { actor: 'ui-user' });
    await testEnv.env.sleep('10m');
    expect(await handle.query(statusQuery)).toMatchObject({ paused: { actor: 'ui-user' } });
    const forged = handle.executeUpdate(operatorUpdates.resume, { args: [{ actor: 'x', verification: 'v-forged' }] });
    expect((await refusal(forged)).type).toBe('Forbidden');
    await handle.executeUpdate(operatorUpdates.resume, { args: [{ actor: 'x', verification: 'v-ok' }] });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(operatorRows(calls)).toEqual([
    { event: 'paused', actor: 'ui-user', actorVerified: false },
    { event: 'resume_ignored', actor: 'ui-user', actorVerified: false },
    { event: 'resume_refused', actor: 'x', actorVerified: false },
    { event: 'resumed', actor: 'token:lead', actorVerified: true },
  ]);
});

test('where the plan does not require it, a UI approve is accepted and recorded as unverified', async () => {
  const { fakes, calls } = fakeActivities({ planRollout: async () => plan({ approvalSteps: [1] }), verifyOperator });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    await pastTheBake();
    await statusWhen(handle, (s) => s.awaitingApproval);
    await handle.signal(operatorSignals.approve, { actor: 'lead' });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(operatorRows(calls)).toEqual([{ event: 'approved', actor: 'lead', actorVerified: false }]);
});

/** Every activity that writes an audit row for the starter, and the identity each was given. */
const STARTER_AUDITED = [
  'recordRolloutEvent',
  'withdrawLeftover',
  'runSnapshotFixtures',
  'setLaneStep',
  'promoteCandidate',
  'writeDecisionRecord',
];
const starterAttribution = (calls: Calls) => ({
  called: [...new Set(calls.map((c) => c.name).filter((name) => STARTER_AUDITED.includes(name)))].sort(),
  identities: [
    ...new Set(
      calls
        .filter((c) => STARTER_AUDITED.includes(c.name))
        .map((c) => c.input as { actor: string; actorVerified?: boolean })
        // The gate's verdict rows are the pipeline's own, not the starter's.
        .filter(({ actor }) => actor !== 'gate')
        .map(({ actor, actorVerified }) => JSON.stringify({ actor, actorVerified })),
    ),
  ].map((text) => JSON.parse(text) as unknown),
});
/** The API's record "v-start" of a start resolves to token:ci-deployer; anything else is unknown or claimed. */
const verifyStarter = async ({ verification }: StartVerification) =>
  verification === 'v-start' ? 'token:ci-deployer' : null;

test.each([
  ['the API verified', { verification: 'v-start' }, { actor: 'token:ci-deployer', actorVerified: true }],
  ['straight through Temporal', {}, { actor: 'token:ci-deployer', actorVerified: false }],
  [
    'with a verification the API never made',
    { verification: 'v-forged' },
    { actor: 'token:ci-deployer', actorVerified: false },
  ],
])('a start %s: every audit row of the rollout names its starter so', async (_how, input, expected) => {
  const { fakes, calls } = fakeActivities({ verifyStarter });
  const result = await testEnv.withPromotion(fakes, (handle) => handle.result(), {
    actor: 'token:ci-deployer',
    ...input,
  });
  expect(result.outcome).toBe('promoted');
  expect(starterAttribution(calls)).toEqual({ called: [...STARTER_AUDITED].sort(), identities: [expected] });
  expect(callsTo(calls, 'verifyStarter')).toHaveLength('verification' in input ? 1 : 0);
});

test.each([
  ['through the API', { actor: 'token:lead', actorVerified: true }],
  ['from the UI', { actor: 'ui-user', actorVerified: false }],
])('an operator rollback %s is recorded on the rollback row as verified or not', async (how, expected) => {
  const { fakes, calls } = fakeActivities({ verifyOperator });
  const result = await testEnv.withPromotion(fakes, async (handle) => {
    await statusWhen(handle, (s) => s.stage === 'baking');
    if (how === 'from the UI') await handle.signal(operatorSignals.rollback, { actor: 'ui-user', reason: 'odd' });
    else await handle.executeUpdate(operatorUpdates.rollback, { args: [{ actor: 'x', verification: 'v-ok' }] });
    return handle.result();
  });
  expect(result.outcome).toBe('rolled_back');
  const rows = callsTo(calls, 'rollbackLane').map((c) => c.input as { actor: string; actorVerified?: boolean });
  expect(rows.map(({ actor, actorVerified }) => ({ actor, actorVerified }))).toEqual([expected]);
});
