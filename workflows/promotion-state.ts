import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import {
  currentDetails,
  describeRollout,
  initialFacts,
  type Hold,
  type RolloutFacts,
  type Stage,
} from '../policy/rollout/status';
import { laneName, type Lane } from '../policy/lane';
import { searchAttributeKeys } from './definitions';

/**
 * The promotion's stored facts plus what operators asked for (pause, approvals, rollback). Every
 * stage change goes through enter(), the one place that updates the Temporal UI: search
 * attributes and current details.
 */
export class RolloutState {
  readonly facts: RolloutFacts;
  rollbackRequest: Hold | null = null;
  private readonly approvals = new Set<number>();
  approvalSteps: number[] = [];

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

  /** An approve signal approves the step waiting now, or else the next step that will wait. */
  approveNext(): number | null {
    const next = this.approvalSteps.find((i) => i >= Math.max(this.facts.stepIndex, 0) && !this.approvals.has(i));
    if (next === undefined) return null;
    this.approvals.add(next);
    return next;
  }

  needsApproval(step: number): boolean {
    return this.approvalSteps.includes(step) && !this.approvals.has(step);
  }

  get stopping(): boolean {
    return this.rollbackRequest !== null;
  }
}
