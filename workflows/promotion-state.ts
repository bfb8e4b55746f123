import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { BaselineRef, SnapshotRef } from '../activities/store/deployments';
import { laneName, type Lane } from '../policy/lane';
import {
  currentDetails,
  describeRollout,
  holdOf,
  initialFacts,
  type HoldKind,
  type OperatorRequest,
  type RolloutFacts,
  type Stage,
} from '../policy/rollout/status';
import type { Webhook } from '../policy/rollout/webhooks';
import { searchAttributeKeys, type PromotionInput } from './definitions';

/**
 * Workflow time. Temporal runs workflow code with a clock that replays the time of each workflow
 * task, so reading it here is deterministic; this is the one place in workflows/ that does.
 */
function workflowNow(): string {
  // eslint-disable-next-line no-restricted-properties -- deterministic inside the workflow sandbox, see above
  return new Date(Date.now()).toISOString();
}

/**
 * Who started the rollout, as its audit rows name it: the identity the API verified, or the input's
 * actor unverified. `verified` is absent in histories recorded before the patch 'verified-starter'.
 */
export interface Starter {
  actor: string;
  verified?: boolean;
}

/** One promotion run: its audit key prefix, its input, who started it and its state. */
export interface Run {
  rolloutId: string;
  input: PromotionInput;
  starter: Starter;
  state: RolloutState;
  /** The plan's webhooks once planned; none in histories recorded before webhooks existed. */
  webhooks: readonly Webhook[];
}

/** What a decision record needs to know, learned stage by stage. */
export interface Evidence {
  candidate: SnapshotRef | null;
  baseline: BaselineRef | null;
  validation: { passed: number; failed: number } | null;
}

/**
 * The promotion's stored facts plus what operators asked for (pause, approvals, rollback). Every
 * stage change goes through enter(), the one place that updates the Temporal UI: search
 * attributes and current details.
 */
export class RolloutState {
  readonly facts: RolloutFacts;
  readonly evidence: Evidence = { candidate: null, baseline: null, validation: null };
  /** An operator's rollback, with whether the API verified who sent it (absent before identities). */
  rollbackRequest: (OperatorRequest & { verified?: boolean }) | null = null;
  approvalSteps: number[] = [];
  /** Resume and approve need an identity the API verified (the plan's verifiedIdentity). */
  verifiedIdentity = false;
  private readonly approvals = new Set<number>();

  constructor(readonly lane: Lane) {
    this.facts = initialFacts(lane);
  }

  enter(stage: Stage, changes: Partial<RolloutFacts> = {}): void {
    Object.assign(this.facts, changes, { stage });
    this.publish();
  }

  publish(): void {
    const { version, percent, stage } = this.facts;
    upsertSearchAttributes([
      { key: searchAttributeKeys.env, value: this.lane.env },
      { key: searchAttributeKeys.lane, value: laneName(this.lane) },
      { key: searchAttributeKeys.stage, value: stage },
      { key: searchAttributeKeys.percent, value: Math.round(percent) },
      ...(version ? [{ key: searchAttributeKeys.version, value: version }] : []),
    ]);
    setCurrentDetails(currentDetails(describeRollout(this.facts)));
  }

  /** Starts a hold of this kind (replacing one of the same kind); the caller publishes. */
  hold(kind: HoldKind, reason: string, actor: string | null): void {
    this.release(kind);
    this.facts.holds.push({ kind, reason, actor, since: workflowNow() });
  }

  release(kind: HoldKind): void {
    this.facts.holds = this.facts.holds.filter((hold) => hold.kind !== kind);
  }

  isHeld(kind: HoldKind): boolean {
    return holdOf(this.facts, kind) !== undefined;
  }

  /** Approves the step waiting now (actionRefusal has checked that one waits); returns its index. */
  approveWaiting(): number {
    this.approvals.add(this.facts.stepIndex);
    return this.facts.stepIndex;
  }

  needsApproval(step: number): boolean {
    return this.approvalSteps.includes(step) && !this.approvals.has(step);
  }

  get stopping(): boolean {
    return this.rollbackRequest !== null;
  }
}
