import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import { ROLLOUT_WORKFLOW_ID_PREFIX, SEARCH_ATTRIBUTES } from '../policy/constants';
import type { StepVerdict } from '../policy/rollout/gates';
import type { RolloutOverrides } from '../policy/rollout/config';
import type { RolloutStatus } from '../policy/rollout/status';

/** Shared by the promotion workflow, pkgctl and tests: names and payloads of its messages. */
export type Env = 'prod' | 'staging' | 'dev';

export interface LaneRef {
  env: Env;
  target: string;
  region: string;
}

export interface PromotionInput {
  /** sha256 of the packed bundle bytes in pkg_bundles. */
  digest: string;
  lane: LaneRef;
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

export const laneName = (lane: LaneRef): string => `${lane.env}/${lane.target}/${lane.region}`;

/** Lane target/region names: no '/', so `env/target/region` is unambiguous. */
export const LANE_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** One rollout per lane: the id names the lane, so Temporal itself refuses a second one. */
export function rolloutWorkflowId(lane: LaneRef): string {
  return `${ROLLOUT_WORKFLOW_ID_PREFIX}-${laneName(lane)}`;
}
