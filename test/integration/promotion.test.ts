import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Pool } from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import type { RolloutStatus } from '../../policy/rollout/status';
import { loadConfig } from '../../policy/config';
import { PkgError } from '../../policy/errors';
import { assertLaneIdle, startPromotion } from '../../client/rollout-client';
import { revert } from '../../activities/revert';
import { verifyStoredDecision } from '../../client/rollout-history';
import { envHistory } from '../../activities/store/decisions';
import { abandonLeftover } from '../../activities/abort';
import { canonicalHash } from '../../policy/rollout/merge-receipt';
import { rolloutWorkflowId, statusQuery, type PromotionResult } from '../../workflows/definitions';
import { laneName } from '../../policy/lane';
import { evaluate, randomLane, tamperRuleCondition, waitFor, type RunningEvaluator } from './evaluator-harness';
import {
  laneRow,
  startGuestTraffic,
  uniqueName,
  uploadSpec,
  uploadUnchecked,
  versionOf,
  startRolloutStack,
  type BundleSpec,
  type PipelineUnderTest,
  type RolloutStack,
} from './promotion-harness';
import { saveHistory } from '../replay/record';

/**
 * The promotion workflow end to end on one lane: real Temporal, Postgres, Redis, two real
 * evaluator processes (one also runs fixtures on pkg-evaluator) and live traffic. Tests run in
 * order on the lane, so each promotion has the previous one as its baseline.
 */
// Rollouts share a 2-CPU box with other suites: allow retries (e.g. a lost fixture run) to finish.
jest.setTimeout(300_000);

let stack: RolloutStack;
let env: TestWorkflowEnvironment;
let pool: Pool;
let pipeline: PipelineUnderTest;
let evaluators: RunningEvaluator[];
const lane = randomLane('dev');
const name = uniqueName();
const fast = { steps: [50, 100], bake: '2s' };

beforeAll(async () => {
  stack = await startRolloutStack(lane);
  ({ env, pool, pipeline, evaluators } = stack);
}, 60_000);

// One failed test must not leave its rollout running and make the lane busy for the next.
afterEach(async () => {
  const handle = env.client.workflow.getHandle(rolloutWorkflowId(lane));
  const description = await handle.describe().catch(() => null);
  if (description?.status.name === 'RUNNING') await handle.terminate('test cleanup');
});

afterAll(() => stack?.stop());

async function promote(spec: Omit<BundleSpec, 'env'>, overrides = fast) {
  const digest = await uploadSpec(pool, { ...spec, env: 'dev' }, overrides);
  return startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides, actor: 'ci' },
    spec.version,
  );
}

/** Waits until the rollout's status satisfies `holds`, and returns that status. */
function statusWhen(handle: WorkflowHandle, holds: (status: RolloutStatus) => boolean, ms: number, what: string) {
  return waitFor(
    async () => {
      const status = await handle.query(statusQuery);
      return holds(status) ? status : null;
    },
    ms,
    what,
  );
}

async function eventsOf(rolloutId: string) {
  const { rows } = await pool.query<{ event: string; actor: string; reason: string | null; is_rollback: boolean }>(
    'SELECT event, actor, reason, is_rollback FROM pkg_rollout_events WHERE rollout_id = $1 ORDER BY id',
    [rolloutId],
  );
  return rows;
}

test('first promotion of a lane: no baseline, absolute budgets only, promoted', async () => {
  const handle = await promote({ version: `${name}@1.0.0` });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  expect(result.verdicts.every((v) => v.baseline === 'none')).toBe(true);
  // A busy machine may need an extension for enough samples; each step's last verdict passed.
  expect(result.verdicts.filter((v, i, all) => all[i + 1]?.step !== v.step).map((v) => [v.step, v.verdict])).toEqual([
    [0, 'pass'],
    [1, 'pass'],
  ]);
  expect(result.verdicts[0]!.message).toContain('no baseline (first promotion of this lane)');
  const row = await laneRow(pool, lane);
  expect(await versionOf(pool, row!.snapshot_id)).toBe(`${name}@1.0.0`);
  expect(row).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  expect((await verifyStoredDecision(pool, result.decisionId!)).ok).toBe(true);
  // The record holds the plan in force and how its layers made it: only the command line's bake tightened.
  const stored = await pool.query<{ canonical: string; narrative: string }>(
    'SELECT canonical, narrative FROM pkg_decision_records WHERE id = $1',
    [result.decisionId],
  );
  const { plan, merge_receipt: receipt } = JSON.parse(stored.rows[0]!.canonical);
  expect(plan).toMatchObject({ steps: [50, 100], bakeMs: 2000, gates: { maxErrorRate: 0.01 } });
  expect(receipt.merged_hash).toBe(canonicalHash(plan));
  expect(receipt.layers.map((l: { name: string; fields_tightened: string[] }) => [l.name, l.fields_tightened])).toEqual(
    [
      ['global defaults', []],
      ['environment defaults', []],
      ['bundle', []],
      ['command line', ['bakeMs: 1000 -> 2000']],
    ],
  );
  expect(stored.rows[0]!.narrative).toContain(`Plan ${receipt.merged_hash.slice(0, 12)} (global defaults → `);
  await saveHistory(handle, 'promoted-first');
});

test('a good candidate is compared with the baseline and promoted', async () => {
  const handle = await promote({ version: `${name}@1.1.0` });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  expect(result.verdicts[0]).toMatchObject({ verdict: 'pass', baseline: 'compared' });
  const checks = result.verdicts[0]!.checks;
  expect(checks.map((c) => c.gate)).toEqual(
    expect.arrayContaining([
      'error_rate_vs_baseline',
      'latency_vs_baseline',
      'latency_exceedance_vs_baseline',
      'divergence',
    ]),
  );
  // The statistics travel through the workflow history as numbers.
  const stats = Object.fromEntries(checks.filter((c) => c.stats).map((c) => [c.gate, c.stats]));
  expect(stats).toEqual({
    error_rate_vs_baseline: { test: 'fisher', pValue: expect.any(Number), effect: expect.any(Number) },
    latency_vs_baseline: { test: 'mann_whitney', pValue: expect.any(Number), effect: expect.any(Number) },
    latency_exceedance_vs_baseline: {
      test: 'kolmogorov_smirnov',
      pValue: expect.any(Number),
      effect: expect.any(Number),
    },
  });
  expect(await versionOf(pool, (await laneRow(pool, lane))!.snapshot_id)).toBe(`${name}@1.1.0`);
  const { rows } = await pool.query('SELECT action, actor FROM pkg_promotions WHERE idempotency_key = $1', [
    `${handle.workflowId}:${handle.firstExecutionRunId}:promote`,
  ]);
  expect(rows).toEqual([{ action: 'promote', actor: 'ci' }]);
});

test('a candidate with a raised error rate is rolled back with the failing numbers everywhere', async () => {
  const boom = startGuestTraffic(evaluators, 0.2, 2);
  const handle = await promote({ version: `${name}@1.2.0`, kind: 'faulty' });
  const result: PromotionResult = await handle.result();
  await boom.stop();
  expect(result.outcome).toBe('rolled_back');
  const failing = result.verdicts.at(-1)!;
  expect(failing.verdict).toBe('fail');
  const errorCheck = failing.checks.find((c) => c.gate === 'error_rate')!;
  expect(errorCheck.verdict).toBe('fail');
  expect(errorCheck.value).toBeGreaterThan(errorCheck.limit!);

  const status = await handle.query(statusQuery);
  expect(status.stage).toBe('rolled_back');
  expect(status.message).toBe(failing.message);

  const rolloutId = `${handle.workflowId}:${handle.firstExecutionRunId}`;
  const events = await eventsOf(rolloutId);
  expect(events.find((e) => e.event === 'rolled_back')).toMatchObject({ is_rollback: true, reason: failing.message });
  const row = await laneRow(pool, lane);
  expect(row).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  expect(await versionOf(pool, row!.snapshot_id)).toBe(`${name}@1.1.0`);

  const record = await pool.query<{ canonical: string; outcome: string }>(
    'SELECT canonical, outcome FROM pkg_decision_records WHERE id = $1',
    [result.decisionId],
  );
  expect(record.rows[0]!.outcome).toBe('rolled_back');
  expect(JSON.parse(record.rows[0]!.canonical).verdicts.at(-1).checks).toEqual(failing.checks);
  await saveHistory(handle, 'rolled-back-error-rate');
});

test('pause holds the ramp past its bake, resume continues, approve_at waits for approval', async () => {
  const handle = await promote({ version: `${name}@1.3.0`, rollout: 'rollout:\n  approve_at: [100]' });
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the first bake');
  await handle.signal('pause', { actor: 'oncall', reason: 'watching dashboards' });
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const held = await handle.query(statusQuery);
  expect(held.paused).toEqual({ actor: 'oncall', reason: 'watching dashboards' });
  expect(held.stepIndex).toBe(0);
  expect(held.verdicts).toHaveLength(0);
  // Operators may signal from the temporal CLI (or the UI) with the same JSON payload.
  await temporalCli(
    'workflow',
    'signal',
    '--workflow-id',
    handle.workflowId,
    '--name',
    'resume',
    '--input',
    '{"actor":"oncall"}',
  );
  const waiting = await statusWhen(handle, (s) => s.awaitingApproval, 150_000, 'the approval wait');
  expect(waiting).toMatchObject({ stepIndex: 1, percent: 50 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await handle.query(statusQuery)).awaitingApproval).toBe(true);
  await handle.signal('approve', { actor: 'release-manager' });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  const events = await eventsOf(`${handle.workflowId}:${handle.firstExecutionRunId}`);
  expect(events.map((e) => `${e.event}:${e.actor}`)).toEqual(
    expect.arrayContaining(['paused:oncall', 'resumed:oncall', 'approved:release-manager']),
  );
  await saveHistory(handle, 'paused-approved');
});

test('a manual rollback during the bake withdraws the canary at once', async () => {
  const handle = await promote({ version: `${name}@1.4.0` }, { steps: [50, 100], bake: '10m' });
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the bake');
  await handle.signal('rollback', { actor: 'oncall', reason: 'customer report' });
  const result: PromotionResult = await handle.result();
  expect(result).toMatchObject({ outcome: 'rolled_back', reason: 'rolled back by oncall: customer report' });
  expect(await laneRow(pool, lane)).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  const { rows } = await pool.query('SELECT action, actor FROM pkg_promotions WHERE idempotency_key = $1', [
    `${handle.workflowId}:${handle.firstExecutionRunId}:rollback`,
  ]);
  expect(rows).toEqual([{ action: 'rollback', actor: 'oncall' }]);
  await saveHistory(handle, 'manual-rollback');
});

test('CLI signals with no payload, {} or junk never wedge the rollout; pkgctl rollback then rescues it', async () => {
  const handle = await promote({ version: `${name}@1.4.1` }, { steps: [50, 100], bake: '10m' });
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the bake');
  // What the Temporal UI sends with its payload box left empty, and what a hurried operator types.
  const sends: [string, string[]][] = [
    ['pause', []],
    ['resume', ['--input', '{}']],
    ['pause', ['--input', '"x"']],
    ['resume', ['--input', '42']],
    ['pause', ['--input', '{"actor": 7, "reason": ["why"]}']],
  ];
  for (const [signal, input] of sends) {
    await temporalCli('workflow', 'signal', '--workflow-id', handle.workflowId, '--name', signal, ...input);
  }
  const paused = await statusWhen(handle, (s) => s.paused !== null, 30_000, 'the last pause');
  expect(paused).toMatchObject({ stage: 'baking', paused: { actor: 'unknown' } });
  const rescue = await pkgctl('rollback', handle.workflowId, '--reason', 'rescue', '--json');
  expect(rescue.code).toBe(0);
  const result: PromotionResult = await handle.result();
  expect(result).toMatchObject({ outcome: 'rolled_back' });
  expect(await laneRow(pool, lane)).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  const events = await eventsOf(`${handle.workflowId}:${handle.firstExecutionRunId}`);
  expect(events.filter((e) => e.actor === 'unknown').map((e) => e.event)).toEqual([
    'paused',
    'resumed',
    'paused',
    'resumed',
    'paused',
  ]);
  const history = await handle.fetchHistory();
  expect(history.events!.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  await saveHistory(handle, 'rolled-back-after-junk-signals');
});

test('signals sent in a burst are audited in the order they were sent', async () => {
  const handle = await promote({ version: `${name}@1.4.2` }, { steps: [50, 100], bake: '10m' });
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the bake');
  // Sent faster than one audit write takes, so the writes would overlap if the workflow let them.
  const burst = ['pause', 'resume', 'pause', 'resume', 'pause', 'resume'].map((signal, i) => ({
    signal,
    reason: `burst ${i}`,
  }));
  for (const { signal, reason } of burst) await handle.signal(signal, { actor: 'oncall', reason });
  await handle.signal('rollback', { actor: 'oncall', reason: 'burst over' });
  expect(await handle.result()).toMatchObject({ outcome: 'rolled_back' });
  const events = await eventsOf(`${handle.workflowId}:${handle.firstExecutionRunId}`);
  expect(events.filter((e) => /^burst \d$/.test(e.reason ?? '')).map((e) => `${e.event}:${e.reason}`)).toEqual(
    burst.map(({ signal, reason }) => `${signal}d:${reason}`),
  );
  await saveHistory(handle, 'rolled-back-after-signal-burst');
});

test('a second rollout on a busy lane is refused naming the running one; cancelling rolls back', async () => {
  const handle = await promote({ version: `${name}@1.5.0` }, { steps: [50, 100], bake: '10m' });
  const refused = await promote({ version: `${name}@1.6.0` }).then(
    () => null,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(PkgError);
  expect((refused as PkgError).type).toBe('LaneBusy');
  expect((refused as PkgError).message).toContain(handle.workflowId);
  // A live rollout has its own rollback: abort refuses to race it (exit 4, refused).
  expect((await pkgctl('abort', laneName(lane), '--reason', 'x')).code).toBe(4);
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the bake');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const events = await eventsOf(`${handle.workflowId}:${handle.firstExecutionRunId}`);
  expect(events.some((e) => e.event === 'rolled_back' && e.is_rollback)).toBe(true);
  expect(await laneRow(pool, lane)).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
});

/** The Temporal CLI, as an operator runs it against this server. */
const temporalCli = (...args: string[]) =>
  promisify(execFile)(path.join(__dirname, '..', '..', '.tools', 'bin', 'temporal'), [
    ...args,
    '--address',
    loadConfig().TEMPORAL_ADDRESS,
  ]);

const pkgctl = (...args: string[]) =>
  promisify(execFile)(path.join(__dirname, '..', '..', 'bin', 'pkgctl'), args).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

/** Starts a rollout with a long bake and terminates it mid-bake: its canary is left on the lane. */
async function strandCanary(version: string) {
  const handle = await promote({ version }, { steps: [50, 100], bake: '10m' });
  await waitFor(async () => (await handle.query(statusQuery)).stage === 'baking' || null, 150_000, 'the bake');
  await handle.terminate('terminated by an operator');
  const stranded = await laneRow(pool, lane);
  expect(stranded).toMatchObject({ canary_percent: '50.00' });
  expect(await versionOf(pool, stranded!.candidate_snapshot_id)).toBe(version);
  return `${handle.workflowId}:${handle.firstExecutionRunId}`;
}

test('a terminated rollout strands its canary; pkgctl abort withdraws it, audited, and the evaluators drop it', async () => {
  const deadRollout = await strandCanary(`${name}@1.6.1`);
  const abort = await pkgctl('abort', laneName(lane), '--reason', 'x', '--json');
  expect(abort.code).toBe(0);
  const healed = JSON.parse(abort.stdout);
  expect(healed).toMatchObject({
    outcome: 'ok',
    withdrawn: { rolloutId: deadRollout, candidate: { version: `${name}@1.6.1` } },
  });
  // The dead rollout's decision, written by the abort: in the env's chain, with the abort's event.
  const decision = await pool.query<{ outcome: string; rollout_id: string; canonical: string }>(
    'SELECT outcome, rollout_id, canonical FROM pkg_decision_records WHERE id = $1',
    [healed.decisionId],
  );
  expect(decision.rows[0]).toMatchObject({ outcome: 'aborted', rollout_id: deadRollout });
  expect(JSON.parse(decision.rows[0]!.canonical).plan).toMatchObject({ steps: [50, 100], bakeMs: 600_000 });
  expect(JSON.parse(decision.rows[0]!.canonical).events).toEqual(
    expect.arrayContaining([expect.objectContaining({ event: 'rolled_back', reason: 'x' })]),
  );
  expect(await verifyStoredDecision(pool, healed.decisionId)).toMatchObject({ ok: true });
  expect(await laneRow(pool, lane)).toMatchObject({ candidate_snapshot_id: null, canary_percent: '0.00' });
  const events = await eventsOf(deadRollout);
  expect(events.filter((e) => e.event === 'rolled_back')).toEqual([
    expect.objectContaining({ actor: expect.any(String), reason: 'x', is_rollback: true }),
  ]);
  await waitFor(
    async () => {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          evaluate(evaluators[0]!, { input: { tags: ['vip'] }, routing_key: `guest:${i}` }),
        ),
      );
      return replies.every((r) => r.body.snapshot !== `${name}@1.6.1`) || null;
    },
    20_000,
    'the evaluators to stop serving the stranded candidate',
  );
  const again = JSON.parse((await pkgctl('abort', laneName(lane), '--reason', 'again', '--json')).stdout);
  expect(again).toMatchObject({ outcome: 'ok', withdrawn: null, decisionId: null });
  expect((await pkgctl('abort', 'nonsense/a/b/c', '--reason', 'x', '--json')).code).toBe(2);
});

test('the next promotion on a stranded lane withdraws the leftover first, audited under the dead rollout', async () => {
  const deadRollout = await strandCanary(`${name}@1.6.2`);
  // A heal that fails before its record is written (here: an unreadable signing key) withdraws nothing either.
  const attempt = { lane, healer: 'failed-attempt', actor: 'ci', reason: 'attempt' };
  await expect(abandonLeftover({ pool, signingKeyPath: '/nonexistent/key.pem' }, attempt, 'x')).rejects.toThrow(
    /ENOENT/,
  );
  expect(await laneRow(pool, lane)).toMatchObject({ canary_percent: '50.00' });
  expect((await eventsOf(deadRollout)).filter((e) => e.event === 'rolled_back')).toEqual([]);

  const handle = await promote({ version: `${name}@1.6.3` });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  const healer = `${handle.workflowId}:${handle.firstExecutionRunId}`;
  const withdrawn = await pool.query<{ reason: string; details: { healedBy: string } }>(
    `SELECT reason, details FROM pkg_rollout_events WHERE rollout_id = $1 AND event = 'rolled_back'`,
    [deadRollout],
  );
  expect(withdrawn.rows).toEqual([{ reason: expect.stringContaining(healer), details: { healedBy: healer } }]);

  // The dead rollout's decision, once: aborted, naming the promotion that superseded it, with its own plan.
  const records = await pool.query<{ id: string; outcome: string; canonical: string }>(
    'SELECT id, outcome, canonical FROM pkg_decision_records WHERE rollout_id = $1',
    [deadRollout],
  );
  expect(records.rows.map((r) => r.outcome)).toEqual(['aborted']);
  const aborted = JSON.parse(records.rows[0]!.canonical);
  expect(aborted).toMatchObject({
    reason: expect.stringContaining(healer),
    snapshot: { version: `${name}@1.6.2` },
    plan: { bakeMs: 600_000 },
  });
  expect(aborted.events).toContainEqual(expect.objectContaining({ event: 'rolled_back', is_rollback: true }));
  // In the env's chain before the superseding promotion's own record, with no other record of this lane
  // between them (suites running beside this one add theirs to dev's chain); the whole chain verifies.
  const { rows: back } = await pool.query<{ id: string; rollout_id: string }>(
    `WITH RECURSIVE back AS (
       SELECT id, rollout_id, previous_id, 0 AS depth FROM pkg_decision_records WHERE id = $1
       UNION ALL
       SELECT r.id, r.rollout_id, r.previous_id, b.depth + 1
         FROM pkg_decision_records r JOIN back b ON r.id = b.previous_id WHERE b.depth < 200)
     SELECT id, rollout_id FROM back ORDER BY depth`,
    [result.decisionId],
  );
  const abortedAt = back.findIndex((record) => record.id === records.rows[0]!.id);
  expect(abortedAt).toBeGreaterThan(0);
  const ofThisLane = (record: { rollout_id: string }) => record.rollout_id.startsWith(`${rolloutWorkflowId(lane)}:`);
  expect(back.slice(1, abortedAt).filter(ofThisLane)).toEqual([]);
  const chain = await pkgctl('decision', 'verify', '--env', 'dev', '--json');
  expect(chain.code).toBe(0);
  expect(JSON.parse(chain.stdout)).toMatchObject({ ok: true, broken: null });
});

test('a wasm-only bundle (its own Rego, no rules.yaml) is validated on wasm alone and promoted', async () => {
  const version = `${name}@1.6.4`;
  const handle = await promote({ version, kind: 'wasm-only' });
  const result: PromotionResult = await handle.result();
  expect(result).toMatchObject({ outcome: 'promoted' });
  const run = await pool.query<{ report: { engines: Record<string, unknown>; passed: number } }>(
    `SELECT r.report FROM pkg_validation_runs r JOIN pkg_snapshots s ON s.id = r.snapshot_uuid WHERE s.version = $1`,
    [version],
  );
  expect(run.rows[0]!.report).toMatchObject({ passed: 2, engines: { wasm: { passed: 2, failed: 0 } } });
  expect(run.rows[0]!.report.engines).not.toHaveProperty('native');
  const reply = await evaluate(evaluators[1]!, { input: { tags: ['vip'] }, routing_key: 'guest:7' });
  expect(reply.body).toMatchObject({ ok: true, snapshot: version, meta: { engine: 'wasm' } });
});

test('consecutive_passes 2 in the bundle: each step passes two reads in a row over adjoining windows', async () => {
  const rollout = 'rollout:\n  gates: { consecutive_passes: 2 }';
  const handle = await promote({ version: `${name}@1.6.5`, rollout });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('promoted');
  for (const step of [0, 1]) {
    // A busy machine may need an extension first; the step ends on two passes in a row.
    const [first, second] = result.verdicts.filter((v) => v.step === step).slice(-2);
    expect([first!.verdict, second!.verdict]).toEqual(['pass', 'pass']);
    expect(second!.window!.fromMs).toBe(first!.window!.toMs);
    expect(second!.window!.toMs).toBeGreaterThan(second!.window!.fromMs);
  }
  await saveHistory(handle, 'promoted-consecutive-passes');
});

test('a bundle whose fixtures fail is rejected and the lane is untouched', async () => {
  const before = await laneRow(pool, lane);
  const handle = await promote({ version: `${name}@1.7.0`, kind: 'failing-fixtures' });
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toBe('1/1 fixtures failed');
  expect(await laneRow(pool, lane)).toEqual(before);
  await saveHistory(handle, 'rejected-fixtures');
});

test('a bundle that loosens a gate is refused by the client and by the workflow before compile', async () => {
  const spec = {
    version: `${name}@1.8.0`,
    env: 'dev' as const,
    rollout: 'rollout:\n  gates: { max_error_rate: 0.5, min_requests: 5 }',
  };
  const local = await uploadSpec(pool, spec).catch((error: PkgError) => error);
  expect(local).toBeInstanceOf(PkgError);
  expect((local as PkgError).type).toBe('GateConfigLoosened');
  expect((local as PkgError).problems.map((p) => p.path).sort()).toEqual([
    'rollout.gates.max_error_rate',
    'rollout.gates.min_requests',
  ]);

  const digest = await uploadUnchecked(pool, spec);
  const handle = await startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane, overrides: fast, actor: 'ci' },
    spec.version,
  );
  const result: PromotionResult = await handle.result();
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toMatch(/^GateConfigLoosened: .*max_error_rate/s);
  const stored = await pool.query('SELECT 1 FROM pkg_snapshots WHERE version = $1', [spec.version]);
  expect(stored.rowCount).toBe(0);
  await saveHistory(handle, 'rejected-loosened');
});

test('a lane with no live evaluator is rejected at once, the hint naming the lanes that have one', async () => {
  const empty = randomLane('dev');
  const version = `${name}@1.9.0`;
  const digest = await uploadSpec(pool, { version, env: 'dev' }, fast);
  const started = Date.now();
  const handle = await startPromotion(
    env.client,
    pipeline.worker.options.taskQueue,
    { digest, lane: empty, overrides: fast, actor: 'ci' },
    version,
  );
  const result: PromotionResult = await handle.result();
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(result.outcome).toBe('rejected');
  expect(result.reason).toContain(`NoEvaluators: lane ${laneName(empty)} has no live evaluator`);
  expect(result.reason).toContain(`${laneName(lane)} (2)`);
  expect(result.reason).toMatch(/EVALUATOR_ENV, EVALUATOR_TARGET and EVALUATOR_REGION/);
  expect(await laneRow(pool, empty)).toBeNull();
  const stored = await pool.query('SELECT 1 FROM pkg_snapshots WHERE version = $1', [version]);
  expect(stored.rowCount).toBe(0);
});

test('revert goes back only to a stable of this lane, after its fixtures, with a decision record in the chain', async () => {
  await assertLaneIdle(env.client, lane);
  const deps = { pool };
  const request = { lane, actor: 'oncall', reason: 'back to the known good', force: false };
  // Rolled back (1.2.0) and rejected (1.7.0) snapshots were never this lane's stable.
  for (const version of [`${name}@1.2.0`, `${name}@1.7.0`]) {
    const refused = await revert(deps, { ...request, version }).catch((error: PkgError) => error);
    expect(refused).toMatchObject({ type: 'ActionRefused', message: expect.stringContaining(`${name}@1.0.0`) });
  }
  // Forced past that rule, the rejected one still fails its fixtures, and nothing changes.
  const before = await laneRow(pool, lane);
  const forced = await revert(deps, { ...request, version: `${name}@1.7.0`, force: true }).catch((e: PkgError) => e);
  expect(forced).toMatchObject({ type: 'FixturesFailed' });
  expect(await laneRow(pool, lane)).toEqual(before);

  // A stable whose rows changed since compile is refused as its evaluators would refuse it.
  const { rows: stable } = await pool.query<{ id: string }>('SELECT id FROM pkg_snapshots WHERE version = $1', [
    `${name}@1.0.0`,
  ]);
  const restore = await tamperRuleCondition(pool, stable[0]!.id);
  try {
    const tampered = await revert(deps, { ...request, version: `${name}@1.0.0` }).catch((e: PkgError) => e);
    expect(tampered).toMatchObject({ type: 'ChecksumMismatch', reason: 'rules_mismatch' });
    expect(await laneRow(pool, lane)).toEqual(before);
  } finally {
    await restore();
  }

  const result = await revert(deps, { ...request, version: `${name}@1.0.0` });
  expect(result.validation).toEqual({ passed: 2, failed: 0 });
  expect(await versionOf(pool, (await laneRow(pool, lane))!.snapshot_id)).toBe(`${name}@1.0.0`);
  const { rows } = await pool.query(
    'SELECT action, actor, reason, target, region FROM pkg_promotions WHERE idempotency_key = $1',
    [result.revertId],
  );
  expect(rows).toEqual([
    { action: 'revert', actor: 'oncall', reason: 'back to the known good', target: lane.target, region: lane.region },
  ]);
  const served = await waitFor(
    async () => {
      const reply = await evaluate(evaluators[1]!, { input: { tags: ['vip'] }, routing_key: 'guest:1' });
      return reply.body.snapshot === `${name}@1.0.0` ? reply : null;
    },
    20_000,
    'the evaluators to serve the reverted version',
  );
  expect(served.body.ok).toBe(true);
  const record = await pool.query<{ outcome: string; rollout_id: string }>(
    'SELECT outcome, rollout_id FROM pkg_decision_records WHERE id = $1',
    [result.decisionId],
  );
  expect(record.rows).toEqual([{ outcome: 'reverted', rollout_id: result.revertId }]);
  expect(await verifyStoredDecision(pool, result.decisionId)).toMatchObject({ ok: true });
  const history = await envHistory(pool, 'dev', 500);
  expect(history.filter((e) => e.id === result.decisionId)).toEqual([
    expect.objectContaining({ kind: 'decision', outcome: 'reverted', version: `${name}@1.0.0` }),
  ]);
});
