import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { RolloutPlan } from '../../activities/gate';
import type { createPipelineActivities } from '../../activities/index';
import type { ValidationReport } from '../../policy/bundle/validation';
import type { ReplayInput } from '../../activities/replay';
import type { ImpactReport } from '../../policy/rollout/impact';
import type { RolloutEvent } from '../../activities/store/audit';
import { temporal } from '@temporalio/proto';
import { EVALUATOR_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../../policy/constants';
import type { ErrorType } from '../../policy/errors';
import type { StepVerdict, Verdict } from '../../policy/rollout/gates';
import type { RolloutStatus } from '../../policy/rollout/status';
import { statusQuery, type PromotionInput } from '../../workflows/definitions';
import type { promotion } from '../../workflows/promotion';
import { WORKFLOW_BUNDLE_PATH } from '../global-setup';

/**
 * The promotion workflow alone: Temporal's time-skipping test server, the real workflow bundle and
 * fake activities with canned answers that record every call. A 2-minute bake takes no time.
 * Tests of one file share one server and run one after another: the evaluator activities listen
 * on the fixed pkg-evaluator queue, which two tests at once would share.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });
const { IndexedValueType } = temporal.api.enums.v1;

export const TEST_SERVER =
  process.env.TEMPORAL_TEST_SERVER ?? path.join(__dirname, '..', '..', '.tools', 'bin', 'temporal-test-server');

/** A test server with the workflow's search attributes registered, as scripts/services.sh does for the dev server. */
export async function createTestServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: TEST_SERVER } },
  });
  const { KEYWORD, INT } = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  };
  const { version, env: envName, lane: laneName, stage, percent } = SEARCH_ATTRIBUTES;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: { [version]: KEYWORD, [envName]: KEYWORD, [laneName]: KEYWORD, [stage]: KEYWORD, [percent]: INT },
  });
  return env;
}

type PipelineActivities = ReturnType<typeof createPipelineActivities>;
type Fakes = Pick<
  PipelineActivities,
  | 'planRollout'
  | 'compileBundle'
  | 'recordRolloutEvent'
  | 'recordRolloutEvents'
  | 'setLaneStep'
  | 'awaitCoverage'
  | 'judgeLaneStep'
  | 'promoteCandidate'
  | 'rollbackLane'
  | 'withdrawLeftover'
  | 'writeDecisionRecord'
  | 'callRolloutWebhook'
  | 'verifyOperator'
  | 'verifyStarter'
> & {
  runSnapshotFixtures: (input: { snapshotId: string; runKey: string }) => Promise<ValidationReport>;
  replayDecisions: (input: ReplayInput) => Promise<ImpactReport>;
};

export const lane = { env: 'dev', target: 'web', region: 'eu' } as const;

export function plan(changes: Partial<RolloutPlan> = {}): RolloutPlan {
  return {
    version: 'rules@1.0.0',
    steps: [10, 50, 100],
    bakeMs: 120_000,
    coverageTimeoutMs: 30_000,
    approveAt: [],
    approvalSteps: [],
    gates: {
      minRequests: 200,
      coverage: 1,
      minBakeMs: 0,
      maxErrorRate: 0.01,
      maxDivergence: 0.25,
      p99Factor: 1.25,
      p99SlackMs: 2,
      maxP99Ms: 1000,
      maxExtensions: 2,
      alpha: 0.05,
      maxLatencyEffect: 0.64,
      maxLatencyExcess: 0.2,
      latencySlackMs: 2,
      consecutivePasses: 1,
    },
    analysis: [],
    webhooks: [],
    replay: { maxDivergence: 1, minDecisions: 100, windowMs: 86_400_000, limit: 100_000, onInsufficient: 'skip' },
    ...changes,
  };
}

export function verdictOf(verdict: Verdict, step: number, percent: number): StepVerdict {
  return {
    step,
    stepCount: 3,
    percent,
    verdict,
    baseline: 'compared',
    checks: [],
    message: `step ${step + 1} ${verdict}`,
  };
}

/** A replay of `decisions` logged decisions of which `changed` came out differently. */
export function impactReport(decisions: number, changed: number): ImpactReport {
  return {
    candidateVersion: 'rules@1.0.0',
    baselineVersion: 'rules@0.9.0',
    decisions,
    changed,
    skipped: 0,
    rules: changed > 0 ? [{ name: 'vip_escalation', added: 0, removed: changed }] : [],
    subtasks: [],
    examples: [],
  };
}

export const refused = (type: ErrorType, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true });

/** Every call each fake received, in order, with its input. */
export type Calls = { name: string; input: unknown }[];

export function fakeActivities(overrides: Partial<Fakes> = {}): { fakes: Fakes; calls: Calls } {
  const calls: Calls = [];
  const defaults: Fakes = {
    planRollout: async () => plan(),
    compileBundle: async () => ({
      snapshotId: 'snap-1',
      version: 'rules@1.0.0',
      env: 'dev',
      checksum: 'sum-1',
      created: true,
      rollout: null,
      fixtureCount: 2,
    }),
    runSnapshotFixtures: async () => ({
      passed: 2,
      failed: 0,
      results: [],
      engines: { native: { passed: 2, failed: 0 }, wasm: { passed: 2, failed: 0 } },
    }),
    replayDecisions: async () => impactReport(0, 0),
    recordRolloutEvent: async () => undefined,
    recordRolloutEvents: async () => undefined,
    setLaneStep: async () => ({ snapshotId: 'snap-0', version: 'rules@0.9.0' }),
    awaitCoverage: async () => ({ evaluators: 2, serving: 2, reached: true, atMs: 0 }),
    judgeLaneStep: async (input) => verdictOf('pass', input.step, input.percent),
    promoteCandidate: async () => undefined,
    rollbackLane: async () => undefined,
    withdrawLeftover: async () => null,
    writeDecisionRecord: async () => 'decision-1',
    callRolloutWebhook: async () => ({ status: 200 }),
    verifyOperator: async () => null,
    verifyStarter: async () => null,
  };
  const fakes = Object.fromEntries(
    Object.entries({ ...defaults, ...overrides }).map(([name, fake]) => [
      name,
      (input: unknown) => {
        calls.push({ name, input });
        return (fake as (input: unknown) => Promise<unknown>)(input);
      },
    ]),
  ) as unknown as Fakes;
  return { fakes, calls };
}

export const callsTo = (calls: Calls, name: string) => calls.filter((call) => call.name === name);

/** The audit rows the workflow wrote, in the order written: each recordRolloutEvent's, each of a recordRolloutEvents group. */
export const auditRows = (calls: Calls): RolloutEvent[] =>
  calls.flatMap((call) => {
    if (call.name === 'recordRolloutEvent') return [call.input as RolloutEvent];
    return call.name === 'recordRolloutEvents' ? (call.input as RolloutEvent[]) : [];
  });

export interface PromotionTestEnv {
  env: TestWorkflowEnvironment;
  /**
   * Runs `work` against a started promotion while a pipeline worker on its own queue serves the fakes;
   * `input` changes the promotion's input (actor ci, no verification).
   */
  withPromotion<T>(
    fakes: Fakes,
    work: (handle: WorkflowHandle<typeof promotion>) => Promise<T>,
    input?: Partial<PromotionInput>,
  ): Promise<T>;
  teardown(): Promise<void>;
}

/**
 * One test server per file, and one evaluator worker for all its tests: the workflow sends fixture
 * runs to the fixed pkg-evaluator queue, and a worker per test would still be draining its polls
 * when the next one registers. That worker hands each run to the current test's fake.
 */
export async function createPromotionEnv(): Promise<PromotionTestEnv> {
  const env = await createTestServer();
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
  const idle = () => Promise.reject(new Error('no test is running'));
  let fixtures: Fakes['runSnapshotFixtures'] = idle;
  let replays: Fakes['replayDecisions'] = idle;
  const evaluatorWorker = await Worker.create({
    ...common,
    taskQueue: EVALUATOR_TASK_QUEUE,
    activities: {
      runSnapshotFixtures: (input: { snapshotId: string; runKey: string }) => fixtures(input),
      replayDecisions: (input: ReplayInput) => replays(input),
    },
  });
  const evaluating = evaluatorWorker.run();
  return {
    env,
    async withPromotion(fakes, work, input = {}) {
      const taskQueue = `wf-${randomUUID()}`;
      const { runSnapshotFixtures, replayDecisions, ...pipeline } = fakes;
      fixtures = runSnapshotFixtures;
      replays = replayDecisions;
      const worker = await Worker.create({
        ...common,
        taskQueue,
        workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
        activities: pipeline,
      });
      return worker.runUntil(async () => {
        const handle = await env.client.workflow.start<typeof promotion>('promotion', {
          taskQueue,
          workflowId: `rollout-test-${randomUUID()}`,
          args: [{ digest: 'digest-1', lane, actor: 'ci', ...input }],
        });
        return work(handle);
      });
    },
    async teardown() {
      evaluatorWorker.shutdown();
      await evaluating;
      await env.teardown();
    },
  };
}

/** Holds a fake until the test releases it; `reached` resolves once the workflow got there. */
export function latch() {
  let release!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  return {
    reached,
    release,
    async pass(): Promise<void> {
      arrive();
      await opened;
    },
  };
}

/** Polls the status query (real time: queries do not skip time) until `ready` holds. */
export async function statusWhen(
  handle: WorkflowHandle<typeof promotion>,
  ready: (status: RolloutStatus) => boolean,
): Promise<RolloutStatus> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const status = await handle.query(statusQuery);
    if (ready(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(await handle.query(statusQuery))}`);
}
