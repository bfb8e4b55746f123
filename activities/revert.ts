import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { PkgError } from '../policy/errors';
import { validateSnapshot } from '../policy/bundle/validation';
import { REASONS } from '../policy/rollout/reasons';
import type { Lane } from '../policy/lane';
import { createDecisionActivities } from './decisions';
import { revertLane, revertTarget } from './store/lane-revert';
import { artifactsOf, readSnapshot } from './store/snapshot-read';
import { insertValidationRun } from './store/validation-runs';
import { signingPolicyFromConfig } from './signing-policy';
import { loadConfig } from '../policy/config';
import type { SigningPolicy } from '../policy/bundle/signing';
import { verifySnapshotIntegrity } from '../policy/integrity/seal';

/**
 * A revert (ARCHITECTURE.md §9) bypasses the ramp but not the checks: only to a snapshot the lane
 * served as stable before (unless forced, with a reason) that still verifies as evaluators would
 * load it (§10), after its fixtures pass again on its engines, and with a decision record in the
 * env's chain like any rollout's.
 */
export interface RevertRequest {
  lane: Lane;
  version: string;
  actor: string;
  /** Set by the control-plane API only, for the identity it verified; pkgctl without the API is unverified. */
  actorVerified?: boolean;
  reason: string;
  force: boolean;
}

export interface RevertResult {
  revertId: string;
  version: string;
  snapshotId: string;
  previous: { snapshotId: string; version: string } | null;
  validation: { passed: number; failed: number };
  decisionId: string;
}

export async function revert(
  deps: { pool: Pool; signingKeyPath?: string; signing?: SigningPolicy },
  request: RevertRequest,
): Promise<RevertResult> {
  const { pool } = deps;
  const { lane, version, actor, reason, force } = request;
  const actorVerified = request.actorVerified ?? false;
  const revertId = `revert:${randomUUID()}`;
  const snapshot = await revertTarget(pool, lane, version, force);
  const stored = await readSnapshot(pool, { id: snapshot.snapshotId });
  // Moving the lane to a snapshot its evaluators would refuse would leave them on the old one.
  verifySnapshotIntegrity(stored.sealed, deps.signing ?? signingPolicyFromConfig(loadConfig()));
  const report = await validateSnapshot(stored.compiled, artifactsOf(stored), stored.fixtures);
  const runKey = `${revertId}:fixtures`;
  await insertValidationRun(pool, {
    snapshotId: snapshot.snapshotId,
    runKey,
    engine: stored.compiled.engine,
    ...report,
    report,
    actor,
    actorVerified,
  });
  if (report.failed > 0) {
    throw new PkgError(
      'FixturesFailed',
      `${version} cannot be reverted to: ${REASONS.fixturesFailed(report.failed, report.passed + report.failed)}`,
    );
  }
  const previous = await revertLane(pool, { revertId, lane, snapshot, actor, actorVerified, reason, forced: force });
  const validation = { passed: report.passed, failed: report.failed };
  const decisionId = await createDecisionActivities(deps).writeDecisionRecord({
    rolloutId: revertId,
    lane,
    outcome: 'reverted',
    reason: force ? `forced revert by ${actor}: ${reason}` : `reverted by ${actor}: ${reason}`,
    snapshot,
    baseline: previous,
    validation,
    verdicts: [],
    actor,
    actorVerified,
  });
  return { revertId, version, snapshotId: snapshot.snapshotId, previous, validation, decisionId };
}
