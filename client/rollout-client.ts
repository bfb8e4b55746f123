import { userInfo } from 'node:os';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { Config } from '../policy/config';
import { PkgError } from '../policy/errors';
import type { RolloutStatus } from '../policy/rollout/status';
import {
  rolloutWorkflowId,
  searchAttributeKeys,
  statusQuery,
  type PromotionInput,
  type PromotionResult,
} from '../workflows/definitions';
import type * as workflows from '../workflows';
import { laneName, type Lane } from '../policy/lane';
import { ServiceUnavailable } from './session';
import { PIPELINE_WORKER, taskQueuePresence } from './task-queues';

/** Typed client of the promotion workflow, used by pkgctl, tests and benchmarks. */
export function defaultActor(): string {
  return process.env.PKG_ACTOR ?? process.env.GITHUB_ACTOR ?? process.env.USER ?? userInfo().username;
}

export function workflowLink(config: Config, workflowId: string, runId?: string): string {
  const base = `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}/history` : base;
}

/**
 * The worker registers each export of workflows/ under its name. A type-only import checks that
 * name and the workflow's argument and result types without loading workflow code into pkgctl.
 */
const PROMOTION_WORKFLOW = 'promotion' satisfies keyof typeof workflows;
type Promotion = (typeof workflows)[typeof PROMOTION_WORKFLOW];

/** Starts the lane's rollout; a running one on the same lane makes this fail with LaneBusy naming it. */
export async function startPromotion(
  client: Client,
  taskQueue: string,
  input: PromotionInput,
  version: string,
): Promise<WorkflowHandleWithFirstExecutionRunId<Promotion>> {
  const workflowId = rolloutWorkflowId(input.lane);
  try {
    return await client.workflow.start<Promotion>(PROMOTION_WORKFLOW, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      staticSummary: `promote ${version} on ${laneName(input.lane)}`,
      typedSearchAttributes: [
        { key: searchAttributeKeys.version, value: version },
        { key: searchAttributeKeys.env, value: input.lane.env },
        { key: searchAttributeKeys.lane, value: laneName(input.lane) },
        { key: searchAttributeKeys.stage, value: 'compiling' },
        { key: searchAttributeKeys.percent, value: 0 },
      ],
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    throw new PkgError(
      'LaneBusy',
      `lane ${laneName(input.lane)} is busy: ${await describeRunning(client, workflowId)}`,
    );
  }
}

async function describeRunning(client: Client, workflowId: string): Promise<string> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const attrs = description.typedSearchAttributes;
  const version = attrs.get(searchAttributeKeys.version) ?? '?';
  const stage = attrs.get(searchAttributeKeys.stage) ?? '?';
  const percent = attrs.get(searchAttributeKeys.percent) ?? 0;
  return `workflow ${workflowId} (run ${description.runId}) is promoting ${version}, stage ${stage} at ${percent}%`;
}

/** Refuses when a rollout is running on the lane (revert or abort must not race a ramp): it has its own rollback. */
export async function assertLaneIdle(client: Client, lane: Lane): Promise<void> {
  const workflowId = rolloutWorkflowId(lane);
  const description = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => null);
  if (description?.status.name === 'RUNNING') {
    const running = await describeRunning(client, workflowId);
    throw new PkgError('LaneBusy', `lane ${laneName(lane)} is busy: ${running}; use pkgctl rollback ${workflowId}`);
  }
}

/** How long a status query may take before pkgctl asks whether any worker is there to answer it. */
const QUERY_PATIENCE_MS = 1000;

/**
 * A query is answered by a worker running the workflow's code, even for a closed workflow; with none
 * polling, Temporal fails it only after its own timeout (30 s) as "Failed to query Workflow". A
 * query that is slow to answer is so checked, and fails at once naming who is missing; the usual
 * answer in milliseconds costs nothing more (asking first cost the API's status reads a quarter of
 * their throughput).
 */
export async function rolloutStatus(client: Client, workflowId: string): Promise<RolloutStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const answer = handle.query(statusQuery);
  let timer: NodeJS.Timeout | undefined;
  const unanswerable = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void assertWorkerPolls(client, handle, true).catch(reject), QUERY_PATIENCE_MS);
  });
  try {
    return await Promise.race([answer, unanswerable]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The handle of a rollout to send an Update to, once a worker is there to take it: sent to a running
 * workflow nobody runs, an Update waits until a worker comes, and would then apply long after the
 * operator was told it failed. A closed workflow refuses an Update itself.
 */
export async function updatableHandle(client: Client, workflowId: string) {
  const handle = client.workflow.getHandle(workflowId);
  await assertWorkerPolls(client, handle, false);
  return handle;
}

async function assertWorkerPolls(client: Client, handle: WorkflowHandle, closedToo: boolean): Promise<void> {
  const { taskQueue, status } = await handle.describe();
  if (!closedToo && status.name !== 'RUNNING') return;
  const duty = { queue: taskQueue, tasks: 'workflow', servedBy: PIPELINE_WORKER } as const;
  const [queue] = await taskQueuePresence(client, client.options.namespace, [duty]);
  if (queue!.pollers > 0) return;
  throw new ServiceUnavailable(
    PIPELINE_WORKER,
    new Error(
      `nobody has polled task queue ${taskQueue} for workflow tasks lately, and only a worker polling it can run ${handle.workflowId}`,
    ),
  );
}

/** Polls the status query, reporting each new message, until the workflow closes. */
export async function waitForOutcome(
  handle: WorkflowHandle<Promotion>,
  onProgress: (status: RolloutStatus) => void,
  pollMs = 1000,
): Promise<PromotionResult> {
  const result = handle.result();
  let done = false;
  void result.finally(() => (done = true)).catch(() => undefined);
  let last = '';
  while (!done) {
    const status = await handle.query(statusQuery).catch(() => null);
    const line = status ? `${status.stage} ${status.percent}%: ${status.message}` : '';
    if (status && line !== last) onProgress(status);
    last = line || last;
    await Promise.race([result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, pollMs))]);
  }
  return result;
}

/**
 * Who started a rollout: the actor of its input, read from the first event of its history, so it
 * is what the workflow itself was given (the API puts the verified identity there).
 */
export async function rolloutStarter(client: Client, workflowId: string): Promise<string | null> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return null;
  const input = client.options.loadedDataConverter.payloadConverter.fromPayload<Partial<PromotionInput>>(payload);
  return typeof input?.actor === 'string' ? input.actor : null;
}
