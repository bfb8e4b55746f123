import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { ApplicationFailure } from '@temporalio/common';
import { PkgError } from '../policy/errors';
import { loadBundle } from '../policy/bundle/bundle';
import { unpackBundle } from '../policy/bundle/pack';
import { judgeStep, type StepVerdict } from '../policy/rollout/gates';
import {
  approvalStepIndexes,
  parseRolloutOverrides,
  rolloutConfigFor,
  type GateConfig,
  type RolloutConfig,
  type RolloutOverrides,
} from '../policy/rollout/config';
import { readLaneMetrics } from './lane-metrics';
import { readCoverage } from './lane';
import type { Lane } from '../policy/lane';

/**
 * Reads a step's measured numbers and judges them. Evaluators flush counts to Redis about once a
 * second, so the window closes now and the read waits `settleMs` for the last counts to land.
 */
export interface GateInput {
  lane: Lane;
  candidateVersion: string;
  baselineVersion: string | null;
  fromMs: number;
  step: number;
  stepCount: number;
  percent: number;
  gates: GateConfig;
}

export interface PlanInput {
  lane: Lane;
  /** Digest of the uploaded bundle in pkg_bundles. */
  digest: string;
  /** The command line's rollout layer. */
  overrides?: RolloutOverrides;
}

export interface RolloutPlan extends RolloutConfig {
  version: string;
  approvalSteps: number[];
}

/**
 * Reads the bundle's manifest before anything is compiled or stored, and merges its `rollout:`
 * layer: a bad bundle, a wrong env or a loosened gate is refused here, non-retryable, by type.
 */
async function planRollout(pool: Pool, input: PlanInput): Promise<RolloutPlan> {
  const { rows } = await pool.query<{ bytes: Buffer }>('SELECT bytes FROM pkg_bundles WHERE digest = $1', [
    input.digest,
  ]);
  try {
    if (!rows[0]) throw new PkgError('NotFound', `no uploaded bundle with digest ${input.digest}`);
    const { manifest } = loadBundle(unpackBundle(rows[0].bytes));
    if (manifest.env !== input.lane.env) {
      throw new PkgError(
        'InputInvalid',
        `manifest.yaml: env is ${manifest.env}, but the rollout targets ${input.lane.env}`,
      );
    }
    const commandLine = parseRolloutOverrides(input.overrides, 'command line');
    const config = rolloutConfigFor(input.lane.env, manifest.rollout ?? {}, commandLine);
    return { ...config, version: manifest.version, approvalSteps: approvalStepIndexes(config) };
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
    planRollout: (input: PlanInput) => planRollout(deps.pool, input),
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
