import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { ApplicationFailure } from '@temporalio/common';
import { PkgError } from '../policy/errors';
import { judgeStep, type StepVerdict } from '../policy/gates';
import {
  approvalStepIndexes,
  parseRolloutOverrides,
  rolloutConfigFor,
  type GateConfig,
  type RolloutConfig,
  type RolloutOverrides,
} from '../policy/rollout-config';
import type { LaneRef } from '../workflows/definitions';
import { readLaneMetrics } from './lane-metrics';
import { readCoverage } from './lane';

/**
 * Reads a step's measured numbers and judges them. Evaluators flush counts to Redis about once a
 * second, so the window closes now and the read waits `settleMs` for the last counts to land.
 */
export interface GateInput {
  lane: LaneRef;
  candidateVersion: string;
  baselineVersion: string | null;
  fromMs: number;
  step: number;
  stepCount: number;
  percent: number;
  gates: GateConfig;
}

export interface PlanInput {
  lane: LaneRef;
  /** The env the bundle's manifest names; it must be the lane's. */
  bundleEnv: string;
  /** The manifest's raw `rollout:` block (validated here, not trusted). */
  bundleRollout: unknown;
  overrides?: RolloutOverrides;
}

export interface RolloutPlan extends RolloutConfig {
  approvalSteps: number[];
}

/** Merges the layers; a loosening or malformed layer is a non-retryable failure of its type. */
export function planRollout(input: PlanInput): RolloutPlan {
  try {
    if (input.bundleEnv !== input.lane.env) {
      throw new PkgError('InputInvalid', `bundle is for env ${input.bundleEnv}, not ${input.lane.env}`);
    }
    const bundle = parseRolloutOverrides(input.bundleRollout, 'manifest.yaml');
    const commandLine = parseRolloutOverrides(input.overrides, 'command line');
    const config = rolloutConfigFor(input.lane.env, bundle, commandLine);
    return { ...config, approvalSteps: approvalStepIndexes(config) };
  } catch (error) {
    if (!(error instanceof PkgError)) throw error;
    throw ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: true });
  }
}

export interface GateDeps {
  pool: Pool;
  redis: Redis;
  settleMs?: number;
  now?: () => number;
}

const DEFAULT_SETTLE_MS = 1500;

export function createGateActivities(deps: GateDeps) {
  const now = deps.now ?? Date.now;
  return {
    planRollout: async (input: PlanInput): Promise<RolloutPlan> => planRollout(input),
    async judgeLaneStep(input: GateInput): Promise<StepVerdict> {
      const toMs = now();
      await Context.current().sleep(deps.settleMs ?? DEFAULT_SETTLE_MS);
      const versions = { candidate: input.candidateVersion, baseline: input.baselineVersion };
      const metrics = await readLaneMetrics(deps.redis, input.lane, versions, { fromMs: input.fromMs, toMs });
      const coverage = await readCoverage(deps.pool, input.lane);
      return judgeStep({ ...input, ...metrics, coverage });
    },
  };
}
