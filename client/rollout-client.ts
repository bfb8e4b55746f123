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

export async function rolloutStatus(client: Client, workflowId: string): Promise<RolloutStatus> {
  return client.workflow.getHandle(workflowId).query(statusQuery);
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
