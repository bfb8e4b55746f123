import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import { ROLLOUT_WORKFLOW_ID_PREFIX, SEARCH_ATTRIBUTES } from '../policy/constants';
import type { StepVerdict } from '../policy/rollout/gates';
import type { RolloutOverrides } from '../policy/rollout/config';
import type { RolloutStatus } from '../policy/rollout/status';
import { laneName, type Lane } from '../policy/lane';

/** Shared by the promotion workflow, pkgctl and tests: names and payloads of its messages. */
export interface PromotionInput {
  /** sha256 of the packed bundle bytes in pkg_bundles. */
  digest: string;
  lane: Lane;
  /** The command line's rollout layer (--steps, --bake); it may only tighten like the bundle's. */
  overrides?: RolloutOverrides;
  actor: string;
}

export type PromotionOutcome = 'promoted' | 'rolled_back' | 'rejected';

export interface PromotionResult {
  outcome: PromotionOutcome;
  version: string | null;
  reason: string;
  verdicts: StepVerdict[];
  decisionId: string | null;
}

export interface PauseSignal {
  actor: string;
  reason?: string;
}
export interface ResumeSignal {
  actor: string;
}
export interface RollbackSignal {
  actor: string;
  reason?: string;
}
export interface ApproveSignal {
  actor: string;
}

export const pauseSignal = defineSignal<[PauseSignal]>('pause');
export const resumeSignal = defineSignal<[ResumeSignal]>('resume');
export const rollbackSignal = defineSignal<[RollbackSignal]>('rollback');
export const approveSignal = defineSignal<[ApproveSignal]>('approve');
export const statusQuery = defineQuery<RolloutStatus>('status');

export const searchAttributeKeys = {
  version: defineSearchAttributeKey(SEARCH_ATTRIBUTES.version, 'KEYWORD'),
  env: defineSearchAttributeKey(SEARCH_ATTRIBUTES.env, 'KEYWORD'),
  lane: defineSearchAttributeKey(SEARCH_ATTRIBUTES.lane, 'KEYWORD'),
  stage: defineSearchAttributeKey(SEARCH_ATTRIBUTES.stage, 'KEYWORD'),
  percent: defineSearchAttributeKey(SEARCH_ATTRIBUTES.percent, 'INT'),
};

/** One rollout per lane: the id names the lane, so Temporal itself refuses a second one. */
export function rolloutWorkflowId(lane: Lane): string {
  return `${ROLLOUT_WORKFLOW_ID_PREFIX}-${laneName(lane)}`;
}
