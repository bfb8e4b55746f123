import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import { ROLLOUT_WORKFLOW_ID_PREFIX, SEARCH_ATTRIBUTES } from '../policy/constants';
import type { StepVerdict } from '../policy/rollout/gates';
import type { RolloutOverrides } from '../policy/rollout/config';
import type { RolloutStatus } from '../policy/rollout/status';
import type { OperatorAction } from '../policy/rollout/operator-actions';
import { laneName, type Lane } from '../policy/lane';

/** Shared by the promotion workflow, pkgctl and tests: names and payloads of its messages. */
export interface PromotionInput {
  /** sha256 of the packed bundle bytes in pkg_bundles. */
  digest: string;
  lane: Lane;
  /** The command line's rollout layer (--steps, --bake); it may only tighten like the bundle's. */
  overrides?: RolloutOverrides;
  actor: string;
  /** Set by the control-plane API only: its record of the identity that started the rollout. */
  verification?: string;
}

export type PromotionOutcome = 'promoted' | 'rolled_back' | 'rejected';

export interface PromotionResult {
  outcome: PromotionOutcome;
  version: string | null;
  reason: string;
  verdicts: StepVerdict[];
  decisionId: string | null;
}

/** The payload of every operator action, by Update (validated) or signal (read defensively). */
export interface OperatorPayload {
  actor: string;
  reason?: string;
  /** Set by the control-plane API only: the id of its record of the identity it verified. */
  verification?: string;
}

/** The UI's path: a signal cannot be refused, so its handler records what it could not do. */
export const operatorSignals = {
  pause: defineSignal<[OperatorPayload]>('pause'),
  resume: defineSignal<[OperatorPayload]>('resume'),
  rollback: defineSignal<[OperatorPayload]>('rollback'),
  approve: defineSignal<[OperatorPayload]>('approve'),
} satisfies Record<OperatorAction, SignalDefinition<[OperatorPayload]>>;

/** pkgctl's path: the validator refuses a bad payload or an action the state does not allow, before history. */
export const operatorUpdates = {
  pause: defineUpdate<RolloutStatus, [OperatorPayload]>('pause'),
  resume: defineUpdate<RolloutStatus, [OperatorPayload]>('resume'),
  rollback: defineUpdate<RolloutStatus, [OperatorPayload]>('rollback'),
  approve: defineUpdate<RolloutStatus, [OperatorPayload]>('approve'),
} satisfies Record<OperatorAction, UpdateDefinition<RolloutStatus, [OperatorPayload]>>;

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
