import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import {
  canonicalDecision,
  decisionId,
  narrateDecision,
  signDecision,
  type DecisionRecord,
  type Outcome,
} from '../policy/rollout/decision-record';
import type { StepVerdict } from '../policy/rollout/gates';
import type { BaselineRef, SnapshotRef } from './store/deployments';
import { appendDecision, type DecisionChainLink, type NewDecisionRow } from './store/decisions';
import type { Lane } from '../policy/lane';
import type { ReplayVerdict } from '../policy/rollout/impact';

/**
 * Writes the decision record of a finished rollout: once per rollout (rollout_id is unique), linked
 * to the env's previous record under an advisory lock so the chain stays linear.
 */
export interface DecisionInput {
  rolloutId: string;
  lane: Lane;
  outcome: Outcome;
  reason: string;
  snapshot: SnapshotRef | null;
  baseline: BaselineRef | null;
  validation: { passed: number; failed: number } | null;
  verdicts: StepVerdict[];
  /** The replay stage's verdict; absent for rollouts without one. */
  replay?: ReplayVerdict | null;
  /** Who started the rollout (revert, abort); absent in histories recorded before identities. */
  actor?: string;
  /** Whether the API verified that actor. */
  actorVerified?: boolean;
}

export interface DecisionDeps {
  pool: Pool;
  /** PEM of an Ed25519 private key; records are unsigned without it. */
  signingKeyPath?: string;
  now?: () => Date;
}

async function writeDecisionRecord(deps: DecisionDeps, input: DecisionInput): Promise<string> {
  return appendDecision(deps.pool, input.lane.env, input.rolloutId, decisionComposer(deps, input));
}

/** Composes the record and its row once the chain's head, the events and the plan are known. */
export function decisionComposer(
  deps: Omit<DecisionDeps, 'pool'>,
  input: DecisionInput,
): (link: DecisionChainLink) => NewDecisionRow {
  const signingKey = deps.signingKeyPath ? readFileSync(deps.signingKeyPath, 'utf8') : null;
  return (link) => {
    const record = decisionRecordOf(input, link, deps.now?.() ?? new Date());
    const canonical = canonicalDecision(record);
    return {
      id: decisionId(canonical),
      snapshotId: input.snapshot?.snapshotId ?? null,
      outcome: input.outcome,
      canonical,
      signature: signingKey ? signDecision(canonical, signingKey) : null,
      narrative: narrateDecision(record),
      actor: input.actor ?? null,
      actorVerified: input.actorVerified ?? null,
    };
  };
}

function decisionRecordOf(
  input: DecisionInput,
  { previousId, events, plan }: DecisionChainLink,
  decidedAt: Date,
): DecisionRecord {
  return {
    schema: 1,
    env: input.lane.env,
    lane: input.lane,
    rollout_id: input.rolloutId,
    outcome: input.outcome,
    reason: input.reason,
    snapshot: input.snapshot && {
      id: input.snapshot.snapshotId,
      version: input.snapshot.version,
      checksum: input.snapshot.checksum,
    },
    previous_snapshot: input.baseline && { id: input.baseline.snapshotId, version: input.baseline.version },
    validation: input.validation,
    verdicts: input.verdicts,
    ...(input.replay ? { replay: input.replay } : {}),
    events,
    actors: [...new Set(events.map((e) => e.actor))].sort(),
    previous_id: previousId,
    decided_at: decidedAt.toISOString(),
    ...(plan ? { plan: plan.plan, merge_receipt: plan.merge_receipt } : {}),
  };
}

export function createDecisionActivities(deps: DecisionDeps) {
  return {
    writeDecisionRecord: (input: DecisionInput) => writeDecisionRecord(deps, input),
  };
}
