import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { snapshotIdOfVersion } from '../activities/store/snapshot-read';
import { unpackBundle } from '../policy/bundle/pack';
import type { Config } from '../policy/config';
import { laneName, type Lane } from '../policy/lane';
import type { ImpactReport } from '../policy/rollout/impact';
import type * as workflows from '../workflows';
import type { ImpactInput } from '../workflows/impact';
import { prepareFiles, uploadBundle } from './bundle-upload';
import { workflowLink } from './rollout-client';

/**
 * `pkgctl impact` (README "Impact analysis"): replays a lane's logged decisions on a candidate and on
 * what the lane serves now, on the evaluator pool, and reports what would change. Nothing is deployed;
 * a bundle is checked, uploaded and compiled like a promotion's (so its version is then taken).
 */
export interface ImpactRequest {
  lane: Lane;
  /** The bundle in the upload format of policy/bundle/pack.ts, or a stored version. */
  bundle: { packed: Buffer } | { version: string };
  windowMs: number;
  limit: number;
  maxExamples: number;
  actor: string;
}

export interface ImpactResult extends ImpactReport {
  workflowId: string;
  url: string;
}

const IMPACT_WORKFLOW = 'impactAnalysis' satisfies keyof typeof workflows;
type Impact = (typeof workflows)[typeof IMPACT_WORKFLOW];

export async function runImpact(
  { config, pool, client }: { config: Config; pool: Pool; client: Client },
  request: ImpactRequest,
): Promise<ImpactResult> {
  const { lane } = request;
  const { candidate, version } = await candidateOf(pool, request);
  const input: ImpactInput = {
    lane,
    bundle: candidate,
    windowMs: request.windowMs,
    limit: request.limit,
    maxExamples: request.maxExamples,
    actor: request.actor,
  };
  const workflowId = `impact-${laneName(lane)}-${randomUUID()}`;
  const handle = await client.workflow.start<Impact>(IMPACT_WORKFLOW, {
    taskQueue: config.PIPELINE_TASK_QUEUE,
    workflowId,
    args: [input],
    staticSummary: `impact of ${version} on ${laneName(lane)}`,
  });
  return { ...(await handle.result()), workflowId, url: workflowLink(config, workflowId) };
}

/** A bundle is checked for the lane's env and uploaded first; a stored version is taken as it is. */
async function candidateOf(pool: Pool, { bundle, lane, actor }: ImpactRequest) {
  if ('version' in bundle) {
    // Refused here, before a workflow waits on a version that is not there.
    await snapshotIdOfVersion(pool, bundle.version);
    return { candidate: { version: bundle.version }, version: bundle.version };
  }
  const prepared = prepareFiles(unpackBundle(bundle.packed), lane.env, {}, 'bundle');
  await uploadBundle(pool, prepared, actor);
  return { candidate: { digest: prepared.digest }, version: prepared.bundle.manifest.version };
}
